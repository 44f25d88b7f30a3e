import { createHash, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Run ids are ULIDs: 10 characters of millisecond timestamp then 16 random characters, in
 * Crockford base32. They sort by creation time, are URL- and S3-key-safe, and cannot collide in
 * practice (80 random bits per millisecond).
 */
const CROCKFORD_BASE32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LENGTH = 10;
const RANDOM_LENGTH = 16;

/** The shape of a run id; the first character is at most 7 because the timestamp has 48 bits. */
export const RUN_ID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

const NOT_A_RUN_ID = 'must be a run id (26-character ULID)';

/** Validates a run id (path parameters, event fields) before it reaches DynamoDB or an S3 key. */
export const runIdSchema = z.string().regex(RUN_ID_PATTERN, NOT_A_RUN_ID);

/**
 * A new, time-sortable run id.
 *
 * @example
 * ```ts
 * newRunId(); // '01JDQ7ZK5X8M3V0R2T6Y9B4C1N'
 * ```
 */
export function newRunId(now: number = Date.now()): string {
  let time = '';
  let rest = Math.floor(now);
  for (let i = 0; i < TIME_LENGTH; i++) {
    time = CROCKFORD_BASE32.charAt(rest % 32) + time;
    rest = Math.floor(rest / 32);
  }
  // 256 is a multiple of 32, so `byte % 32` is uniform.
  const random = Array.from(randomBytes(RANDOM_LENGTH), (byte) => CROCKFORD_BASE32.charAt(byte % 32)).join(
    '',
  );
  return time + random;
}

/** True when `value` is a run id as made by {@link newRunId}. */
export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}

/** Throws ValidationError('runId', …) unless `value` is a run id. */
export function assertRunId(value: unknown): asserts value is string {
  if (!isRunId(value)) throw new ValidationError('runId', NOT_A_RUN_ID);
}

/**
 * The run id for an idempotency key: a SHA-256 of (scope, key) written in the ledger's run-id
 * alphabet (26 Crockford base32 characters, first one 0-7), so it passes `runIdSchema` and every
 * repetition of the key lands on the same ledger item, whose conditional create then makes one run.
 * Unlike `newRunId` it does not sort by time; 125 hash bits make collisions irrelevant.
 *
 * @example
 * ```ts
 * derivedRunId('event', 'import-2024-05-31'); // same value on every delivery of that import
 * ```
 */
export function derivedRunId(scope: 'http' | 'event', key: string): string {
  const digest = createHash('sha256').update(scope).update('\0').update(key, 'utf8').digest();
  let bits = BigInt(`0x${digest.toString('hex')}`) >> 128n; // the top 128 bits are plenty
  let id = '';
  for (let i = 0; i < 25; i++) {
    id = CROCKFORD_BASE32.charAt(Number(bits & 31n)) + id;
    bits >>= 5n;
  }
  return CROCKFORD_BASE32.charAt(Number(bits & 7n)) + id;
}
