import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsDependencyError, awsErrorName, toAppError } from '../aws/aws-errors.js';
import { s3Client } from '../aws/s3-client.js';
import { config } from '../config.js';
import type { OutputBucket, OutputChunk, OutputChunks } from './output-bucket.js';

export { RUN_OUTPUTS_PREFIX, type RunOutputKeys, runOutputKeys } from './outputs.js';

/** S3's minimum part size: the smallest buffer that still streams large outputs as multipart. */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight at once: memory stays near 2 × part size however large the output is. */
export const UPLOAD_QUEUE_SIZE = 2;
/** Upper bound for presigned URL lifetimes (SPEC: short-lived, at most 15 minutes). */
export const MAX_PRESIGN_TTL_SECONDS = 900;
const MAX_KEYS_PER_DELETE = 1000;

/**
 * The chunks as buffers: text as UTF-8, bytes as they are. Only errors thrown by the caller's
 * iterable are reported to `onSourceError`: errors the stream machinery injects at `yield` when
 * the upload is torn down are S3-side and must not be mistaken for a failure of the source.
 */
async function* bytes(
  chunks: OutputChunks,
  onSourceError: (error: unknown) => void,
): AsyncGenerator<Uint8Array> {
  const iterator: Iterator<OutputChunk> | AsyncIterator<OutputChunk> =
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<OutputChunk>;
      try {
        step = await iterator.next();
      } catch (error) {
        finished = true;
        onSourceError(error);
        throw error;
      }
      if (step.done) {
        finished = true;
        return;
      }
      const chunk = step.value;
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    }
  } finally {
    // Stopped early (the upload failed): let the source release what it holds.
    if (!finished) await iterator.return?.();
  }
}

/**
 * The private results bucket. Objects are written with streaming multipart uploads, so an output
 * never has to exist as one string in memory, and appear atomically: a failed upload is aborted
 * and leaves no object at its key.
 *
 * Errors: S3 unreachable or throttling → ServiceUnavailableError; other S3 errors →
 * AwsDependencyError; an error thrown by the chunk source is rethrown unchanged.
 *
 * @example
 * ```ts
 * const bucket = new ResultsBucket();
 * const keys = runOutputKeys(runId);
 * await bucket.upload(keys.matchesCsv, matchesCsvChunks(outcome), 'text/csv; charset=utf-8');
 * const url = await bucket.presign(keys.matchesCsv, 300);
 * ```
 */
export class ResultsBucket implements OutputBucket {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(client?: S3Client, bucket?: string) {
    this.#client = client ?? s3Client();
    this.#bucket = bucket ?? config().RESULTS_BUCKET;
  }

  /** The bucket name, for logs and presigned-URL checks. */
  get bucket(): string {
    return this.#bucket;
  }

  /**
   * Streams `chunks` to `key` (SSE-S3 encrypted). Resolves once the object is complete and
   * visible; on failure the multipart upload is aborted before the error is thrown.
   */
  async upload(key: string, chunks: OutputChunks, contentType: string): Promise<void> {
    let sourceError: { error: unknown } | undefined;
    const body = Readable.from(
      bytes(chunks, (error) => {
        sourceError = { error };
      }),
    );
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ServerSideEncryption: 'AES256',
      },
      partSize: UPLOAD_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      if (sourceError) throw sourceError.error;
      throw toAppError('S3', error);
    } finally {
      body.destroy();
    }
  }

  /**
   * A presigned GET URL for `key`, valid for `ttlSeconds` (1..900) from `signedAt` (default now;
   * tests sign in the past to get an expired URL without waiting). The URL is a bearer
   * credential: hand it to the client, never log it.
   */
  async presign(key: string, ttlSeconds: number, signedAt?: Date): Promise<string> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_PRESIGN_TTL_SECONDS) {
      throw new RangeError(
        `presigned URL lifetime must be 1..${MAX_PRESIGN_TTL_SECONDS} s, got ${ttlSeconds}`,
      );
    }
    try {
      return await getSignedUrl(this.#client, new GetObjectCommand({ Bucket: this.#bucket, Key: key }), {
        expiresIn: ttlSeconds,
        ...(signedAt === undefined ? {} : { signingDate: signedAt }),
      });
    } catch (error) {
      throw toAppError('S3', error);
    }
  }

  /**
   * Bytes `[start, start + length)` of the object at `key` (fewer past its end) with one ranged
   * GET, or undefined when there is no object (`RangeReader`, lib/runs/partition-lookup.ts).
   */
  async readRange(key: string, start: number, length: number): Promise<Buffer | undefined> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`invalid byte range: ${length} bytes from ${start}`);
    }
    const range = `bytes=${start}-${start + length - 1}`;
    let answer: { bytes: Buffer; contentRange: string | undefined };
    try {
      const { Body, ContentRange } = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: range }),
      );
      answer = { bytes: Buffer.from((await Body?.transformToByteArray()) ?? []), contentRange: ContentRange };
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchKey') return undefined;
      throw toAppError('S3', error);
    }
    // A server may answer with more than was asked (s3rver reads `bytes=0-0` as the whole object),
    // or ignore the range (200, whole object): the answer must at least start where asked.
    const first = /^bytes (\d+)-/.exec(answer.contentRange ?? '')?.[1];
    if ((first === undefined && start !== 0) || (first !== undefined && Number(first) !== start)) {
      throw new Error(`S3 answered ${answer.contentRange ?? 'with the whole object'} to ${range}`);
    }
    return answer.bytes.subarray(0, length);
  }

  /** True when an object exists at `key`. */
  async exists(key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return true;
    } catch (error) {
      const name = awsErrorName(error);
      if (name === 'NotFound' || name === 'NoSuchKey') return false;
      throw toAppError('S3', error);
    }
  }

  /** Deletes `keys` (up to 1000 per request); keys with no object are not an error. */
  async remove(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += MAX_KEYS_PER_DELETE) {
      const batch = keys.slice(start, start + MAX_KEYS_PER_DELETE);
      let failed: string | undefined;
      try {
        const { Errors } = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        if (Errors && Errors.length > 0) failed = Errors[0]?.Code ?? 'DeleteObjectsError';
      } catch (error) {
        throw toAppError('S3', error);
      }
      if (failed !== undefined) throw new AwsDependencyError('S3', failed);
    }
  }
}
