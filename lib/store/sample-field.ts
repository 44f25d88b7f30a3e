import type { Document } from 'mongodb';
import type { DocumentStore } from './document-store.js';

/**
 * The pipeline that samples one field: `$sample` then `$project` of the field's value (as an
 * aggregation expression `$field` reads it: a dotted path through an array yields an array).
 * Documents without the field come out as `{}`.
 *
 * On MongoDB, `$sample` reads documents at random positions (a random cursor, no scan) when the
 * size is below 5 % of the collection and the collection has more than 100 documents; otherwise it
 * scans the collection and sorts it at random, so callers keep the size below that share for
 * large collections ({@link sampleSizeFor}). The embedded store runs the same stages with mingo.
 */
export function sampleFieldPipeline(field: string, size: number): Document[] {
  if (!Number.isSafeInteger(size) || size < 1)
    throw new RangeError(`sample size must be a positive integer, got ${size}`);
  return [{ $sample: { size } }, { $project: { _id: 0, value: `$${field}` } }];
}

/** A collection this small is sampled whole (a scan of it costs next to nothing). */
export const SAMPLE_WHOLE_BELOW = 20_000;

/**
 * How many documents to sample from a collection of about `count` documents when `wanted` are
 * wanted: all of a small collection (up to `wanted`), otherwise at most just under 5 % of it, so
 * that MongoDB uses its random cursor and never scans.
 */
export function sampleSizeFor(count: number, wanted: number): number {
  if (count <= 0) return 0;
  if (count <= SAMPLE_WHOLE_BELOW) return Math.min(count, wanted);
  return Math.max(1, Math.min(wanted, Math.floor(count / 20) - 1));
}

/**
 * The values of `field` in a random sample of `size` documents of `collection` (undefined where a
 * document has no such field). An empty array for `size` 0.
 */
export async function sampleField(
  store: DocumentStore,
  collection: string,
  field: string,
  size: number,
): Promise<unknown[]> {
  if (size === 0) return [];
  const values: unknown[] = [];
  for await (const document of store.aggregate(collection, sampleFieldPipeline(field, size))) {
    values.push(document.value);
  }
  return values;
}
