// The one place that asks a Pod for "its log from byte N on": the log route serves what the store
// holds first and then this remainder. Today the Pod's log is read from its start and the first N bytes
// are skipped, which is exact only while the kubelet has not rotated the container's log file; the
// planned replacement resumes by time (sinceTime with timestamps=true) and keeps this signature.
import { Writable } from "node:stream";
import { kubeFailure, openPodLog, type Kube } from "../executor/kube.ts";
import { CONTAINER_NAME } from "../executor/pod-spec.ts";
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
  tr: Pick<TryLogInfo, "namespace" | "podName">,
  fromByte: number,
  sink: LiveSink,
  opts: { follow: boolean },
): Promise<LiveRemainder> {
  let seen = 0;
  let sinkFailed = false;
  let abort: () => void = () => {};
  const skipper = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const skip = Math.max(0, fromByte - seen);
      seen += chunk.length;
      if (skip >= chunk.length) return callback();
      sink(skip === 0 ? chunk : chunk.subarray(skip)).then(
        () => callback(),
        (err: Error) => {
          sinkFailed = true;
          abort();
          callback(err);
        },
      );
    },
  });
  // The sink's failure is answered by aborting the Pod's stream; the error itself has been seen.
  skipper.on("error", () => {});
  try {
    const stream = await openPodLog(kube, tr.namespace, tr.podName, CONTAINER_NAME, skipper, { follow: opts.follow });
    abort = stream.abort;
    if (sinkFailed) stream.abort(); // the sink gave up before the request had fully opened
    return { kind: "streaming", abort: stream.abort, done: stream.done };
  } catch (err) {
    const f = kubeFailure(err);
    // client-node turns the kubelet's 400 "waiting to start" and an unscheduled Pod's 204 into errors.
    const why = f.code === 404 ? "gone" : f.code === 400 || f.code === 204 ? "not_started" : "failed";
    return { kind: "unavailable", why, message: f.message };
  }
}
