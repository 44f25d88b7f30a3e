import type { Document } from 'mongodb';
import { cacheUntilRejected } from './cache-until-rejected.js';
import type { DocumentStore, FindOptions } from './document-store.js';

/**
 * A {@link DocumentStore} that obtains the real store only when a cursor is first read (and again
 * after a failed attempt). The
 * matching worker uses it so that "MongoDB is unreachable" surfaces inside the job, after the run
 * was claimed, and is recorded on the run as its failure reason, instead of failing the invocation
 * before anything was recorded and leaving the run `queued` with no explanation.
 *
 * @example
 * ```ts
 * const store = lazyDocumentStore(() => getDocumentStore());
 * for await (const payment of store.find('payment', {})) { ... } // connects here
 * ```
 */
export function lazyDocumentStore(open: () => Promise<DocumentStore>): DocumentStore {
  // A failed attempt is not kept: the next cursor asks again.
  const opened = new Map<'store', Promise<DocumentStore>>();
  const store = (): Promise<DocumentStore> => cacheUntilRejected(opened, 'store', open);
  return {
    async *aggregate<T extends Document = Document>(collection: string, pipeline: readonly Document[]) {
      yield* (await store()).aggregate<T>(collection, pipeline);
    },
    async *find<T extends Document = Document>(
      collection: string,
      filter: Readonly<Document>,
      options?: FindOptions,
    ) {
      yield* (await store()).find<T>(collection, filter, options);
    },
    async estimatedCount(collection: string) {
      return (await store()).estimatedCount(collection);
    },
    /** Does nothing: the underlying store belongs to whoever `open` gets it from (one per container). */
    async close() {},
  };
}
