import { describeValue } from './bson-values.js';
import { type IdSlot, readIdInto } from './ids.js';

/**
 * Partition values (e.g. a personal account) take the same kinds as ids and sort in the same
 * BSON order, so `(partition, date, id)` is exactly what a MongoDB compound index yields.
 * A dotted field name walks into sub-documents, as it does in a MongoDB sort.
 */
export function partitionPath(field: string): readonly string[] {
  return field.split('.');
}

/** The raw partition value of a record (undefined when absent). */
export function partitionValueOf(record: unknown, path: readonly string[]): unknown {
  let value: unknown = record;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/**
 * Reads a record's partition value into `slot`. Returns undefined when it is a number, string or
 * ObjectId, otherwise the rejection reason (missing, null, boolean, array, other object).
 */
export function readPartitionInto(
  record: object,
  path: readonly string[],
  field: string,
  slot: IdSlot,
): string | undefined {
  const value = partitionValueOf(record, path);
  if (value === undefined) return `missing partition field "${field}"`;
  if (!readIdInto(value, slot)) {
    return `invalid partition value ${describeValue(value)} in field "${field}" (expected a number, string or ObjectId)`;
  }
  return undefined;
}
