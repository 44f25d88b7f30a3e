import { Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import fc from 'fast-check';
import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { newIdSlot, partitionValueOf, readIdInto } from '../../lib/matching/index.js';
import {
  DEFAULT_SHARD_OPTIONS,
  parsePlan,
  planBoundaries,
  planJson,
  readUsable,
  type ShardPlan,
  shardCount,
  shardFilter,
  shardOf,
  shardRanges,
} from '../../lib/runs/shards/plan.js';
import { compareBson } from '../../lib/store/bson-order.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { sampleField, sampleSizeFor } from '../../lib/store/sample-field.js';

const HEXES = ['000000000000000000000001', '65a1b2c3d4e5f60718293a4b', 'ff0000000000000000000000'];
const SAFE = Number.MAX_SAFE_INTEGER;

/** Partition values of every kind the stores hand out, usable or not, from small pools so that ties happen. */
const scalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -5, max: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom(-2.5, 0.1, 1.5, -0, 1e300, -1e300, 2 ** 60, SAFE, -SAFE) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      Long.fromNumber(3),
      Long.fromNumber(-4),
      Long.fromBigInt(2n ** 60n),
      Long.fromBigInt(-(2n ** 60n)),
      Long.fromNumber(SAFE),
      Long.fromBigInt(BigInt(SAFE) + 1n),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(new Int32(7), new Double(2.25)) },
  { weight: 1, arbitrary: fc.constantFrom(Decimal128.fromString('3'), Decimal128.fromString('0.1')) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.constantFrom('a', 'B', 'é', '𝔸', '\uFFFD', '', 'ЛС-001', 'ЛС-002', 'z'),
      fc.string({ unit: 'grapheme', maxLength: 3 }),
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...HEXES).map((hex) => new ObjectId(hex)) },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, new Date(0), { x: 1 }, { $ref: 'c', $id: 1 }) },
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
);

/** A document with its partition value at `p` and at `a.b` (sometimes through an array, sometimes missing). */
const documentArbitrary = fc.record(
  {
    p: value,
    a: fc.oneof(
      value.map((b) => ({ b })),
      fc.array(
        value.map((b) => ({ b })),
        { maxLength: 2 },
      ),
      fc.constant('not a document'),
      fc.constant({}),
    ),
  },
  { requiredKeys: [] },
);

async function ids(store: EmbeddedDocumentStore, filter: Document): Promise<number[]> {
  const found: number[] = [];
  for await (const document of store.find('c', filter)) found.push(document._id as number);
  return found;
}

/** The matcher's view: usable when it reads a partition value (number, string, ObjectId) at the path. */
function matcherAccepts(document: Document, field: string): boolean {
  const raw = partitionValueOf(document, field.split('.'));
  return raw !== undefined && readIdInto(raw, newIdSlot());
}

describe('shard plan: key ranges and their filters', () => {
  it('every document falls in exactly one shard, the one shardOf names; rejected ones in shard 0; shards in key order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(documentArbitrary, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom('p', 'a.b'),
        fc.integer({ min: 1, max: 60 }),
        async (raw, wanted, field, sampleSize) => {
          const documents = raw.map((document, _id) => ({ _id, ...document }));
          const store = new EmbeddedDocumentStore({ collections: { c: documents } });
          const values = await sampleField(store, 'c', field, sampleSize);
          const boundaries = planBoundaries([{ values, estimatedCount: documents.length }], wanted);
          const plan: ShardPlan = {
            runId: 'r',
            partitionBy: field,
            estimatedRecords: documents.length,
            shards: shardRanges(boundaries),
          };
          expect(plan.shards.length).toBeLessThanOrEqual(wanted);
          // plan.json round-trips every boundary.
          expect(parsePlan(planJson(plan))).toEqual(plan);
          const shardOfDocument = new Map<number, number>();
          for (const range of plan.shards) {
            for (const id of await ids(store, shardFilter(plan, range.shard))) {
              expect(shardOfDocument.has(id), `document ${id} in two shards`).toBe(false);
              shardOfDocument.set(id, range.shard);
            }
          }
          expect(shardOfDocument.size).toBe(documents.length);
          const usableByShard: unknown[][] = plan.shards.map(() => []);
          for (const document of documents) {
            const shard = shardOfDocument.get(document._id) as number;
            const partition = partitionValueOf(document, field.split('.'));
            const accepted = matcherAccepts(document, field);
            // The filters' view of a usable value is the matcher's (no plain {$oid} objects here).
            expect(accepted).toBe(partition !== undefined && readUsable(partition, newIdSlot()));
            expect(shard).toBe(accepted ? shardOf(plan, partition) : 0);
            if (accepted) usableByShard[shard]?.push(partition);
          }
          // Ranges in key order: every usable value of a shard is below every one of the next.
          for (let shard = 0; shard + 1 < usableByShard.length; shard++) {
            for (const low of usableByShard[shard] ?? []) {
              for (const high of usableByShard[shard + 1] ?? []) expect(compareBson(low, high)).toBe(-1);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('one partition value cannot be split: the plan has as many shards as distinct cuts', () => {
    const values = Array.from({ length: 100 }, () => 'hot');
    expect(planBoundaries([{ values, estimatedCount: 1_000_000 }], 8)).toEqual([]);
    const skewed = [...values, 'a', 'b', 'z'];
    // Everything below or at 'hot' and above it: at most three ranges, whatever was asked.
    expect(planBoundaries([{ values: skewed, estimatedCount: 103 }], 8).length).toBeLessThanOrEqual(2);
  });

  it('cuts at weighted quantiles of both collections', () => {
    // 100 accruals sampled from 1,000 (weight 10 each), 100 payments sampled from 100 (weight 1).
    const accruals = Array.from({ length: 100 }, (_, i) => i);
    const payments = Array.from({ length: 100 }, (_, i) => 1000 + i);
    const boundaries = planBoundaries(
      [
        { values: accruals, estimatedCount: 1000 },
        { values: payments, estimatedCount: 100 },
      ],
      2,
    );
    // 1,100 records: the median lies at accrual 55 (550 records below it).
    expect(boundaries).toEqual([55]);
    expect(shardRanges(boundaries)).toEqual([
      { shard: 0, to: 55 },
      { shard: 1, from: 55 },
    ]);
  });

  it('unusable values weigh on shard 0', () => {
    const values = [null, null, null, null, 1, 2, 3, 4];
    // Half of the records are rejected ones (shard 0): the cut falls below the first value.
    expect(planBoundaries([{ values, estimatedCount: 8 }], 2)).toEqual([1]);
  });

  it('orders boundaries across types as MongoDB does: numbers, strings, ObjectIds', () => {
    const oid = new ObjectId(HEXES[0]);
    const boundaries = planBoundaries([{ values: [oid, 'b', 2, 'a', 1, oid], estimatedCount: 6 }], 3);
    // Six records: two below 'a', two from 'a' below the ObjectId, two at it.
    expect(boundaries).toEqual(['a', oid]);
    const plan = { partitionBy: 'p', shards: shardRanges(boundaries) };
    expect(
      [1, 2, 1e300, 'a', 'b', '𝔸', oid, null, [1], Decimal128.fromString('9')].map((v) => shardOf(plan, v)),
    ).toEqual([0, 0, 0, 1, 1, 1, 2, 0, 0, 0]);
  });

  it('a filter spanning types is an $or of type-bracketed pieces, arrays kept out', () => {
    const plan = { partitionBy: 'a.b', shards: shardRanges([5, 'k']) };
    expect(shardFilter(plan, 1)).toEqual({
      $and: [
        {
          $or: [
            { 'a.b': { $type: 'double', $gte: 5, $lt: Number.POSITIVE_INFINITY } },
            { 'a.b': { $type: ['int', 'long'], $gte: 5, $lte: SAFE } },
            { 'a.b': { $type: 'string', $lt: 'k' } },
          ],
        },
        { a: { $not: { $type: 'array' } } },
        { 'a.b': { $not: { $type: 'array' } } },
      ],
    });
    expect(shardFilter({ partitionBy: 'p', shards: shardRanges([]) }, 0)).toEqual({});
  });

  it('shard count: as asked up to the maximum, or auto by estimated size', () => {
    const options = { autoThresholdRecords: 2_000_000, recordsPerShard: 1_000_000, maxShards: 1000 };
    expect(shardCount(5, 10, options)).toBe(5);
    expect(shardCount(5000, 10, options)).toBe(1000);
    expect(shardCount('auto', 1_999_999, options)).toBe(1);
    expect(shardCount('auto', 2_000_000, options)).toBe(2);
    expect(shardCount('auto', 2_500_001, options)).toBe(3);
    expect(shardCount('auto', 10 ** 12, options)).toBe(1000);
    expect(DEFAULT_SHARD_OPTIONS).toEqual(options);
  });

  it('samples whole small collections, under 5 % of large ones', () => {
    expect(sampleSizeFor(0, 1000)).toBe(0);
    expect(sampleSizeFor(500, 1000)).toBe(500);
    expect(sampleSizeFor(20_000, 1000)).toBe(1000);
    expect(sampleSizeFor(100_000, 100_000)).toBe(4999);
    expect(sampleSizeFor(10 ** 8, 100_000)).toBe(100_000);
  });

  it('refuses a plan.json whose shards do not tile the key space', () => {
    const good = planJson({
      runId: 'r',
      partitionBy: 'p',
      estimatedRecords: 1,
      shards: shardRanges([1, 'x']),
    });
    expect(() => parsePlan(good.replace('"to":1', '"to":2'))).toThrow(/does not start where/);
    expect(() => parsePlan(good.replace('"to":1', '"to":true'))).toThrow(/no partition value/);
  });
});
