import type { AbstractCursor, Document, MongoClient } from 'mongodb';
import type { DocumentStore, FindOptions } from './document-store.js';
import { SIMPLE_COLLATION } from './indexes.js';
import { toStoreError } from './mongo-errors.js';

/**
 * Documents fetched per round trip by `find`. The matcher streams whole collections in
 * `(date, id)` order; larger batches mean fewer round trips at a bounded memory cost.
 */
export const DEFAULT_FIND_BATCH_SIZE = 1000;

/**
 * How documents are decoded: every int64 stays a Long (`promoteLongs: false`; int32 and double
 * still become numbers). The driver's default makes a number of an int64 within ±2^53, bounds
 * included, so 2^53 came out as a number and was accepted as a payment id, while the same value
 * from a file (a Long that is no safe integer) was rejected. 2^53 is where doubles stop telling
 * integers apart (2^53 + 1 written as JSON text is parsed as 2^53), so an id there may stand for
 * another. As a Long, the matcher applies the files' rule: an int64 id or partition value must
 * be a safe integer (|v| ≤ 2^53 − 1), or its record is rejected, never matched under a value it
 * may share with another id.
 */
const DECODING = { promoteLongs: false } as const;

/**
 * A {@link DocumentStore} backed by MongoDB through the official driver. Results stream from
 * server cursors; nothing is loaded whole. Unreachable-database errors surface as
 * `ServiceUnavailableError` (lib/store/mongo-errors.ts).
 *
 * The store owns `client`: `close()` closes it (twice is safe).
 *
 * Every query runs with the simple collation ({@link SIMPLE_COLLATION}), whatever the collection's
 * default, and hands int64 values out as Long ({@link DECODING}).
 *
 * Aggregations run with `allowDiskUse: false`: our pipelines compute per document and sort on
 * indexed fields, so a stage that would need to spill to disk is a pipeline bug and should fail
 * loudly instead of running slowly.
 *
 * Filters and pipelines are built by our code. Values inside them may come from users: callers
 * must validate those values (the HTTP layer does, with zod) so that an operator object cannot
 * arrive where a scalar was meant.
 *
 * @example
 * ```ts
 * const store = new MongoDocumentStore(new MongoClient(uri), 'billing');
 * for await (const account of store.aggregate('Account', pipeline)) { ... }
 * ```
 */
export class MongoDocumentStore implements DocumentStore {
  private closed = false;

  constructor(
    private readonly client: MongoClient,
    private readonly dbName: string,
  ) {}

  aggregate<T extends Document = Document>(
    collection: string,
    pipeline: readonly Document[],
  ): AsyncIterable<T> {
    return this.stream<T>(() =>
      this.client
        .db(this.dbName)
        .collection(collection)
        .aggregate([...pipeline], { allowDiskUse: false, collation: { ...SIMPLE_COLLATION }, ...DECODING }),
    );
  }

  /** Streams through {@link BufferedCursor}: a promise per batch, not per document. */
  find<T extends Document = Document>(
    collection: string,
    filter: Readonly<Document>,
    options: FindOptions = {},
  ): AsyncIterable<T> {
    return new BufferedCursor<T>(() => {
      if (this.closed) throw new Error('MongoDocumentStore is closed');
      return this.client
        .db(this.dbName)
        .collection(collection)
        .find<T>(filter, {
          ...(options.sort ? { sort: { ...options.sort } } : {}),
          ...(options.projection ? { projection: { ...options.projection } } : {}),
          batchSize: options.batchSize ?? DEFAULT_FIND_BATCH_SIZE,
          collation: { ...SIMPLE_COLLATION },
          ...DECODING,
        });
    });
  }

  async estimatedCount(collection: string): Promise<number> {
    if (this.closed) throw new Error('MongoDocumentStore is closed');
    try {
      return await this.client.db(this.dbName).collection(collection).estimatedDocumentCount();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private async *stream<T>(open: () => AbstractCursor<Document>): AsyncGenerator<T> {
    if (this.closed) throw new Error('MongoDocumentStore is closed');
    const cursor = open();
    try {
      for await (const document of cursor) yield document as T;
    } catch (error) {
      throw toStoreError(error);
    } finally {
      // Runs on early `break` too: frees the server-side cursor at once instead of on timeout.
      await cursor.close().catch(() => undefined);
    }
  }
}

/** What {@link BufferedCursor} needs of a driver cursor (`FindCursor` has it). */
export interface BatchedCursor<T> {
  /** Whether a document is buffered or, after fetching the next batch, available. */
  hasNext(): Promise<boolean>;
  /** Takes every buffered document, without waiting. */
  readBufferedDocuments(): T[];
  close(): Promise<void>;
}

const END: IteratorResult<never> = { done: true, value: undefined };

/**
 * Iterates a cursor's documents, answering synchronously while a fetched batch lasts: `next()`
 * returns a plain result for a buffered document and a promise only when the next batch has to
 * be fetched. `for await` accepts both; the matcher (lib/matching/record-stream.ts) then pays one
 * promise per batch instead of two per document (the driver's async generator, then ours).
 * The cursor is opened on the first `next()` and closed when it is exhausted, fails or the
 * consumer stops early (`return()`, as `break` calls it). One consumer, awaiting each answer.
 */
export class BufferedCursor<T> implements AsyncIterable<T> {
  private cursor: BatchedCursor<T> | undefined;
  private batch: T[] = [];
  private index = 0;
  private ended = false;

  constructor(private readonly open: () => BatchedCursor<T>) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    // `next` may answer without a promise, which the AsyncIterator type does not spell out.
    return this as unknown as AsyncIterator<T>;
  }

  next(): IteratorResult<T> | Promise<IteratorResult<T>> {
    if (this.index < this.batch.length) return { done: false, value: this.batch[this.index++] as T };
    return this.fetch();
  }

  async return(): Promise<IteratorResult<T>> {
    await this.end();
    return END;
  }

  private async fetch(): Promise<IteratorResult<T>> {
    if (this.ended) return END;
    try {
      this.cursor ??= this.open();
      while (await this.cursor.hasNext()) {
        this.batch = this.cursor.readBufferedDocuments();
        this.index = 0;
        if (this.batch.length > 0) return this.next();
      }
    } catch (error) {
      await this.end();
      throw toStoreError(error);
    }
    await this.end();
    return END;
  }

  private async end(): Promise<void> {
    this.ended = true;
    this.batch = [];
    this.index = 0;
    // Frees the server-side cursor at once instead of on timeout.
    await this.cursor?.close().catch(() => undefined);
  }
}
