import { randomUUID } from 'node:crypto';
import { EJSON, Long, ObjectId } from 'bson';
import { parseIsoDate } from '../matching/dates.js';
import { defineField } from '../matching/json-safe.js';
import { dbRefAsDocument } from './bson-order.js';

/**
 * Extended JSON (canonical and relaxed) as MongoDB exports it, read the way the MongoDB store
 * hands documents out. bson's reader is the authority; {@link documentFromJson} takes a shortcut
 * for the wrappers every `mongoexport` line carries (`$oid`, `$date`, `$numberLong`, …), which
 * would otherwise cost a second parse of every record, and hands anything else to bson.
 */

/**
 * `{"$date": "<text>"}`: bson would read the text with `Date.parse`, which accepts impossible days
 * (`2024-02-30` becomes March 1st), `24:00`, prose such as `March 7, 2024`, and text without an
 * offset as local time (the spec says UTC). So each such pair is rewritten before bson sees it:
 * text that is strict ISO 8601 (lib/matching/dates.ts `parseIsoDate`) becomes the exact epoch
 * milliseconds, and any other text is parked under {@link UNPARSED_DATE_KEY} and restored as a plain
 * `{ $date: text, …other keys }` object: as `date` or `month` the matcher rejects its record as
 * unparseable (with the text kept), in any other field it is carried through as written. Text in
 * the usual `mongoexport` form, UTC with `Z` and a day up to 28, is left to bson, which reads it
 * exactly.
 *
 * The pattern runs on the raw text, so it only takes a key that starts right after `{` or `,` (and
 * JSON white space): a quote there opens a key, never the inside of a string. The key may be
 * written `$date` or `\u0024date`; other escapes inside the key are not recognised.
 */
const DATE_STRING =
  /(?<=[{,][ \t\r\n]*)"(?:\$|\\u0024)date"[ \t\r\n]*:[ \t\r\n]*"(?!\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,3})?Z")((?:[^"\\]|\\.)*)"/g;

/**
 * Where a `$date` text that is not strict ISO 8601 waits until the document is parsed. Unique per
 * process, so no key in the data can be mistaken for it.
 */
const UNPARSED_DATE_KEY = `$unparsedDate:${randomUUID()}`;

function rewriteDateString(pair: string, literal: string): string {
  const text = literal.includes('\\') ? (JSON.parse(`"${literal}"`) as string) : literal;
  const ms = parseIsoDate(text);
  if (Number.isNaN(ms)) return `"${UNPARSED_DATE_KEY}":"${literal}"`;
  // The common case, text with `Z` or an offset, means the same instant to bson: leave it.
  return Date.parse(text) === ms ? pair : `"$date":{"$numberLong":"${ms}"}`;
}

/** `{ $date: text, …the other keys }` for an object holding a parked `$date` text, else undefined. */
function restoreUnparsedDate(record: Record<string, unknown>): Record<string, unknown> | undefined {
  const text = record[UNPARSED_DATE_KEY];
  if (typeof text !== 'string') return undefined;
  const restored: Record<string, unknown> = { $date: text };
  for (const key of Object.keys(record)) {
    if (key !== UNPARSED_DATE_KEY) defineField(restored, key, promoteNumbers(record[key]));
  }
  return restored;
}

interface BsonNumberWrapper {
  readonly _bsontype: 'Int32' | 'Double' | 'Long';
  valueOf(): number;
  toBigInt?(): bigint;
  toNumber?(): number;
}

function isBsonNumberWrapper(value: object): value is BsonNumberWrapper {
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return tag === 'Int32' || tag === 'Double' || tag === 'Long';
}

/**
 * Canonical-mode EJSON keeps numbers wrapped (Int32, Double, Long). The driver hands out plain
 * numbers for int32/double; do the same, and for a Long that is a safe integer (the MongoDB store
 * keeps every int64 a Long; the matcher reads either). A Long beyond ±(2^53 − 1) stays a Long,
 * which the matcher rejects as an id from either store. Also restores parked `$date` texts, and
 * turns the DBRef objects bson makes of `{ $ref, $id, … }` back into the embedded documents the
 * server holds, so pipelines see their fields (`session.actions`) and `$type` says `'object'`.
 */
function promoteNumbers(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const dbRef = dbRefAsDocument(value);
  if (dbRef !== undefined) return promoteNumbers(dbRef);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = promoteNumbers(value[i]);
    return value;
  }
  if (isBsonNumberWrapper(value)) {
    if (value._bsontype !== 'Long') return value.valueOf();
    const big = value.toBigInt ? value.toBigInt() : BigInt(String(value));
    const asNumber = Number(big);
    return Number.isSafeInteger(asNumber) ? asNumber : value;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    const restored = restoreUnparsedDate(record);
    if (restored !== undefined) return restored;
    for (const key of Object.keys(record)) {
      const current = record[key];
      const promoted = promoteNumbers(current);
      // defineProperty, not assignment: a `__proto__` key must stay a plain data property.
      if (promoted !== current) defineField(record, key, promoted);
    }
  }
  return value;
}

/**
 * A document from Extended JSON text, by bson's reader (with the strict `$date` text rule):
 * the reference {@link documentFromJson} agrees with.
 *
 * @throws Error from JSON.parse or bson for text that is not (Extended) JSON.
 */
export function documentFromText(text: string): unknown {
  return promoteNumbers(EJSON.parse(text.replace(DATE_STRING, rewriteDateString), { relaxed: false }));
}

const INT64_BOUND = 2 ** 63;
/** `$numberLong` text with at most 15 digits: always a safe integer. */
const SAFE_LONG_TEXT = /^(?:0|-?[1-9]\d{0,14})$/;
/** `$numberInt` text with at most 9 digits: always an int32. */
const SHORT_INT_TEXT = /^(?:0|-?[1-9]\d{0,8})$/;
const DECIMAL_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const OBJECT_ID_TEXT = /^[0-9a-fA-F]{24}$/;
/** Epoch milliseconds as `$numberLong` text: within a Date's range at 16 digits. */
const EPOCH_MS_TEXT = /^(?:0|-?[1-9]\d{0,15})$/;

/**
 * A plain JSON number as bson's canonical reader, then {@link promoteNumbers}, leaves it: an
 * integer beyond ±(2^53 − 1) within the int64 range becomes a Long, anything else stays a number.
 */
function numberValue(value: number): unknown {
  if (Number.isSafeInteger(value) || !Number.isInteger(value)) return value;
  return value >= -INT64_BOUND && value <= INT64_BOUND ? Long.fromNumber(value) : value;
}

/**
 * The value of a one-key wrapper object that every export is full of, or undefined when it is
 * not one of those in its plain form (then bson reads it).
 */
function commonWrapper(key: string, inner: unknown): unknown {
  if (typeof inner === 'string') {
    switch (key) {
      case '$date': {
        const ms = parseIsoDate(inner);
        // Not strict ISO 8601: kept as written, the matcher rejects it (see DATE_STRING).
        return Number.isNaN(ms) ? { $date: inner } : new Date(ms);
      }
      case '$oid':
        return OBJECT_ID_TEXT.test(inner) ? new ObjectId(inner) : undefined;
      case '$numberLong':
        return SAFE_LONG_TEXT.test(inner) ? Number(inner) : undefined;
      case '$numberInt':
        return SHORT_INT_TEXT.test(inner) ? Number(inner) : undefined;
      case '$numberDouble':
        return DECIMAL_TEXT.test(inner) ? Number(inner) : undefined;
      default:
        return undefined;
    }
  }
  if (key === '$date' && inner !== null && typeof inner === 'object') {
    let only: string | undefined;
    for (const innerKey in inner) {
      if (only !== undefined) return undefined;
      only = innerKey;
    }
    const ms = (inner as Record<string, unknown>).$numberLong;
    if (only === '$numberLong' && typeof ms === 'string' && EPOCH_MS_TEXT.test(ms))
      return new Date(Number(ms));
  }
  return undefined;
}

/** The document bson makes of `record`, an object with a key starting with `$` (untouched so far). */
function wrapperValue(record: Record<string, unknown>): unknown {
  let only: string | undefined;
  let count = 0;
  for (const key in record) {
    only = key;
    if (++count > 1) break;
  }
  if (count === 1 && only !== undefined) {
    const common = commonWrapper(only, record[only]);
    if (common !== undefined) return common;
  }
  return documentFromText(JSON.stringify(record));
}

/**
 * Turns a value parsed by `JSON.parse` into the document bson's Extended JSON reader makes of
 * the same text ({@link documentFromText}), in place where it can. Objects without `$` keys are
 * walked, the common wrappers are converted directly, and any other object with a `$` key (a
 * DBRef, `$numberDecimal`, `$binary`, a wrapper with extra keys, …) is read by bson. A key with
 * a NUL character is refused as bson refuses it.
 *
 * @throws Error for Extended JSON that bson refuses (a malformed `$oid`, …).
 */
export function documentFromJson(value: unknown): unknown {
  if (typeof value === 'number') return numberValue(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const element = value[i];
      if (typeof element === 'object' || typeof element === 'number') value[i] = documentFromJson(element);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key.charCodeAt(0) === 36 || key.includes('\u0000')) return wrapperValue(record);
  }
  for (const key in record) {
    const field = record[key];
    if (typeof field !== 'object' && typeof field !== 'number') continue;
    const converted = documentFromJson(field);
    // defineProperty, not assignment: a `__proto__` key must stay a plain data property.
    if (converted !== field) defineField(record, key, converted);
  }
  return record;
}
