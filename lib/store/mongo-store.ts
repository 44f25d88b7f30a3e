import type { AbstractCursor, Document, MongoClient } from 'mongodb';
import type { DocumentStore, FindOptions } from './document-store.js';
import { toStoreError } from './mongo-errors.js';

/**
 * Documents fetched per round trip by `find`. The matcher streams whole collections in
 * `(date, id)` order; larger batches mean fewer round trips at a bounded memory cost.
 */
export const DEFAULT_FIND_BATCH_SIZE = 1000;

/**
 * A {@link DocumentStore} backed by MongoDB through the official driver. Results stream from
 * server cursors; nothing is loaded whole. Unreachable-database errors surface as
 * `ServiceUnavailableError` (lib/store/mongo-errors.ts).
 *
 * The store owns `client`: `close()` closes it (twice is safe).
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
        .aggregate([...pipeline], { allowDiskUse: false }),
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
