import type { Document } from 'mongodb';

export type SortSpec = Readonly<Record<string, 1 | -1>>;

export interface FindOptions {
  /** Sort order; the MongoDB implementation relies on a matching index. */
  readonly sort?: SortSpec;
  readonly projection?: Readonly<Record<string, 0 | 1>>;
  readonly batchSize?: number;
}

/**
 * The only database surface the functions use. Two implementations run the *same* pipeline
 * objects and filters: `MongoDocumentStore` (official driver) and `EmbeddedDocumentStore`
 * (mingo over JSON / NDJSON files). Both stream: callers iterate, nothing forces a full load
 * on the MongoDB side.
 */
export interface DocumentStore {
  /** Runs an aggregation pipeline on `collection` and streams its output documents. */
  aggregate<T extends Document = Document>(
    collection: string,
    pipeline: readonly Document[],
  ): AsyncIterable<T>;
  /** Streams the documents of `collection` matching `filter`, in `options.sort` order. */
  find<T extends Document = Document>(
    collection: string,
    filter: Readonly<Document>,
    options?: FindOptions,
  ): AsyncIterable<T>;
  /**
   * About how many documents `collection` holds, cheaply: MongoDB's `estimatedDocumentCount`
   * (collection metadata, no scan; it may be off after an unclean shutdown or with orphaned
   * documents on a sharded cluster), the embedded store's exact count. 0 for a missing collection.
   */
  estimatedCount(collection: string): Promise<number>;
  /** Releases connections or file handles. Safe to call twice. */
  close(): Promise<void>;
}
