import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Aggregator } from 'mingo/aggregator';
import { Query } from 'mingo/query';
import type { Document } from 'mongodb';
import { ValidationError } from '../errors.js';
import { sortDocuments } from './bson-order.js';
import { cacheUntilRejected } from './cache-until-rejected.js';
import type { DocumentStore, FindOptions } from './document-store.js';
import { DocumentsFileError, readDocumentsFile } from './documents-file.js';
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

  find<T extends Document = Document>(
    collection: string,
    filter: Readonly<Document>,
    options: FindOptions = {},
  ): AsyncIterable<T> {
    return this.stream(async () => {
      const documents = await this.documents(collection);
      const query = new Query({ ...filter }, mingoOptions());
      const matching = documents.filter((document) => query.test(document));
      // Sorting here, not with mingo's cursor: mingo orders mixed BSON types unlike MongoDB.
      const ordered = options.sort ? sortDocuments(matching, options.sort) : matching;
      return new Query({}, mingoOptions()).find(ordered, { ...options.projection });
    });
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
