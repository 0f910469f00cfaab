// Building one batch of transformed samples into a float32 buffer. Pure JS: run by the loader in
// the main thread (0 workers) and in its worker threads alike, so both give identical batches.
import { pipeline, SAMPLE, type Pipeline, type PipelineSpec } from './pipelines.js';
import { Rng, sampleRng } from './rng.js';

const unused = new Rng(0);

/** Transforms samples `indices` of `images` (N x 3072 bytes) into out (indices.length x 3072 floats). */
export function buildBatch(
  images: Uint8Array,
  indices: Int32Array,
  pipe: Pipeline,
  seed: number,
  epoch: number,
  channelsLast: boolean,
  out: Float32Array = new Float32Array(indices.length * SAMPLE),
): Float32Array {
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    // Each sample's randomness depends only on (seed, epoch, index): not on batch or worker.
    const rng = pipe.random ? sampleRng(seed, epoch, index) : unused;
    pipe.apply(images.subarray(index * SAMPLE, (index + 1) * SAMPLE), rng, out, i * SAMPLE, channelsLast);
  }
  return out;
}

/** What a loader worker starts with: the images (shared memory), its pipeline and the loader's seed. */
export interface WorkerSetup {
  images: Uint8Array;
  pipeline: PipelineSpec;
  seed: number;
}
/** A request to a worker for one batch: the samples and epoch, and optionally a spare buffer to fill (transferred). */
export interface BatchRequest {
  id: number;
  epoch: number;
  indices: Int32Array;
  channelsLast: boolean;
  buffer?: ArrayBuffer;
}
/** A worker's answer to a request of the same id: the batch's buffer (transferred), or the error it hit. */
export type BatchReply = { id: number; buffer: ArrayBuffer } | { id: number; error: string };

export { pipeline };
