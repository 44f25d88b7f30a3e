import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Aggregator } from 'mingo/aggregator';
import { Query } from 'mingo/query';
import type { Document } from 'mongodb';
import { ValidationError } from '../errors.js';
import { defineField } from '../matching/json-safe.js';
import { cacheUntilRejected } from './cache-until-rejected.js';
import type { DocumentStore, FindOptions } from './document-store.js';
import { DocumentsFileError, readDocumentsFile } from './documents-file.js';
import { sortForFind } from './find-order.js';
import { mingoOptions } from './mingo-context.js';

/**
 * A data file of the embedded store that cannot be read as documents (or a collection with both a
 * `.json` and a `.ndjson` file). The message names the file and, where known, the line, for the
 * operator who fixes it. Not an AppError: it is the server's data, not the request, that is at
 * fault, so an HTTP answer is a generic 500 (logged in full), and a matching run fails with this
 * message as its reason. The command line reads its files itself and reports them as exit code 2.
 */
export class DataFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataFileError';
  }
}

/** Where the embedded store gets its collections from. */
export type EmbeddedStoreSource =
  | {
      /** Directory holding `<collection>.json` (JSON array) or `<collection>.ndjson` files. */
      readonly dataDir: string;
    }
  | {
      /** In-memory collections; the store takes ownership of these arrays. */
      readonly collections: Readonly<Record<string, Document[]>>;
    };

/** A mingo cursor or lazy iterator: iterable, with mingo's own iterator-result shape. */
interface MingoResults {
  [Symbol.iterator](): { next(): { readonly value?: unknown; readonly done: boolean } };
}

const DONE: IteratorResult<never> = { done: true, value: undefined };

/**
 * A copy of a stored value that a caller may change without changing the store, as a driver's
 * documents are fresh objects: plain objects, arrays and dates are copied; the BSON value classes
 * (ObjectId, Long, Decimal128, …), which nobody changes in place, are shared.
 */
function copyOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyOf);
  if (value instanceof Date) return new Date(value.getTime());
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const key in value) defineField(copy, key, copyOf((value as Record<string, unknown>)[key]));
  return copy;
}

/**
 * The documents a find answers, handed out from an array: `next()` returns a promise only while
 * the array is being made (reading the file, sorting), then plain results, which `for await`
 * accepts and the matcher (lib/matching/record-stream.ts) takes without a promise per document.
 * One consumer, awaiting each answer.
 */
class LoadedCursor<T> implements AsyncIterable<T> {
  private documents: readonly T[] | undefined;
  private index = 0;

  constructor(private readonly load: () => Promise<readonly T[]>) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    // `next` may answer without a promise, which the AsyncIterator type does not spell out.
    return this as unknown as AsyncIterator<T>;
  }

  next(): IteratorResult<T> | Promise<IteratorResult<T>> {
    if (this.documents === undefined) return this.first();
    if (this.index < this.documents.length) {
      return { done: false, value: copyOf(this.documents[this.index++]) as T };
    }
    this.documents = [];
    return DONE;
  }

  async return(): Promise<IteratorResult<T>> {
    this.documents = [];
    return DONE;
  }

  private async first(): Promise<IteratorResult<T>> {
    this.documents = await this.load();
    return this.next();
  }
}

/** File names are built from collection names: refuse anything that could leave `dataDir`. */
const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Stages that write to other collections; the embedded store serves read-only files. */
const WRITE_STAGES = new Set(['$out', '$merge']);

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Collection names a pipeline reads besides its own (`$lookup`, `$graphLookup`, `$unionWith`). */
function referencedCollections(pipeline: readonly Document[], into: Set<string>): Set<string> {
  for (const stage of pipeline) {
    for (const [operator, spec] of Object.entries(stage)) {
      if (WRITE_STAGES.has(operator)) {
        throw new ValidationError('pipeline', `${operator} is not supported by the embedded document store`);
      }
      if ((operator === '$lookup' || operator === '$graphLookup') && typeof spec?.from === 'string') {
        into.add(spec.from);
      }
      if (operator === '$unionWith') {
        if (typeof spec === 'string') into.add(spec);
        else if (typeof spec?.coll === 'string') into.add(spec.coll);
      }
      if (Array.isArray(spec?.pipeline)) referencedCollections(spec.pipeline, into);
      if (operator === '$facet' && spec && typeof spec === 'object') {
        for (const sub of Object.values(spec)) if (Array.isArray(sub)) referencedCollections(sub, into);
      }
    }
  }
  return into;
}

/**
 * A {@link DocumentStore} evaluated in-process by mingo over JSON / NDJSON files or in-memory
 * arrays: the default for local runs, tests and the command line. It runs the very pipeline
 * objects and filters the MongoDB implementation receives, with every mingo operator enabled and
 * MongoDB's BSON sort order (lib/store/mingo-context.ts).
 *
 * Files are read lazily on first use of a collection and cached for the life of the instance; a
 * missing file is an empty collection, as a missing MongoDB collection is.
 *
 * Filters and pipelines are built by our code. Values inside them may come from users: callers
 * must validate those values (the HTTP layer does, with zod) so that an object such as
 * `{ $ne: null }` cannot arrive where a string was meant.
 *
 * @example
 * ```ts
 * const store = new EmbeddedDocumentStore({ dataDir: '.data/store' });
 * for await (const payment of store.find('payment', {}, { sort: { date: 1, id: 1 } })) { ... }
 * ```
 */
export class EmbeddedDocumentStore implements DocumentStore {
  private readonly loaded = new Map<string, Promise<Document[]>>();
  private closed = false;

  constructor(private readonly source: EmbeddedStoreSource) {}

  aggregate<T extends Document = Document>(
    collection: string,
    pipeline: readonly Document[],
  ): AsyncIterable<T> {
    return this.stream(async () => {
      const names = referencedCollections(pipeline, new Set([collection]));
      const collections = new Map<string, Document[]>();
      for (const name of names) collections.set(name, await this.documents(name));
      const resolver = (name: string): Document[] => collections.get(name) ?? [];
      const aggregator = new Aggregator([...pipeline], mingoOptions(resolver));
      return aggregator.stream(collections.get(collection) ?? []);
    });
  }

  /**
   * Answers from the loaded collection: filtered by mingo (not at all for an empty filter, as the
   * worker's reads have), sorted in MongoDB's order (lib/store/find-order.ts: typed columns for
   * plain sort keys; not mingo's cursor, which orders mixed BSON types unlike MongoDB), projected
   * by mingo when asked. Only the first `next()` waits (for the file); the rest answer at once.
   */
  find<T extends Document = Document>(
    collection: string,
    filter: Readonly<Document>,
    options: FindOptions = {},
  ): AsyncIterable<T> {
    return new LoadedCursor<T>(async () => {
      this.assertOpen();
      const documents = await this.documents(collection);
      let matching = documents;
      if (Object.keys(filter).length > 0) {
        const query = new Query({ ...filter }, mingoOptions());
        matching = documents.filter((document) => query.test(document));
      }
      const ordered = options.sort ? sortForFind(matching, options.sort) : matching;
      if (options.projection === undefined) return ordered as T[];
      return new Query({}, mingoOptions()).find(ordered, { ...options.projection }).all() as T[];
    });
  }

  /** Exact: the collection is in memory once read. */
  async estimatedCount(collection: string): Promise<number> {
    this.assertOpen();
    return (await this.documents(collection)).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loaded.clear();
  }

  private async *stream<T>(open: () => Promise<MingoResults>): AsyncGenerator<T> {
    this.assertOpen();
    const results = (await open())[Symbol.iterator]();
    for (let step = results.next(); !step.done; step = results.next()) yield step.value as T;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('EmbeddedDocumentStore is closed');
  }

  private documents(collection: string): Promise<Document[]> {
    if (!COLLECTION_NAME.test(collection)) {
      throw new ValidationError('collection', `'${collection}' is not a valid collection name`);
    }
    // A file fixed after a failed read must be picked up by the next query.
    return cacheUntilRejected(this.loaded, collection, () => this.load(collection));
  }

  private async load(collection: string): Promise<Document[]> {
    if ('collections' in this.source) return this.source.collections[collection] ?? [];
    const jsonPath = join(this.source.dataDir, `${collection}.json`);
    const ndjsonPath = join(this.source.dataDir, `${collection}.ndjson`);
    const [hasJson, hasNdjson] = await Promise.all([exists(jsonPath), exists(ndjsonPath)]);
    if (hasJson && hasNdjson) {
      throw new DataFileError(`both ${jsonPath} and ${ndjsonPath} exist; keep one file per collection`);
    }
    const path = hasJson ? jsonPath : hasNdjson ? ndjsonPath : undefined;
    if (path === undefined) return [];
    try {
      return await readDocumentsFile(path);
    } catch (error) {
      if (error instanceof DocumentsFileError) throw new DataFileError(error.reason, { cause: error });
      throw error;
    }
  }
}
