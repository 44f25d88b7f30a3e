import { EJSON } from 'bson';
import { bsonTypeOf } from './bson-values.js';

/**
 * Makes carried-through field values JSON-safe with the semantics of
 * `EJSON.serialize(value, { relaxed: true })`: BSON values and dates become Extended JSON, plain
 * data passes through. Plain data (the overwhelmingly common case) skips EJSON entirely, which
 * would otherwise stringify and re-parse every value. One exception to relaxed mode: a Long
 * beyond ±2^53 is written as `{"$numberLong": "…"}`, not rounded to the nearest double (SPEC:
 * other fields are carried through untouched).
 */
export function toJsonSafe(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON has no -0; non-finite numbers need Extended JSON.
      if (value - value === 0) return value === 0 ? 0 : value;
      return EJSON.serialize(value, { relaxed: true });
    case 'undefined':
      return null;
  }
  if (value === null) return null;
  if (isPlainJson(value, 0)) return value;
  try {
    return EJSON.serialize(exactLongs(value, 0), { relaxed: true });
  } catch {
    // Values EJSON cannot express (e.g. cyclic structures) are kept as text rather than dropped.
    return String(value);
  }
}

const MAX_PLAIN_DEPTH = 32;

/**
 * `value` with every Long that a double cannot hold exactly replaced by its canonical Extended
 * JSON, which relaxed-mode EJSON would otherwise turn into a rounded number. Arrays and plain
 * objects are copied only where they hold such a Long; other values are returned as they are.
 */
function exactLongs(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth >= MAX_PLAIN_DEPTH) return value;
  if (bsonTypeOf(value) === 'Long') {
    const text = String(value);
    return Number.isSafeInteger(Number(text)) ? value : { $numberLong: text };
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const exact = exactLongs(value[i], depth + 1);
      if (exact === value[i]) continue;
      copy ??= [...value];
      copy[i] = exact;
    }
    return copy ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const current = (value as Record<string, unknown>)[key];
    const exact = exactLongs(current, depth + 1);
    if (exact === current) continue;
    copy ??= { ...value };
    defineField(copy, key, exact);
  }
  return copy ?? value;
}

/** Arrays and prototype-plain objects holding only strings, finite non-zero-sign numbers, booleans, null. */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return value - value === 0 && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/** Sets an own enumerable property, also for the key `__proto__` that `=` would not create. */
export function defineField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
