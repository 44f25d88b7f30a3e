import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import type { DocumentStore, FindOptions } from '../../lib/store/document-store.js';

/**
 * Instrumentation around the real adapters for fault tests: nothing here replaces DynamoDB, S3
 * or the document store, it only watches them or slows them down.
 */

/** A document store that records every call and can slow down or stall its cursors. */
export class WatchedStore implements DocumentStore {
  readonly calls: Array<{ method: 'find' | 'aggregate'; collection: string; query: unknown }> = [];
  /** Delay before each document (ms); `'forever'` never yields one (a stuck cursor). */
  delay: number | 'forever' = 0;

  constructor(private readonly inner: DocumentStore) {}

  aggregate<T extends Document = Document>(collection: string, pipeline: readonly Document[]) {
    this.calls.push({ method: 'aggregate', collection, query: pipeline });
    return this.paced(this.inner.aggregate<T>(collection, pipeline));
  }

  find<T extends Document = Document>(collection: string, filter: Readonly<Document>, options?: FindOptions) {
    this.calls.push({ method: 'find', collection, query: filter });
    return this.paced(this.inner.find<T>(collection, filter, options));
  }

  estimatedCount(collection: string): Promise<number> {
    return this.inner.estimatedCount(collection);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async *paced<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    for await (const document of source) {
      if (this.delay === 'forever') await new Promise<never>(() => undefined);
      else if (this.delay > 0) await sleep(this.delay);
      yield document;
    }
  }
}

/**
 * The results bucket, recording which uploads were attempted and which completed, and able to
 * fail or stall one of them. Keys are recorded as their file names (`matches.csv`).
 */
export class WatchedBucket extends ResultsBucket {
  /** Every upload, as it starts. */
  readonly attempted: string[] = [];
  /** Every upload that completed. */
  readonly uploaded: string[] = [];
  /** Uploads to keys ending with this fail at once, as if S3 were down. */
  failOn?: string;
  /** Uploads to keys ending with this never finish (a stuck S3 request). */
  stallOn?: string;
  /** Runs as an upload to a key ending with `key` starts reading its body. */
  onBodyStart?: { key: string; run: () => Promise<void> };

  override async upload(key: string, chunks: Iterable<string> | AsyncIterable<string>, contentType: string) {
    const file = key.slice(key.lastIndexOf('/') + 1);
    this.attempted.push(file);
    if (this.failOn !== undefined && key.endsWith(this.failOn)) {
      throw new ServiceUnavailableError('S3 is unavailable (injected)');
    }
    if (this.stallOn !== undefined && key.endsWith(this.stallOn)) await new Promise<never>(() => undefined);
    const hook = this.onBodyStart;
    async function* hooked(): AsyncGenerator<string> {
      await hook?.run();
      yield* chunks;
    }
    await super.upload(key, hook !== undefined && key.endsWith(hook.key) ? hooked() : chunks, contentType);
    this.uploaded.push(file);
  }
}

/** Keys of every object under `prefix` in `bucket`. */
export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const { Contents = [] } = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return Contents.map((object) => object.Key ?? '').sort();
}
