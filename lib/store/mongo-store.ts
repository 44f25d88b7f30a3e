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

  find<T extends Document = Document>(
    collection: string,
    filter: Readonly<Document>,
    options: FindOptions = {},
  ): AsyncIterable<T> {
    return this.stream<T>(() =>
      this.client
        .db(this.dbName)
        .collection(collection)
        .find(filter, {
          ...(options.sort ? { sort: { ...options.sort } } : {}),
          ...(options.projection ? { projection: { ...options.projection } } : {}),
          batchSize: options.batchSize ?? DEFAULT_FIND_BATCH_SIZE,
          collation: { ...SIMPLE_COLLATION },
          ...DECODING,
        }),
    );
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
