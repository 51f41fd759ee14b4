// The real kubectl against localkube: discovery and version, get (-o wide), describe with Events,
// logs (--timestamps), delete, and create -f / apply -f of a Pod manifest (twice) with kubectl's
// default client-side validation, i.e. without --validate=false.
// Without kubectl on PATH the tests are skipped, unless FERRY_REQUIRE_KUBECTL=1 makes that a failure.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";

function findOnPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    if (!d) continue;
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return join(d, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}

const KUBECTL = findOnPath("kubectl");
const REQUIRED = process.env.FERRY_REQUIRE_KUBECTL === "1";

/** Skips the test without kubectl; fails it instead when FERRY_REQUIRE_KUBECTL=1. Returns true to go on. */
function needKubectl(t: TestContext): boolean {
  if (KUBECTL) return true;
  if (REQUIRED) throw new Error("kubectl is not on PATH, and FERRY_REQUIRE_KUBECTL=1 requires it: install kubectl or unset FERRY_REQUIRE_KUBECTL");
  t.skip("kubectl not installed");
  return false;
}

let lk: LocalKube | undefined;
let dir: string;
let kubeconfig: string;

/** Runs kubectl asynchronously (the API server lives in this very process, so never spawnSync). */
function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(KUBECTL!, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, "cache")}`, ...args], { timeout: 30_000, env: { ...process.env, KUBECONFIG: kubeconfig } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const manifest = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: kubectl-test
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: alpine:3.20
    command: ["sh", "-c", "echo hello from ${name}; exec sleep 30"]
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "localkube-kubectl-"));
  if (!KUBECTL) return;
  lk = await startLocalKube({ dataDir: dir, workerImage: "ferry/worker:test", workerCommand: [process.execPath, "-e", "0"] });
  kubeconfig = join(dir, "kubeconfig");
  await lk.writeKubeconfig(kubeconfig);
  await writeFile(join(dir, "created.yaml"), manifest("kc-created"));
  await writeFile(join(dir, "applied.yaml"), manifest("kc-applied"));
});
after(async () => {
  await lk?.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitRunning(name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if ((await ok("get", "pod", name, "-o", "jsonpath={.status.phase}")) === "Running") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} never ran`);
}

describe("kubectl", () => {
  it("version reports localkube's server version", async (t) => {
    if (!needKubectl(t)) return;
    const v = JSON.parse(await ok("version", "-o", "json"));
    assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+-localkube$/);
  });

  it("auth can-i asks a SelfSubjectAccessReview, which localkube always allows", async (t) => {
    if (!needKubectl(t)) return;
    assert.equal((await ok("auth", "can-i", "get", "pods", "--subresource=log", "-n", "default")).trim(), "yes");
  });

  it("create -f works with client-side validation on; a second create is AlreadyExists", async (t) => {
    if (!needKubectl(t)) return;
    assert.equal((await ok("create", "-f", join(dir, "created.yaml"))).trim(), "pod/kc-created created");
    const again = await kubectl("create", "-f", join(dir, "created.yaml"));
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /AlreadyExists|already exists/);
  });

  it("apply -f creates, then finds nothing to change", async (t) => {
    if (!needKubectl(t)) return;
    assert.equal((await ok("apply", "-f", join(dir, "applied.yaml"))).trim(), "pod/kc-applied created");
    assert.equal((await ok("apply", "-f", join(dir, "applied.yaml"))).trim(), "pod/kc-applied unchanged");
    assert.ok((await ok("get", "pod", "kc-applied", "-o", "json")).includes("kubectl.kubernetes.io/last-applied-configuration"));
  });

  it("create -f rejects unknown fields (kubectl sends fieldValidation=Strict)", async (t) => {
    if (!needKubectl(t)) return;
    await writeFile(join(dir, "bad.yaml"), manifest("kc-bad").replace("restartPolicy: Never", "restartPolicy: Never\n  colour: red"));
    const r = await kubectl("create", "-f", join(dir, "bad.yaml"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strict decoding error: unknown field "spec.colour"/);
  });

  it("get and get -o wide", async (t) => {
    if (!needKubectl(t)) return;
    await waitRunning("kc-created");
    const out = await ok("get", "pods");
    assert.match(out, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.match(out, /\nkc-created\s+1\/1\s+Running\s+0\s+\d+s\n/);
    const wide = await ok("get", "pods", "-o", "wide", "-l", "app=kubectl-test");
    assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
    assert.match(wide, /\nkc-created\s+1\/1\s+Running\s+0\s+\S+\s+127\.0\.0\.1\s+localkube\s+<none>\s+<none>\n/);
  });

  it("describe pod tells the story through Events", async (t) => {
    if (!needKubectl(t)) return;
    await waitRunning("kc-created");
    const out = await ok("describe", "pod", "kc-created");
    assert.match(out, /^Node:\s+localkube\/127\.0\.0\.1$/m);
    assert.match(out, /^Status:\s+Running$/m);
    const events = out.slice(out.indexOf("\nEvents:"));
    assert.match(events, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/kc-created to localkube/);
    for (const r of ["Pulled", "Created", "Started"]) assert.match(events, new RegExp(`Normal\\s+${r}\\s+\\S+\\s+kubelet\\s+`));
    const order = ["Scheduled", "Pulled", "Created", "Started"].map((r) => events.indexOf(` ${r} `));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
  });

  it("logs and logs --timestamps", async (t) => {
    if (!needKubectl(t)) return;
    await waitRunning("kc-created");
    assert.equal(await ok("logs", "kc-created"), "hello from kc-created\n");
    assert.match(await ok("logs", "kc-created", "--timestamps"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello from kc-created\n$/);
  });

  it("get -w streams the changes of a pod, and logs -f follows it to its end", async (t) => {
    if (!needKubectl(t)) return;
    // The pod waits for a gate file, so the test decides when it finishes: after the watch is open.
    const gate = join(dir, "gate");
    await writeFile(
      join(dir, "gated.yaml"),
      manifest("kc-gated").replace(
        '"echo hello from kc-gated; exec sleep 30"',
        `"echo waiting; while [ ! -f ${gate} ]; do sleep 0.1; done; echo released"`,
      ),
    );
    await ok("create", "-f", join(dir, "gated.yaml"));
    await waitRunning("kc-gated");
    const watch = spawn(KUBECTL!, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, "cache")}`, "get", "pod", "kc-gated", "-w", "--output-watch-events"]);
    let watched = "";
    watch.stdout.on("data", (c) => (watched += c));
    const follow = kubectl("logs", "-f", "kc-gated");
    try {
      const deadline = Date.now() + 20_000;
      while (!/ADDED\s+kc-gated/.test(watched) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(watched, /ADDED\s+kc-gated\s+1\/1\s+Running/);
      await writeFile(gate, "");
      assert.deepEqual(await follow, { code: 0, stdout: "waiting\nreleased\n", stderr: "" }, "logs -f ends when the container ends");
      while (!/MODIFIED\s+kc-gated.*Completed/.test(watched) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(watched, /MODIFIED\s+kc-gated\s+0\/1\s+Completed/);
    } finally {
      watch.kill();
    }
  });

  it("delete removes the pods (Killing shows in the events until then)", async (t) => {
    if (!needKubectl(t)) return;
    const out = await ok("delete", "pod", "kc-created", "kc-applied");
    assert.match(out, /pod "kc-created" deleted/);
    assert.match(out, /pod "kc-applied" deleted/);
    const r = await kubectl("get", "pod", "kc-created");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound|not found/);
  });
});
