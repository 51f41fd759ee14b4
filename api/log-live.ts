// The one place that asks a Pod for "its log from byte N on": the log route serves what the store
// holds first and then this remainder. It resumes by time, from the try's log checkpoint (sinceTime with
// timestamps=true, see executor/pod-log-resume.ts), so it stays exact after the kubelet rotated the
// container's log file, exactly as the executor's own copy does.
import { kubeFailure, type Kube } from "../executor/kube.ts";
import { CheckpointTrail } from "../executor/pod-log-resume.ts";
import { openPodLogFrom } from "../executor/pod-log-reader.ts";
import type { TryLogInfo } from "../executor/tries.repository.ts";

/** Takes the next bytes of the log; resolving means "send more" (backpressure reaches the Pod's stream). */
export type LiveSink = (bytes: Buffer) => Promise<void>;

export type LiveRemainder =
  | {
      kind: "streaming";
      abort(): void;
      /** "ended": the Pod's stream ended (with follow: the container is no longer running); "broken": cut or aborted. */
      done: Promise<"ended" | "broken">;
    }
  | {
      kind: "unavailable";
      /** gone: no such Pod any more; not_started: its container has not started; failed: anything else. */
      why: "gone" | "not_started" | "failed";
      message: string;
    };

/**
 * Streams the try's Pod log from byte `fromByte` of the container's output into `sink`. With
 * `follow` it goes on while the container runs. A sink that rejects aborts the stream.
 */
export async function openLiveRemainder(
  kube: Kube,
  tr: Pick<TryLogInfo, "namespace" | "podName" | "logCheckpoint">,
  fromByte: number,
  sink: LiveSink,
  opts: { follow: boolean },
): Promise<LiveRemainder> {
  // A checkpoint past fromByte cannot cover it (the store was read before the checkpoint moved on):
  // then the log is read from its start, which is exact as long as nothing was rotated away.
  const start = tr.logCheckpoint && tr.logCheckpoint.offset <= fromByte ? tr.logCheckpoint : null;
  try {
    const stream = await openPodLogFrom(kube, tr, fromByte, new CheckpointTrail(start), sink, opts);
    return { kind: "streaming", abort: stream.abort, done: stream.done };
  } catch (err) {
    const f = kubeFailure(err);
    // client-node turns the kubelet's 400 "waiting to start" and an unscheduled Pod's 204 into errors.
    const why = f.code === 404 ? "gone" : f.code === 400 || f.code === 204 ? "not_started" : "failed";
    return { kind: "unavailable", why, message: f.message };
  }
}
