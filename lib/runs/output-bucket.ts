/**
 * What the matching job writes its outputs to: lib/runs/results-bucket.ts `ResultsBucket` in
 * production, instrumented buckets in tests. Kept free of SDK imports, so a function can name it
 * without loading the S3 client.
 */
export interface OutputBucket {
  /** Streams `chunks` to `key`; resolves once the object is complete and visible. */
  upload(key: string, chunks: Iterable<string> | AsyncIterable<string>, contentType: string): Promise<void>;
  /** Deletes `keys` (missing ones are not an error). */
  remove(keys: readonly string[]): Promise<void>;
}

/**
 * An {@link OutputBucket} that obtains the real one at each call, from `open`. The workers use it
 * so that the S3 client (about 20 ms of a cold start on top of the DynamoDB client) loads when a
 * run first writes, not at initialisation: see the README, "Cold starts".
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
