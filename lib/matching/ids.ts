import { ObjectId } from 'bson';
import { extendedJsonOidHex, objectIdHex, wrappedNumber } from './bson-values.js';

/**
 * Record ids (and partition values) in the three kinds MongoDB can sort: numbers, strings and
 * ObjectIds. Kinds are numbered in MongoDB's cross-type sort order, so comparing kinds first and
 * values second reproduces how a `(date, id)` index orders documents.
 */
export const ID_NUMBER = 0;
export const ID_STRING = 1;
export const ID_OBJECT_ID = 2;
export type IdKind = typeof ID_NUMBER | typeof ID_STRING | typeof ID_OBJECT_ID;

/** A normalised id as exposed to callers. */
export type RecordId = number | string | ObjectId;

/**
 * Mutable holder that the hot ingest loop reuses for every record, so reading an id allocates
 * nothing. `num` is meaningful for numbers, `str` for strings and ObjectIds (lower-case hex).
 */
export interface IdSlot {
  kind: IdKind;
  num: number;
  str: string;
}

export function newIdSlot(): IdSlot {
  return { kind: ID_NUMBER, num: 0, str: '' };
}

/**
 * Reads an id-like value into `slot`. Accepts finite numbers (also BSON Int32/Double/Long and
 * their canonical Extended JSON), strings, ObjectId instances and `{"$oid": hex}`. Returns false
 * for anything else (NaN, ±Infinity, booleans, null, other objects).
 */
export function readIdInto(value: unknown, slot: IdSlot): boolean {
  if (typeof value === 'number') {
    if (value - value !== 0) return false;
    slot.kind = ID_NUMBER;
    // MongoDB compares -0 and 0 as equal; one representation keeps ranks and duplicates right.
    slot.num = value === 0 ? 0 : value;
    return true;
  }
  if (typeof value === 'string') {
    slot.kind = ID_STRING;
    slot.str = value;
    return true;
  }
  if (typeof value !== 'object' || value === null) return false;
  const hex = objectIdHex(value) ?? extendedJsonOidHex(value);
  if (hex !== undefined) {
    slot.kind = ID_OBJECT_ID;
    slot.str = hex;
    return true;
  }
  const n = wrappedNumber(value);
  if (n - n !== 0) return false;
  slot.kind = ID_NUMBER;
  slot.num = n === 0 ? 0 : n;
  return true;
}

/** Whether a string holds a UTF-16 code unit where UTF-16 order and code point order disagree. */
export const HIGH_CODE_UNIT = /[\ud800-\uffff]/;

/**
 * Compares strings by Unicode code point, which is also UTF-8 byte order and therefore MongoDB's
 * simple binary collation. JavaScript's `<` compares UTF-16 code units instead and puts astral
 * characters (surrogate pairs, 0xD800–0xDFFF) before BMP characters 0xE000–0xFFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) return codePointRank(x) - codePointRank(y);
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Moves surrogates above the rest of the BMP so that code units compare as code points do. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** BSON order of two slots: kind first, then numeric, code point or ObjectId byte order. */
export function compareSlots(a: IdSlot, b: IdSlot): number {
  if (a.kind !== b.kind) return a.kind - b.kind;
  if (a.kind === ID_NUMBER) return a.num < b.num ? -1 : a.num > b.num ? 1 : 0;
  if (a.kind === ID_STRING) return compareCodePoints(a.str, b.str);
  // Fixed-length lower-case hex compares like the 12 bytes it encodes.
  return a.str < b.str ? -1 : a.str > b.str ? 1 : 0;
}

export function copySlot(from: IdSlot, to: IdSlot): void {
  to.kind = from.kind;
  to.num = from.num;
  to.str = from.str;
}

/** The id as callers see it: a number, a string or an ObjectId. */
export function slotToRecordId(slot: IdSlot): RecordId {
  if (slot.kind === ID_NUMBER) return slot.num;
  if (slot.kind === ID_STRING) return slot.str;
  return ObjectId.createFromHexString(slot.str);
}

/** The id as written to JSON outputs: ObjectIds become Extended JSON `{"$oid": hex}`. */
export function slotToJson(slot: IdSlot): number | string | { $oid: string } {
  if (slot.kind === ID_NUMBER) return slot.num;
  if (slot.kind === ID_STRING) return slot.str;
  return { $oid: slot.str };
}

/** The id as used in rejection reasons: `17`, `"abc"`, `ObjectId("…")`. */
export function formatSlot(slot: IdSlot): string {
  if (slot.kind === ID_NUMBER) return String(slot.num);
  if (slot.kind === ID_STRING) return JSON.stringify(slot.str);
  return `ObjectId("${slot.str}")`;
}

const scratchA = newIdSlot();
const scratchB = newIdSlot();

/**
 * Orders two ids as MongoDB sorts them: numbers (int and double compared numerically), then
 * strings (binary, i.e. code point order), then ObjectIds (by their 12 bytes). Accepts every form
 * {@link readIdInto} accepts; throws a TypeError for anything else.
 *
 * @example
 * [3, 'b', new ObjectId(), 1.5, 'a'].sort(compareIds) // → [1.5, 3, 'a', 'b', ObjectId(…)]
 */
export function compareIds(a: unknown, b: unknown): number {
  if (!readIdInto(a, scratchA) || !readIdInto(b, scratchB)) {
    throw new TypeError('compareIds: ids must be finite numbers, strings or ObjectIds');
  }
  const order = compareSlots(scratchA, scratchB);
  return order < 0 ? -1 : order > 0 ? 1 : 0;
}
