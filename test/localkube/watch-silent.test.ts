// localkube's watchSilent fault, a half-dead watch connection: open watches and new ones stay open and
// bring nothing (no events, no bookmarks, no end); once cleared, new watches work and the silenced ones
// stay silent until their client hangs up.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { podSpec, setup, sleep, watchEvents, type Env, type WatchEvent } from "./helpers.ts";

const PODS = "/api/v1/namespaces/default/pods";
const added = (evs: WatchEvent[], name: string) => evs.some((e) => e.type === "ADDED" && e.obj?.metadata?.name === name);

describe("localkube fault: watchSilent", { timeout: 60_000 }, () => {
  let env: Env;
  before(async () => {
    env = await setup({ instant: true });
  });
  after(async () => {
    env.lk.faults.set({});
    await env?.close();
  });

  it("silences open and new watches, and leaves watches after it is cleared alone", async () => {
    const query = { labelSelector: "app=test", allowWatchBookmarks: true };
    let openEnded = false;
    const open = watchEvents(env.kc, PODS, query, (evs) => added(evs, "never"));
    void open.ended.then(() => (openEnded = true), () => {});
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("heard", ["true"]) });
    for (let i = 0; i < 100 && !added(open.evs, "heard"); i++) await sleep(50);
    assert.ok(added(open.evs, "heard"), "a healthy watch brings the Pod");

    env.lk.faults.set({ watchSilent: true });
    const heardBefore = open.evs.length;
    const fresh = watchEvents(env.kc, PODS, query, (evs) => evs.length > 0);
    void fresh.ended.catch(() => {});
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("unheard", ["true"]) });
    await sleep(1500);
    assert.equal(open.evs.length, heardBefore, "the open watch brings nothing more");
    assert.deepEqual(fresh.evs, [], "a new watch brings nothing, not even the Pods that exist");
    assert.equal(openEnded, false, "and the stream does not end");

    env.lk.faults.set({});
    const after = watchEvents(env.kc, PODS, query, (evs) => added(evs, "unheard"), 10_000);
    assert.equal((await after.ended).by, "until", "a watch started after the fault is cleared works");
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("still-unheard", ["true"]) });
    await sleep(500);
    assert.equal(open.evs.length, heardBefore, "a silenced watch stays silent");
  });
});
