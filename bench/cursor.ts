/**
 * A model of the MongoDB driver's find cursor (mongodb 7, `AbstractCursor`), which is what the
 * worker hands `matchPayments`. Like the driver it holds one batch of documents at a time: when
 * the batch is used up, a getMore fetches the next `batchSize` documents, and the batch arrives on
 * a later turn of the event loop (`setImmediate`, where a socket reply would arrive, without the
 * network latency). Documents are handed out one at a time the way the driver's
 * `[Symbol.asyncIterator]` does: an async generator that awaits the async `next()` per document.
 *
 * What it leaves out: the documents are already JavaScript objects (the driver deserialises BSON
 * as it hands each one out) and there is no network wait, so the time measured through it is the
 * matcher's plus the per-document promise hops any driver cursor costs. The store's own
 * async-generator wrapper (lib/store/mongo-store.ts) and the job's abort check are a generator
 * each on top; the end-to-end measurement includes those.
 */
export class ModelCursor<T> implements AsyncIterable<T> {
  private batch: readonly T[] = [];
  private inBatch = 0;
  private fetched = 0;

  constructor(
    private readonly documents: readonly T[],
    private readonly batchSize: number,
  ) {}

  /** The driver's `getMore`: the next batch, a turn of the event loop later. */
  private async fetchBatch(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.batch = this.documents.slice(this.fetched, this.fetched + this.batchSize);
    this.fetched += this.batch.length;
    this.inBatch = 0;
  }

  /** The driver's `next()`: the next document, or null at the end. */
  async next(): Promise<T | null> {
    if (this.inBatch === this.batch.length) {
      if (this.fetched === this.documents.length) return null;
      await this.fetchBatch();
    }
    return this.batch[this.inBatch++] as T;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (let document = await this.next(); document !== null; document = await this.next()) yield document;
  }
}
