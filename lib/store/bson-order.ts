/**
 * MongoDB's comparison order for BSON values, so the embedded store sorts and compares exactly
 * like the server: numbers < strings < objects < arrays < binary < ObjectId < booleans < dates
 * < timestamps < regular expressions. mingo's own order differs (it puts ObjectId after dates and
 * compares strings by UTF-16 code units), which would make `(date, id)` streams and keyset pages
 * come out in a different order than from MongoDB.
 */

/** Canonical type ranks from the server's `canonicalizeBSONType` (bsontypes.h). */
const RANK = {
  minKey: -1,
  undefined: 0,
  null: 5,
  number: 10,
  string: 15,
  object: 20,
  array: 25,
  binData: 30,
  objectId: 35,
  boolean: 40,
  date: 45,
  timestamp: 47,
  regex: 50,
  code: 60,
  codeWithScope: 65,
  maxKey: 127,
  /** JavaScript values with no BSON form (functions, symbols): after everything, all equal. */
  foreign: 200,
} as const;

type BsonTagged = { readonly _bsontype?: unknown };

function bsonTag(value: object): string | undefined {
  const tag = (value as BsonTagged)._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

/**
 * The canonical BSON type rank of `value`. JavaScript `undefined` ranks below `null`, as BSON
 * undefined does; callers that mean "missing field" (sorts and query operators) map it to `null`.
 */
export function bsonTypeRank(value: unknown): number {
  switch (typeof value) {
    case 'undefined':
      return RANK.undefined;
    case 'number':
    case 'bigint':
      return RANK.number;
    case 'string':
      return RANK.string;
    case 'boolean':
      return RANK.boolean;
    case 'object':
      break;
    default:
      return RANK.foreign;
  }
  if (value === null) return RANK.null;
  if (Array.isArray(value)) return RANK.array;
  if (value instanceof Date) return RANK.date;
  if (value instanceof RegExp) return RANK.regex;
  if (ArrayBuffer.isView(value)) return RANK.binData;
  switch (bsonTag(value)) {
    case 'ObjectId':
    case 'ObjectID':
      return RANK.objectId;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return RANK.number;
    case 'BSONSymbol':
      return RANK.string;
    case 'Binary':
      return RANK.binData;
    case 'Timestamp':
      return RANK.timestamp;
    case 'BSONRegExp':
      return RANK.regex;
    case 'Code':
      return (value as { scope?: unknown }).scope ? RANK.codeWithScope : RANK.code;
    case 'MinKey':
      return RANK.minKey;
    case 'MaxKey':
      return RANK.maxKey;
    default:
      // Plain objects and DBRef (which the driver stores as an embedded document).
      return RANK.object;
  }
}

const TAG_ALIASES: Readonly<Record<string, string>> = {
  ObjectId: 'objectId',
  ObjectID: 'objectId',
  Int32: 'int',
  Double: 'double',
  Long: 'long',
  Decimal128: 'decimal',
  BSONSymbol: 'symbol',
  Binary: 'binData',
  Timestamp: 'timestamp',
  BSONRegExp: 'regex',
  MinKey: 'minKey',
  MaxKey: 'maxKey',
};

/**
 * The type name MongoDB's aggregation `$type` gives `value` (`'missing'` for undefined). Plain
 * numbers, which stand for int32, int64 and double alike once read, are named by value: `'int'`
 * for a safe integer in the int32 range, `'long'` for any other safe integer, else `'double'`. A
 * DBRef is `'object'`: the server stores it as an embedded document.
 */
export function bsonTypeAlias(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'missing';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'bigint':
      return 'long';
    case 'number':
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) return 'double';
      return value >= -2147483648 && value <= 2147483647 ? 'int' : 'long';
    case 'object':
      break;
    default:
      return typeof value;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  if (ArrayBuffer.isView(value)) return 'binData';
  const tag = bsonTag(value);
  if (tag === 'Code') return (value as { scope?: unknown }).scope ? 'javascriptWithScope' : 'javascript';
  return (tag && TAG_ALIASES[tag]) ?? 'object';
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

/**
 * Compares two strings by their UTF-8 bytes (= code point order), as MongoDB does without a
 * collation. UTF-16 code unit order disagrees only when a surrogate meets a code unit at or above
 * U+E000; the fix-up moves surrogates above that range.
 */
export function compareUtf8(a: string, b: string): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return sign(a.length - b.length);
}

/**
 * A finite number written out exactly as `coefficient × 10^exponent`. Decimal128 values need it:
 * MongoDB compares them with every other number by exact value (`compareDecimalToDouble` and
 * friends in the server's compare_numbers.h), so `NumberDecimal("0.1")` sorts below the double
 * 0.1 (0.1000000000000000055…) and `NumberDecimal("9007199254740993")` above the double 2^53, both
 * of which a comparison through a double would call equal.
 */
interface ExactDecimal {
  readonly coefficient: bigint;
  readonly exponent: number;
}

type Numeric = number | bigint | ExactDecimal;

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/;

/** A Decimal128 as an exact decimal, or as a number for NaN and the infinities. */
function decimalValue(value: { toString: () => string }): Numeric {
  const text = value.toString();
  const parts = DECIMAL_TEXT.exec(text);
  if (!parts) return Number(text); // 'NaN', 'Infinity', '-Infinity'
  const [, minus, whole = '', fraction = '', exponent = '0'] = parts;
  const magnitude = BigInt(whole + fraction);
  return { coefficient: minus ? -magnitude : magnitude, exponent: Number(exponent) - fraction.length };
}

function numericValue(value: unknown): Numeric {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  const object = value as { toBigInt?: () => bigint; valueOf: () => unknown; toString: () => string };
  switch (bsonTag(value as object)) {
    case 'Long':
      return object.toBigInt ? object.toBigInt() : BigInt(object.toString());
    case 'Decimal128':
      return decimalValue(object);
    default:
      return Number(object.valueOf());
  }
}

/** A finite double or an integer as an exact decimal. */
function exactDecimal(value: number | bigint | ExactDecimal): ExactDecimal {
  if (typeof value === 'object') return value;
  if (typeof value === 'bigint' || Number.isInteger(value))
    return { coefficient: BigInt(value), exponent: 0 };
  // A double is m / 2^k; doubling is exact, so this finds m, and m / 2^k = m × 5^k / 10^k.
  let scaled = value;
  let halvings = 0;
  while (!Number.isInteger(scaled)) {
    scaled *= 2;
    halvings++;
  }
  return { coefficient: BigInt(scaled) * 5n ** BigInt(halvings), exponent: -halvings };
}

/** NaN below -Infinity below every finite number below +Infinity, as MongoDB orders numbers. */
function numericClass(value: Numeric): 0 | 1 | 2 | 3 {
  if (typeof value !== 'number' || Number.isFinite(value)) return 2;
  return Number.isNaN(value) ? 0 : value < 0 ? 1 : 3;
}

function compareExactly(a: ExactDecimal, b: ExactDecimal): -1 | 0 | 1 {
  const signA = a.coefficient < 0n ? -1 : a.coefficient > 0n ? 1 : 0;
  const signB = b.coefficient < 0n ? -1 : b.coefficient > 0n ? 1 : 0;
  if (signA !== signB) return signA < signB ? -1 : 1;
  if (signA === 0) return 0;
  // Same sign: compare orders of magnitude first, so no huge power of ten is ever built.
  const digitsA = (signA < 0 ? -a.coefficient : a.coefficient).toString().length;
  const digitsB = (signB < 0 ? -b.coefficient : b.coefficient).toString().length;
  const magnitudeA = digitsA + a.exponent;
  const magnitudeB = digitsB + b.exponent;
  if (magnitudeA !== magnitudeB) return (magnitudeA < magnitudeB ? -signA : signA) as -1 | 1;
  const exponent = Math.min(a.exponent, b.exponent);
  const x = a.coefficient * 10n ** BigInt(a.exponent - exponent);
  const y = b.coefficient * 10n ** BigInt(b.exponent - exponent);
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareNumeric(a: Numeric, b: Numeric): -1 | 0 | 1 {
  if (typeof a === 'object' || typeof b === 'object') {
    const classA = numericClass(a);
    const classB = numericClass(b);
    if (classA !== classB) return classA < classB ? -1 : 1;
    return classA === 2 ? compareExactly(exactDecimal(a), exactDecimal(b)) : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    // MongoDB orders NaN below every other number and equal to itself.
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
    if (Number.isNaN(b)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number') return numberVersusBigint(a, b as bigint);
  const reversed = numberVersusBigint(b as number, a);
  return reversed === 0 ? 0 : reversed === 1 ? -1 : 1;
}

function numberVersusBigint(n: number, big: bigint): -1 | 0 | 1 {
  if (Number.isNaN(n)) return -1;
  if (n === Number.POSITIVE_INFINITY) return 1;
  if (n === Number.NEGATIVE_INFINITY) return -1;
  const floor = BigInt(Math.floor(n));
  if (floor !== big) return floor < big ? -1 : 1;
  return Number.isInteger(n) ? 0 : 1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return sign(a.length - b.length);
}

function binaryParts(value: unknown): { bytes: Uint8Array; subtype: number } {
  if (ArrayBuffer.isView(value)) {
    return { bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength), subtype: 0 };
  }
  const binary = value as { buffer: Uint8Array; position: number; sub_type: number };
  return { bytes: binary.buffer.subarray(0, binary.position), subtype: binary.sub_type };
}

function dateTime(value: Date): number {
  const time = value.getTime();
  // An invalid Date cannot reach MongoDB; keep it deterministic by ordering it first.
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) return [value.source, value.flags];
  const regex = value as { pattern: string; options: string };
  return [regex.pattern, regex.options];
}

interface DBRefLike {
  readonly collection: string;
  readonly oid: unknown;
  readonly db?: string | undefined;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/**
 * A DBRef as the server holds it: an embedded document with `$ref`, `$id`, `$db` (when set) and
 * the other fields, in the order the driver writes them. DBRef is no BSON type: bson's readers
 * (the driver's and Extended JSON's) merely turn any `{ $ref: string, $id, $db?: string, … }`
 * document into a DBRef object, whose other fields are then out of reach of a path like
 * `session.actions`. Returns undefined for anything that is not a DBRef object.
 */
export function dbRefAsDocument(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || bsonTag(value) !== 'DBRef') return undefined;
  const ref = value as DBRefLike;
  const document: Record<string, unknown> = { $ref: ref.collection, $id: ref.oid };
  if (ref.db !== undefined && ref.db !== null) document.$db = ref.db;
  for (const [key, field] of Object.entries(ref.fields ?? {})) {
    // defineProperty, not assignment: a `__proto__` key must stay a plain data property.
    Object.defineProperty(document, key, {
      value: field,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return document;
}

function documentEntries(value: object): [string, unknown][] {
  return Object.entries(dbRefAsDocument(value) ?? value).filter(([, v]) => v !== undefined);
}

/**
 * Field by field, as the server's `BSONObj::woCompare`: the type rank of each value, then the
 * field name, then the value; a document that runs out of fields first is smaller.
 */
function compareEntries(a: readonly [string, unknown][], b: readonly [string, unknown][]): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const [keyA, valueA] = a[i] ?? ['', undefined];
    const [keyB, valueB] = b[i] ?? ['', undefined];
    const byRank = sign(bsonTypeRank(valueA) - bsonTypeRank(valueB));
    if (byRank) return byRank;
    const byName = compareUtf8(keyA, keyB);
    if (byName) return byName;
    const byValue = compareBson(valueA, valueB);
    if (byValue) return byValue;
  }
  return sign(a.length - b.length);
}

function compareArrays(a: readonly unknown[], b: readonly unknown[]): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const byRank = sign(bsonTypeRank(a[i]) - bsonTypeRank(b[i]));
    if (byRank) return byRank;
    const byValue = compareBson(a[i], b[i]);
    if (byValue) return byValue;
  }
  return sign(a.length - b.length);
}

/**
 * Compares two BSON values in MongoDB's order. Returns -1, 0 or 1.
 *
 * Numbers of every kind (`number`, `bigint`, Int32, Double, Long, Decimal128) compare by value;
 * strings by UTF-8 bytes; ObjectIds by their bytes; arrays and documents element by element.
 * Arrays compare as whole values here; sorts on array fields use {@link sortKeyOf}.
 *
 * @example
 * ```ts
 * [new ObjectId(), 'b', 2, new Date(0)].sort(compareBson); // [2, 'b', ObjectId, Date]
 * ```
 */
export function compareBson(a: unknown, b: unknown): -1 | 0 | 1 {
  const rankA = bsonTypeRank(a);
  const rankB = bsonTypeRank(b);
  if (rankA !== rankB) return rankA < rankB ? -1 : 1;
  switch (rankA) {
    case RANK.number:
      return compareNumeric(numericValue(a), numericValue(b));
    case RANK.string:
      return compareUtf8(String(a), String(b));
    case RANK.boolean:
      return sign(Number(a) - Number(b));
    case RANK.date:
      return compareNumeric(dateTime(a as Date), dateTime(b as Date));
    case RANK.objectId:
      return compareUtf8(
        (a as { toHexString: () => string }).toHexString(),
        (b as { toHexString: () => string }).toHexString(),
      );
    case RANK.array:
      return compareArrays(a as unknown[], b as unknown[]);
    case RANK.object:
      return compareEntries(documentEntries(a as object), documentEntries(b as object));
    case RANK.binData: {
      const x = binaryParts(a);
      const y = binaryParts(b);
      return (
        sign(x.bytes.length - y.bytes.length) || sign(x.subtype - y.subtype) || compareBytes(x.bytes, y.bytes)
      );
    }
    case RANK.timestamp: {
      const x = a as { t: number; i: number };
      const y = b as { t: number; i: number };
      return sign(x.t - y.t) || sign(x.i - y.i);
    }
    case RANK.regex: {
      const [patternA, flagsA] = regexParts(a);
      const [patternB, flagsB] = regexParts(b);
      return compareUtf8(patternA, patternB) || compareUtf8(flagsA, flagsB);
    }
    case RANK.code:
    case RANK.codeWithScope: {
      const x = a as { code: string; scope?: object | null };
      const y = b as { code: string; scope?: object | null };
      return (
        compareUtf8(String(x.code), String(y.code)) ||
        compareEntries(documentEntries(x.scope ?? {}), documentEntries(y.scope ?? {}))
      );
    }
    default:
      return 0;
  }
}

/** Sort specification: field path → 1 (ascending) or -1 (descending). */
export type SortDirections = Readonly<Record<string, 1 | -1>>;

/** Stands for an empty array in a sort key: MongoDB sorts it below `null` and missing fields. */
const EMPTY_ARRAY_KEY = undefined;

function collectPathValues(value: unknown, path: readonly string[], index: number, out: unknown[]): void {
  if (index === path.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) out.push(EMPTY_ARRAY_KEY);
      else for (const element of value) out.push(element);
    } else {
      out.push(value);
    }
    return;
  }
  const part = path[index] ?? '';
  if (Array.isArray(value)) {
    if (/^\d+$/.test(part)) {
      collectPathValues(value[Number(part)], path, index + 1, out);
      return;
    }
    for (const element of value) {
      if (element !== null && typeof element === 'object' && !Array.isArray(element)) {
        collectPathValues(element, path, index, out);
      }
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const next = (value as Record<string, unknown>)[part];
  if (next !== undefined) collectPathValues(next, path, index + 1, out);
}

/**
 * The value MongoDB sorts `doc` by for one field path and direction: a missing field sorts as
 * `null`; an array field sorts by its smallest element ascending and its largest descending.
 */
export function sortKeyOf(doc: unknown, path: string, direction: 1 | -1): unknown {
  const values: unknown[] = [];
  collectPathValues(doc, path.split('.'), 0, values);
  if (values.length === 0) return null;
  let best = values[0];
  for (const candidate of values) {
    const order = compareBson(candidate, best);
    if (direction === 1 ? order < 0 : order > 0) best = candidate;
  }
  return best;
}

function sortFields(spec: SortDirections): [string, 1 | -1][] {
  const fields = Object.entries(spec);
  for (const [field, direction] of fields) {
    if (direction !== 1 && direction !== -1) {
      throw new Error(`sort direction for '${field}' must be 1 or -1`);
    }
  }
  return fields;
}

/**
 * Returns a new array with `docs` in MongoDB sort order for `spec`. Stable: documents with equal
 * keys keep their input order. Keys are computed once per document.
 */
export function sortDocuments<T>(docs: readonly T[], spec: SortDirections): T[] {
  const fields = sortFields(spec);
  if (fields.length === 0) return [...docs];
  const keyed = docs.map((doc) => ({ doc, keys: fields.map(([path, dir]) => sortKeyOf(doc, path, dir)) }));
  keyed.sort((x, y) => {
    for (let i = 0; i < fields.length; i++) {
      const order = compareBson(x.keys[i], y.keys[i]);
      if (order !== 0) return fields[i]?.[1] === -1 ? -order : order;
    }
    return 0;
  });
  return keyed.map((entry) => entry.doc);
}
