// What the kubelet refuses before it starts a container (a bad image name, an absent image with
// imagePullPolicy Never, a security context it cannot honour), and the deadline fault.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { isValidImageReference } from "../../localkube/container-checks.ts";
import { podSpec, setup, sleep, terminated, waitForGone, waitForPod, type Env } from "./helpers.ts";

describe("isValidImageReference", () => {
  it("accepts what a container runtime parses", () => {
    for (const ok of ["busybox", "alpine:3.20", "library/node:20-slim", "ghcr.io/ferry-dev/ferry:0.1.0", "localhost:5000/app", "registry.example:443/a/b_c/d-e:v1.2", `app@sha256:${"a".repeat(64)}`]) {
      assert.equal(isValidImageReference(ok), true, ok);
    }
  });

  it("refuses what it cannot parse", () => {
    for (const bad of ["Busy Box:1", "BusyBox", "app:", "app:-tag", ":tag", "a//b", "app@sha256:xyz", "app name", "-app"]) {
      assert.equal(isValidImageReference(bad), false, bad);
    }
  });
});

describe("localkube: containers the kubelet refuses to start", { timeout: 60_000 }, () => {
  let env: Env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env?.close();
  });
  const waitingOf = (name: string) => waitForPod(env.core, name, (p) => !!p.status?.containerStatuses?.[0]?.state?.waiting?.reason?.match(/^(InvalidImageName|ErrImageNeverPull|CreateContainerConfigError)$/));

  it("InvalidImageName for an image reference that does not parse; the Pod stays Pending", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("badname", ["true"], {}, "Not An Image") });
    const p = await waitingOf("badname");
    const waiting = p.status!.containerStatuses![0]!.state!.waiting!;
    assert.equal(waiting.reason, "InvalidImageName");
    assert.equal(waiting.message, 'Failed to apply default image tag "Not An Image": couldn\'t parse image reference "Not An Image": invalid reference format');
    await sleep(300);
    const still = await env.core.readNamespacedPod({ name: "badname", namespace: "default" });
    assert.equal(still.status?.phase, "Pending");
    await env.core.deleteNamespacedPod({ name: "badname", namespace: "default", gracePeriodSeconds: 0 });
    await waitForGone(env.core, "badname");
  });

  it("ErrImageNeverPull for an image the node does not have with imagePullPolicy Never", async () => {
    env.lk.faults.set({ imagePullFailures: ["registry.invalid/*"] });
    try {
      const body = podSpec("neverpull", ["true"], {}, "registry.invalid/app:1");
      body.spec!.containers[0]!.imagePullPolicy = "Never";
      await env.core.createNamespacedPod({ namespace: "default", body });
      const p = await waitingOf("neverpull");
      const waiting = p.status!.containerStatuses![0]!.state!.waiting!;
      assert.deepEqual([waiting.reason, waiting.message], ["ErrImageNeverPull", 'Container image "registry.invalid/app:1" is not present with pull policy of Never']);
      // An image the node has runs with Never.
      const present = podSpec("present", ["true"], {}, "busybox");
      present.spec!.containers[0]!.imagePullPolicy = "Never";
      await env.core.createNamespacedPod({ namespace: "default", body: present });
      await waitForPod(env.core, "present", (x) => terminated(x)?.exitCode === 0);
    } finally {
      env.lk.faults.set({});
    }
  });

  it("CreateContainerConfigError for runAsNonRoot with runAsUser 0", async () => {
    const body = podSpec("rootuser", ["true"], { securityContext: { runAsNonRoot: true } });
    body.spec!.containers[0]!.securityContext = { runAsUser: 0 };
    const created = await env.core.createNamespacedPod({ namespace: "default", body });
    const p = await waitingOf("rootuser");
    const waiting = p.status!.containerStatuses![0]!.state!.waiting!;
    assert.equal(waiting.reason, "CreateContainerConfigError");
    assert.equal(waiting.message, `container's runAsUser breaks non-root policy (pod: "rootuser_default(${created.metadata!.uid})", container: main)`);
  });

  it("deadlinesIgnored: a container runs on past its activeDeadlineSeconds", async () => {
    env.lk.faults.set({ deadlinesIgnored: true });
    try {
      await env.core.createNamespacedPod({ namespace: "default", body: podSpec("overdue", ["sh", "-c", "sleep 3; echo done"], { activeDeadlineSeconds: 1 }) });
      const p = await waitForPod(env.core, "overdue", (x) => x.status?.phase === "Succeeded" || x.status?.phase === "Failed");
      assert.equal(p.status?.phase, "Succeeded");
    } finally {
      env.lk.faults.set({});
    }
  });
});
