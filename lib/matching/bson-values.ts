import { ObjectId } from 'bson';

/**
 * Recognition of BSON values without depending on one copy of the `bson` package: the driver and
 * the embedded store may hand us instances from different module copies, so besides `instanceof`
 * we trust the `_bsontype` tag every bson class carries.
 */

type Tagged = { readonly _bsontype?: unknown };

/** The `_bsontype` tag of a bson class instance, or undefined for anything else. */
export function bsonTypeOf(value: object): string | undefined {
  const tag = (value as Tagged)._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

/** Lower-case 24-digit hex of an ObjectId instance, or undefined when `value` is not one. */
export function objectIdHex(value: object): string | undefined {
  if (value instanceof ObjectId) return value.toHexString();
  if (bsonTypeOf(value) === 'ObjectId') {
    const hex = (value as { toHexString?: () => unknown }).toHexString?.();
    return typeof hex === 'string' ? hex.toLowerCase() : undefined;
  }
  return undefined;
}

const HEX24 = /^[0-9a-fA-F]{24}$/;

/** `{"$oid": hex}` as found in Extended JSON files that were read as plain JSON. */
export function extendedJsonOidHex(value: object): string | undefined {
  const hex = (value as { $oid?: unknown }).$oid;
  return typeof hex === 'string' && HEX24.test(hex) ? hex.toLowerCase() : undefined;
}

const INTEGER_TEXT = /^-?\d{1,20}$/;

/**
 * The number inside a BSON numeric wrapper (`Int32`, `Double`, `Long` within ±2^53) or its
 * canonical Extended JSON form (`$numberInt`, `$numberLong`, `$numberDouble`); NaN otherwise.
 * EJSON parsing with `relaxed: false` turns every plain number into such a wrapper, so ids and
 * months read from files arrive this way.
 */
export function wrappedNumber(value: object): number {
  const tag = bsonTypeOf(value);
  if (tag === 'Int32' || tag === 'Double') {
    const inner = (value as { value?: unknown }).value;
    return typeof inner === 'number' ? inner : Number.NaN;
  }
  if (tag === 'Long') {
    // From its two halves, not its text: the MongoDB store hands every int64 out as a Long, so
    // this runs once per record. high·2^32 + low is exact below 2^53 and rounds to an unsafe
    // integer at or above it.
    const { high, low, unsigned } = value as { high?: unknown; low?: unknown; unsigned?: unknown };
    if (typeof high === 'number' && typeof low === 'number') {
      const n = (unsigned === true ? high >>> 0 : high) * 4294967296 + (low >>> 0);
      return Number.isSafeInteger(n) ? n : Number.NaN;
    }
    const text = String(value);
    const n = Number(text);
    return INTEGER_TEXT.test(text) && Number.isSafeInteger(n) ? n : Number.NaN;
  }
  if (tag !== undefined) return Number.NaN;
  const ejson = value as { $numberInt?: unknown; $numberLong?: unknown; $numberDouble?: unknown };
  const text =
    typeof ejson.$numberInt === 'string'
      ? ejson.$numberInt
      : typeof ejson.$numberLong === 'string'
        ? ejson.$numberLong
        : undefined;
  if (text !== undefined) {
    const n = Number(text);
    return INTEGER_TEXT.test(text) && Number.isSafeInteger(n) ? n : Number.NaN;
  }
  if (typeof ejson.$numberDouble === 'string') return Number(ejson.$numberDouble);
  return Number.NaN;
}

const MAX_DESCRIBED = 60;

/** A short, readable rendering of an input value for rejection reasons. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > MAX_DESCRIBED ? `${value.slice(0, MAX_DESCRIBED)}…` : value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
    case 'boolean':
    case 'symbol':
    case 'function':
      return String(typeof value === 'function' ? 'a function' : value);
  }
  if (value === null || typeof value !== 'object') return 'null';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (Array.isArray(value)) return 'an array';
  const hex = objectIdHex(value);
  if (hex !== undefined) return `ObjectId("${hex}")`;
  const tag = bsonTypeOf(value);
  if (tag !== undefined) return `${tag}(${String(value)})`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return Object.prototype.toString.call(value);
    return text.length > MAX_DESCRIBED ? `${text.slice(0, MAX_DESCRIBED)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
