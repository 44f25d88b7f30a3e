import type { CollationOptions, Db, IndexSpecification } from 'mongodb';
import { ValidationError } from '../errors.js';

/** The collection of accounts (= `Account.COLLECTION`, spelled out to keep this module standalone). */
export const ACCOUNT_COLLECTION = 'Account';
/** Matching inputs (SPEC §3). */
export const MATCHING_COLLECTIONS = ['accrual', 'payment'] as const;
/** The partition field indexed when none is named: the personal account (лицевой счёт). */
export const DEFAULT_PARTITION_FIELDS: readonly string[] = ['account'];

/**
 * The collation of every query and index: binary comparison of strings (UTF-8 bytes), as the
 * embedded store compares them. A collection created with a default collation (say
 * `{ locale: 'ru', strength: 2 }`) would otherwise apply it to every string comparison of a query
 * that names none (`$match` equality and ranges, `$sort`, `$gt`/`$lt` in expressions, the set
 * operators) and to every index created without one; and a query can use an index for string
 * bounds and sorts only when their collations agree.
 */
export const SIMPLE_COLLATION: Readonly<CollationOptions> = { locale: 'simple' };

/** One index the queries rely on. */
export interface IndexDefinition {
  readonly collection: string;
  readonly key: Readonly<Record<string, 1>>;
  readonly unique: boolean;
}

/** An index after `ensureIndexes`: its definition and the name the server knows it by. */
export interface EnsuredIndex extends IndexDefinition {
  readonly name: string;
}

const FIELD_PATH = /^[^$.\0][^.\0]*(?:\.[^$.\0][^.\0]*)*$/;

/**
 * The indexes behind every query we run:
 * - `Account.number` unique: the single-account `$match` and the keyset page `number > after`.
 * - `accrual` / `payment` `{ date, id }`: the matcher streams both collections in this order.
 * - `{ id }`, not unique: looking a record up by id. The spec rejects a repeated id per record, in
 *   the run's output; a unique index would instead make the import that brings the repeat fail.
 * - `{ <partition>, date, id }` per partition field: partitioned runs stream in that order.
 *
 * @throws ValidationError('partitionBy') for a field path MongoDB cannot index.
 */
export function indexDefinitions(
  partitionBy: readonly string[] = DEFAULT_PARTITION_FIELDS,
): IndexDefinition[] {
  for (const field of partitionBy) {
    if (!FIELD_PATH.test(field) || field === 'date' || field === 'id' || field === '_id') {
      throw new ValidationError('partitionBy', `'${field}' is not a usable partition field`);
    }
  }
  const definitions: IndexDefinition[] = [
    { collection: ACCOUNT_COLLECTION, key: { number: 1 }, unique: true },
  ];
  for (const collection of MATCHING_COLLECTIONS) {
    definitions.push({ collection, key: { date: 1, id: 1 }, unique: false });
    definitions.push({ collection, key: { id: 1 }, unique: false });
    for (const field of new Set(partitionBy)) {
      definitions.push({ collection, key: { [field]: 1, date: 1, id: 1 }, unique: false });
    }
  }
  return definitions;
}

/**
 * Creates the indexes of {@link indexDefinitions} with the {@link SIMPLE_COLLATION} (idempotent:
 * existing identical indexes are kept; an index of the same key made under another collation is
 * a conflict the server reports). Run by `npm run indexes` after a deploy or a restore.
 *
 * @example
 * ```ts
 * const created = await ensureIndexes(client.db('billing'), { partitionBy: ['account'] });
 * ```
 */
export async function ensureIndexes(
  db: Db,
  opts: { partitionBy?: readonly string[] } = {},
): Promise<EnsuredIndex[]> {
  const ensured: EnsuredIndex[] = [];
  for (const definition of indexDefinitions(opts.partitionBy)) {
    const key: IndexSpecification = { ...definition.key };
    const name = await db.collection(definition.collection).createIndex(key, {
      unique: definition.unique,
      collation: { ...SIMPLE_COLLATION },
    });
    ensured.push({ ...definition, name });
  }
  return ensured;
}
