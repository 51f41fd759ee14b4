// Opens a Pod's log from a given byte of the container's output on, through the timestamp checkpoints
// of pod-log-resume.ts: the log copy (log-shipper.ts) and the API's live reads both go through here,
// so both stay exact across kubelet log rotation.
import { Writable } from "node:stream";
import { openPodLog, type Kube, type PodLogStream } from "./kube.ts";
import { TASK_CONTAINER_NAME } from "../lib/pod-contract.ts";
import { CheckpointTrail, sinceTimeFor, TimestampedLogDecoder, type LogCheckpoint, type LogGap } from "./pod-log-resume.ts";

/** Takes the next bytes of the container's output; resolving means "send more" (backpressure). */
export type LogBytesSink = (bytes: Buffer) => Promise<void>;

export interface PodLogFromStream extends PodLogStream {
  /** Set when lines between the checkpoint and the first one served had been rotated away. */
  gap(): LogGap | null;
  /** The byte of the container's output the stream has reached. */
  position(): number;
}

/**
 * Streams the Pod's log from byte `from` into `sink`. `trail` holds the checkpoints known so far (from
 * Postgres and earlier reads); the one at or before `from` is where the read resumes, and the stamps
 * seen on the way are added to it. Throws the client's error when the Pod cannot serve its log.
 */
export async function openPodLogFrom(
  kube: Kube,
  pod: { namespace: string; podName: string },
  from: number,
  trail: CheckpointTrail,
  sink: LogBytesSink,
  opts: { follow: boolean },
): Promise<PodLogFromStream> {
  const checkpoint: LogCheckpoint | null = trail.at(from);
  const decoder = new TimestampedLogDecoder(checkpoint, from, trail);
  let abort: () => void = () => {};
  let failed = false;
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let parts: Buffer[];
      try {
        parts = decoder.push(chunk);
      } catch (err) {
        failed = true;
        abort();
        return callback(err as Error);
      }
      const next = (i: number): void => {
        if (i >= parts.length) return callback();
        sink(parts[i]).then(
          () => next(i + 1),
          (err: Error) => {
            failed = true;
            abort();
            callback(err);
          },
        );
      };
      next(0);
    },
  });
  // A failure here is answered by aborting the Pod's stream (reported as "broken"); it has been seen.
  writable.on("error", () => {});
  const stream = await openPodLog(kube, pod.namespace, pod.podName, TASK_CONTAINER_NAME, writable, {
    follow: opts.follow,
    timestamps: true,
    sinceTime: checkpoint ? sinceTimeFor(checkpoint) : undefined,
  });
  abort = stream.abort;
  if (failed) stream.abort();
  return { ...stream, gap: () => decoder.gap, position: () => decoder.position };
}
