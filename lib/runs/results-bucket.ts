import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsDependencyError, awsErrorName, toAppError } from '../aws/aws-errors.js';
import { s3Client } from '../aws/s3-client.js';
import { config } from '../config.js';
import { type ConcatPiece, type PlannedPart, planConcat } from './concat.js';
import type { OutputBucket, OutputChunk, OutputChunks } from './output-bucket.js';

export type { ConcatPiece } from './concat.js';

export { RUN_OUTPUTS_PREFIX, type RunOutputKeys, runOutputKeys } from './outputs.js';

/** S3's minimum part size: the smallest buffer that still streams large outputs as multipart. */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight at once: memory stays near 2 × part size however large the output is. */
export const UPLOAD_QUEUE_SIZE = 2;
/** Upper bound for presigned URL lifetimes (SPEC: short-lived, at most 15 minutes). */
export const MAX_PRESIGN_TTL_SECONDS = 900;
const MAX_KEYS_PER_DELETE = 1000;
/** Parts of one concatenation in flight at once: copies are quick server-side; uploads hold ≤ 10 MiB each. */
export const CONCAT_CONCURRENCY = 4;

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

  /** The whole object at `key`, or undefined when there is none (small objects: plans, manifests). */
  async read(key: string): Promise<Buffer | undefined> {
    try {
      const { Body } = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return Buffer.from((await Body?.transformToByteArray()) ?? []);
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchKey') return undefined;
      throw toAppError('S3', error);
    }
  }

  /**
   * Writes the concatenation of `pieces` (literal bytes, byte ranges of objects in this bucket) to
   * `key` (SSE-S3 encrypted) without reading the ranges through this process: one multipart upload
   * whose large ranges are copied inside S3 (UploadPartCopy); small pieces, and the head of a large
   * range that tops a pending part up to S3's 5 MiB minimum, are read and uploaded (lib/runs/concat.ts).
   * A result of one small part, or none, is a plain PutObject. On failure the multipart upload is
   * aborted (no object appears at `key`) before the error is thrown. Returns the planned parts.
   */
  async concat(
    key: string,
    pieces: Iterable<ConcatPiece>,
    contentType: string,
  ): Promise<readonly PlannedPart[]> {
    const parts = planConcat(pieces);
    const target = { Bucket: this.#bucket, Key: key };
    const only = parts.length === 1 && parts[0]?.kind === 'upload' ? parts[0] : undefined;
    if (parts.length === 0 || only !== undefined) {
      const body = only === undefined ? Buffer.alloc(0) : await this.#partBytes(only);
      try {
        await this.#client.send(
          new PutObjectCommand({
            ...target,
            Body: body,
            ContentType: contentType,
            ServerSideEncryption: 'AES256',
          }),
        );
      } catch (error) {
        throw toAppError('S3', error);
      }
      return parts;
    }
    let uploadId: string | undefined;
    try {
      ({ UploadId: uploadId } = await this.#client.send(
        new CreateMultipartUploadCommand({
          ...target,
          ContentType: contentType,
          ServerSideEncryption: 'AES256',
        }),
      ));
      const id = uploadId;
      if (id === undefined) throw new Error('S3 started a multipart upload without an upload id');
      const etags = new Array<string>(parts.length);
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < parts.length; index = next++) {
          etags[index] = await this.#sendPart(key, id, index + 1, parts[index] as PlannedPart);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCAT_CONCURRENCY, parts.length) }, worker));
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          ...target,
          UploadId: id,
          MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
        }),
      );
      return parts;
    } catch (error) {
      if (uploadId !== undefined) {
        // Best effort: an upload left behind is removed by the bucket's lifecycle rule.
        await this.#client
          .send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw toAppError('S3', error);
    }
  }

  /** Sends one planned part of a multipart upload; its ETag. */
  async #sendPart(key: string, uploadId: string, partNumber: number, part: PlannedPart): Promise<string> {
    const target = { Bucket: this.#bucket, Key: key, UploadId: uploadId, PartNumber: partNumber };
    if (part.kind === 'upload') {
      const body = await this.#partBytes(part);
      const { ETag } = await this.#client.send(new UploadPartCommand({ ...target, Body: body }));
      if (ETag === undefined) throw new Error(`S3 answered part ${partNumber} of ${key} without an ETag`);
      return ETag;
    }
    const { source } = part;
    const { CopyPartResult } = await this.#client.send(
      new UploadPartCopyCommand({
        ...target,
        CopySource: `${this.#bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
        CopySourceRange: `bytes=${source.start}-${source.end - 1}`,
      }),
    );
    const etag = CopyPartResult?.ETag;
    if (etag === undefined) throw new Error(`S3 answered part copy ${partNumber} of ${key} without an ETag`);
    return etag;
  }

  /** The bytes of an uploaded part: its literal segments, and its ranges read with ranged GETs. */
  async #partBytes(part: Extract<PlannedPart, { kind: 'upload' }>): Promise<Buffer> {
    const buffers = await Promise.all(
      part.segments.map(async (segment) => {
        if ('bytes' in segment) return segment.bytes;
        const length = segment.end - segment.start;
        const bytes = await this.readRange(segment.key, segment.start, length);
        if (bytes === undefined || bytes.length !== length) {
          throw new Error(
            `${segment.key} has ${bytes === undefined ? 'no object' : `${bytes.length} bytes`} where [${segment.start}, ${segment.end}) was expected`,
          );
        }
        return bytes;
      }),
    );
    return Buffer.concat(buffers, part.size);
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
