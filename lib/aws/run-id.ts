import { randomBytes } from 'node:crypto';
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
