import type { JobLogger } from './job-outcome.js';
import type { AnyRunOutputKeys } from './outputs.js';

/** One piece of an output: text (written as UTF-8) or bytes (the workbook). */
export type OutputChunk = string | Uint8Array;

/** An output, chunk by chunk, as an upload streams it. */
export type OutputChunks = Iterable<OutputChunk> | AsyncIterable<OutputChunk>;

/**
 * What the matching job writes its outputs to: lib/runs/results-bucket.ts `ResultsBucket` in
 * production, instrumented buckets in tests. Kept free of SDK imports, so a function can name it
 * without loading the S3 client.
 */
export interface OutputBucket {
  /** Streams `chunks` to `key`; resolves once the object is complete and visible. */
  upload(key: string, chunks: OutputChunks, contentType: string): Promise<void>;
  /** Deletes `keys` (missing ones are not an error). */
  remove(keys: readonly string[]): Promise<void>;
}

/**
 * An {@link OutputBucket} that obtains the real one at each call, from `open`. The workers use it
 * so that the S3 client (about 20 ms of a cold start on top of the DynamoDB client) loads when a
 * run first writes, not at initialisation: see docs/decisions.md, "Cold starts".
 *
 * @example
 * ```ts
 * const bucket = lazyOutputBucket(async () => new (await import('./results-bucket.js')).ResultsBucket());
 * ```
 */
export function lazyOutputBucket(open: () => Promise<OutputBucket>): OutputBucket {
  return {
    upload: async (key, chunks, contentType) => (await open()).upload(key, chunks, contentType),
    remove: async (keys) => (await open()).remove(keys),
  };
}

/**
 * Deletes a run's outputs, best effort: a leftover object is harmless once the run is failed
 * (outputs are only linked for succeeded runs), so a failure to delete is logged, not thrown.
 */
export async function discardOutputs(
  bucket: OutputBucket,
  keys: AnyRunOutputKeys,
  log: JobLogger,
  runId: string,
): Promise<void> {
  try {
    await bucket.remove(Object.values(keys).filter((key) => key !== undefined));
  } catch (error) {
    log.warn('could not delete partial outputs of a failed run', { runId, error });
  }
}
