import { Long } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseRecord } from '../../lib/matching/index.js';

/**
 * The MongoDB store hands every int64 out as a Long (lib/store/mongo-store.ts), so the matcher
 * reads int64 ids from Long objects on every record: exactly, and only while they are safe
 * integers (|v| ≤ 2^53 − 1), as it reads them from files.
 */

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const record = (id: unknown) => ({ id, date: new Date('2024-04-01T00:00:00Z'), month: '2024-04' });

/** The reference: the id when the int64 is a safe integer, else a rejection. */
function expected(value: bigint): number | 'rejected' {
  return value >= -SAFE && value <= SAFE ? Number(value) : 'rejected';
}

function read(id: unknown): number | 'rejected' {
  const normalised = normaliseRecord(record(id));
  return normalised.ok ? (normalised.id as number) : 'rejected';
}

describe('int64 ids read from Long', () => {
  it.each([
    0n,
    -1n,
    SAFE,
    -SAFE,
    SAFE + 1n,
    -SAFE - 1n,
    SAFE + 2n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 32n,
    -(2n ** 32n) - 1n,
  ])('reads %s exactly, or rejects it beyond the safe integers', (value) => {
    expect(read(Long.fromBigInt(value))).toBe(expected(value));
  });

  it('agrees with the exact value for any int64', () => {
    const int64 = fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.bigInt({ min: -SAFE - 3n, max: -SAFE + 3n }),
      fc.bigInt({ min: SAFE - 3n, max: SAFE + 3n }),
    );
    fc.assert(
      fc.property(int64, (value) => {
        expect(read(Long.fromBigInt(value))).toBe(expected(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads an unsigned Long by its unsigned value', () => {
    expect(read(Long.fromBigInt(2n ** 40n, true))).toBe(2 ** 40);
    expect(read(Long.fromBigInt(2n ** 64n - 1n, true))).toBe('rejected');
  });
});
