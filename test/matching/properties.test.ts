import { ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MatchOutcome, matchPayments, type Policy } from '../../lib/matching/index.js';
import {
  compareRefIds,
  compareRefRecords,
  maximumMatchingSize,
  type RefId,
  type RefOutcome,
  type RefRecord,
  referenceMatch,
  withoutRepeatedIds,
} from '../support/reference-matcher.js';
import { shuffled } from './helpers.js';

/**
 * Random collections built to stress ordering: dates from six days (two times of day) written in
 * every accepted form, months from a handful of values in every form, ids of all kinds from
 * small pools (so duplicates and ties happen), plus a few broken records. Each generated record
 * knows what it means, which is what the reference matcher is given.
 */

const DAY = 86_400_000;
const JAN1 = Date.UTC(2024, 0, 1);
const HEXES = ['000000000000000000000001', '65a1b2c3d4e5f60718293a4b', 'ff0000000000000000000000'];
const POLICIES: Policy[] = ['chronological', 'month-first'];

interface Field<T> {
  readonly raw: unknown;
  readonly value: T;
}

const idArbitrary: fc.Arbitrary<Field<RefId>> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .integer({ min: -2, max: 14 })
      .map((n) => ({ raw: n, value: { kind: 0 as const, value: n === 0 ? 0 : n } })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(0.5, 2.5, -1.25)
      .map((n) => ({ raw: n, value: { kind: 0 as const, value: n } })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('a', 'b', 'B', 'é', '\uFFFF', '\uE000', '\u{1F600}', '\u{10000}', 'a\u{1F600}', '')
      .map((s) => ({ raw: s, value: { kind: 1 as const, value: s } })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...HEXES), fc.boolean()).map(([hex, asExtendedJson]) => ({
      raw: asExtendedJson ? { $oid: hex } : new ObjectId(hex),
      value: { kind: 2 as const, value: hex },
    })),
  },
);

const dateArbitrary: fc.Arbitrary<Field<number>> = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.constantFrom(0, 12), fc.integer({ min: 0, max: 5 }))
  .map(([day, hour, form]) => {
    const ms = JAN1 + (day - 1) * DAY + hour * 3_600_000;
    const iso = new Date(ms).toISOString();
    const raws: unknown[] = [
      new Date(ms),
      hour === 0 ? iso.slice(0, 10) : iso,
      iso.replace('.000Z', ''),
      new Date(ms + 3 * 3_600_000).toISOString().replace('.000Z', '+03:00'),
      { $date: iso },
      { $date: ms },
    ];
    return { raw: raws[form], value: ms };
  });

const monthArbitrary: fc.Arbitrary<Field<number | string>> = fc.constantFrom(
  { raw: 1, value: 1 },
  { raw: 2, value: 2 },
  { raw: '2024-01', value: '2024-01' },
  { raw: '2024-02', value: '2024-02' },
  { raw: new Date(Date.UTC(2024, 0, 15)), value: '2024-01' },
  { raw: { $date: '2024-02-10T00:00:00Z' }, value: '2024-02' },
  { raw: '2024-02-20', value: '2024-02' },
);

type Breakage = 'none' | 'bad-month' | 'bad-date' | 'no-id' | 'not-object';

interface Spec {
  readonly id: Field<RefId>;
  readonly date: Field<number>;
  readonly month: Field<number | string>;
  readonly account: unknown;
  readonly breakage: Breakage;
}

const specArbitrary: fc.Arbitrary<Spec> = fc.record({
  id: idArbitrary,
  date: dateArbitrary,
  month: monthArbitrary,
  account: fc.constantFrom<unknown>('A', 'B', 3),
  breakage: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Breakage>('none') },
    { weight: 1, arbitrary: fc.constantFrom<Breakage>('bad-month', 'bad-date', 'no-id', 'not-object') },
  ),
});

/** A generated record and what it means. */
interface Generated {
  readonly tag: string;
  readonly raw: unknown;
  readonly account: unknown;
  /** Present when the id is readable (it then counts for duplicates even if the record is broken). */
  readonly id: RefId | undefined;
  /** Present when the record is usable apart from duplicates. */
  readonly ref: RefRecord | undefined;
}

function build(spec: Spec, tag: string): Generated {
  const record: Record<string, unknown> = {
    id: spec.id.raw,
    date: spec.date.raw,
    month: spec.month.raw,
    tag,
    account: spec.account,
  };
  const ref: RefRecord = { key: tag, id: spec.id.value, date: spec.date.value, month: spec.month.value };
  switch (spec.breakage) {
    case 'none':
      return { tag, raw: record, account: spec.account, id: spec.id.value, ref };
    case 'bad-month':
      return { tag, raw: { ...record, month: 13 }, account: spec.account, id: spec.id.value, ref: undefined };
    case 'bad-date':
      return {
        tag,
        raw: { ...record, date: '2024-02-30' },
        account: spec.account,
        id: spec.id.value,
        ref: undefined,
      };
    case 'no-id': {
      const { id: _, ...rest } = record;
      return { tag, raw: rest, account: spec.account, id: undefined, ref: undefined };
    }
    case 'not-object':
      return { tag, raw: tag, account: spec.account, id: undefined, ref: undefined };
  }
}

const collection = (prefix: string, maxLength: number) =>
  fc.array(specArbitrary, { maxLength }).map((specs) => specs.map((spec, i) => build(spec, `${prefix}${i}`)));

const inputs = (maxLength: number) =>
  fc.record({ accruals: collection('a', maxLength), payments: collection('p', maxLength) });

/** The records the reference may use: valid ones whose id is not repeated in their collection. */
function usable(records: readonly Generated[]): RefRecord[] {
  const ids = records.flatMap((r) => (r.id === undefined ? [] : [r.id]));
  return withoutRepeatedIds(
    records.flatMap((r) => (r.ref === undefined ? [] : [r.ref])),
    ids,
  );
}

function tagOf(record: unknown): string {
  return typeof record === 'string' ? record : String((record as { tag?: unknown }).tag);
}

function asRefOutcome(outcome: MatchOutcome): RefOutcome {
  return {
    matches: [...outcome.matches()].map((m) => ({
      payment: tagOf(m.payment),
      accrual: tagOf(m.accrual),
      rule: m.rule,
    })),
    unmatchedPayments: [...outcome.unmatchedPayments()].map(tagOf),
    unpaidAccruals: [...outcome.unpaidAccruals()].map(tagOf),
  };
}

function rejectedTags(outcome: MatchOutcome, source: 'accrual' | 'payment'): string[] {
  return [...outcome.rejected()].filter((r) => r.source === source).map((r) => tagOf(r.record));
}

const raws = (records: readonly Generated[]) => records.map((r) => r.raw);

describe('matcher properties on random data with many ties', () => {
  it.each(POLICIES)('%s agrees with the brute-force reference', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        const outcome = await matchPayments(raws(accruals), raws(payments), { policy });
        expect(asRefOutcome(outcome)).toEqual(referenceMatch(usable(accruals), usable(payments), policy));
      }),
      { numRuns: 500 },
    );
  });

  it.each(POLICIES)(
    '%s agrees with the reference on larger collections (dozens of records per date)',
    async (policy) => {
      await fc.assert(
        fc.asyncProperty(inputs(80), async ({ accruals, payments }) => {
          const outcome = await matchPayments(raws(accruals), raws(payments), { policy });
          expect(asRefOutcome(outcome)).toEqual(referenceMatch(usable(accruals), usable(payments), policy));
        }),
        { numRuns: 100 },
      );
    },
  );

  it.each(POLICIES)('%s gives the same result for input already in (date, id) order', async (policy) => {
    const inOrder = (records: readonly Generated[]) =>
      [...records].sort((x, y) =>
        x.ref && y.ref ? compareRefRecords(x.ref, y.ref) : x.ref ? -1 : y.ref ? 1 : 0,
      );
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        const outcome = await matchPayments(raws(inOrder(accruals)), raws(inOrder(payments)), { policy });
        expect(asRefOutcome(outcome)).toEqual(referenceMatch(usable(accruals), usable(payments), policy));
      }),
      { numRuns: 200 },
    );
  });

  it.each(POLICIES)('%s pays one-to-one, only strictly earlier accruals', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        const matches = [...(await matchPayments(raws(accruals), raws(payments), { policy })).matches()];
        expect(new Set(matches.map((m) => tagOf(m.payment))).size).toBe(matches.length);
        expect(new Set(matches.map((m) => tagOf(m.accrual))).size).toBe(matches.length);
        for (const m of matches) expect(Date.parse(m.accrual.date)).toBeLessThan(Date.parse(m.payment.date));
      }),
      { numRuns: 150 },
    );
  });

  it('chronological matches as many payments as a maximum bipartite matching', async () => {
    await fc.assert(
      fc.asyncProperty(inputs(12), async ({ accruals, payments }) => {
        const outcome = await matchPayments(raws(accruals), raws(payments), { policy: 'chronological' });
        expect(outcome.stats.matched).toBe(maximumMatchingSize(usable(accruals), usable(payments)));
      }),
      { numRuns: 300 },
    );
  });

  it('month-first never matches more payments than chronological, and makes as many same-month matches as can be made', async () => {
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        const chronological = await matchPayments(raws(accruals), raws(payments), {
          policy: 'chronological',
        });
        const monthFirst = await matchPayments(raws(accruals), raws(payments), { policy: 'month-first' });
        expect(monthFirst.stats.matched).toBeLessThanOrEqual(chronological.stats.matched);
        // Pass 1 pays payments in date order from nested sets of eligible same-month accruals,
        // which is a maximum same-month matching; chronological spends some on other months.
        const mostSameMonth = maximumMatchingSize(usable(accruals), usable(payments), { sameMonth: true });
        expect(monthFirst.stats.sameMonth).toBe(mostSameMonth);
        expect(chronological.stats.sameMonth).toBeLessThanOrEqual(mostSameMonth);
      }),
      { numRuns: 200 },
    );
  });

  it.each(POLICIES)('%s gives the same result whatever the input order', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(14), fc.integer(), async ({ accruals, payments }, seed) => {
        const original = await matchPayments(raws(accruals), raws(payments), { policy });
        const reordered = await matchPayments(
          raws(shuffled(accruals, seed)),
          raws(shuffled(payments, seed + 1)),
          {
            policy,
          },
        );
        expect(asRefOutcome(reordered)).toEqual(asRefOutcome(original));
        const rejected = (o: MatchOutcome) =>
          [...o.rejected()].map((r) => `${r.source} ${tagOf(r.record)} ${r.reason}`).sort();
        expect(rejected(reordered)).toEqual(rejected(original));
      }),
      { numRuns: 150 },
    );
  });

  it.each(POLICIES)('%s accounts for every record exactly once, and its stats reconcile', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        const outcome = await matchPayments(raws(accruals), raws(payments), { policy });
        const { matches, unmatchedPayments, unpaidAccruals } = asRefOutcome(outcome);
        const paymentTags = [
          ...matches.map((m) => m.payment),
          ...unmatchedPayments,
          ...rejectedTags(outcome, 'payment'),
        ];
        const accrualTags = [
          ...matches.map((m) => m.accrual),
          ...unpaidAccruals,
          ...rejectedTags(outcome, 'accrual'),
        ];
        expect([...paymentTags].sort()).toEqual(payments.map((p) => p.tag).sort());
        expect([...accrualTags].sort()).toEqual(accruals.map((a) => a.tag).sort());
        const sameMonth = matches.filter((m) => m.rule === 'same-month').length;
        expect(outcome.stats).toEqual({
          accruals: accruals.length,
          payments: payments.length,
          matched: matches.length,
          sameMonth,
          oldest: matches.length - sameMonth,
          unmatched: unmatchedPayments.length,
          unpaid: unpaidAccruals.length,
          rejected: [...outcome.rejected()].length,
          reasons: outcome.stats.reasons,
          durationMs: outcome.stats.durationMs,
        });
        const counted = (counts: Readonly<Record<string, number>>) =>
          Object.values(counts).reduce((sum, n) => sum + n, 0);
        expect(counted(outcome.stats.reasons.unmatchedPayments)).toBe(unmatchedPayments.length);
        expect(counted(outcome.stats.reasons.unpaidAccruals)).toBe(unpaidAccruals.length);
      }),
      { numRuns: 150 },
    );
  });

  it.each(POLICIES)('%s streams unsorted async input to the same result as arrays', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(14), async ({ accruals, payments }) => {
        async function* stream(items: readonly unknown[]) {
          yield* items;
        }
        const streamed = await matchPayments(stream(raws(accruals)), stream(raws(payments)), { policy });
        const inMemory = await matchPayments(raws(accruals), raws(payments), { policy });
        expect(asRefOutcome(streamed)).toEqual(asRefOutcome(inMemory));
        expect([...streamed.rejected()]).toEqual([...inMemory.rejected()]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('many distinct months', () => {
  it.each(POLICIES)('%s agrees with the reference when months outnumber any small table', async (policy) => {
    // 40 calendar months and the 12 bare integer months, drawn independently of the dates.
    const months: (number | string)[] = [
      ...Array.from(
        { length: 40 },
        (_, i) => `20${String(20 + Math.floor(i / 12))}-${String((i % 12) + 1).padStart(2, '0')}`,
      ),
      ...Array.from({ length: 12 }, (_, i) => i + 1),
    ];
    const side = (prefix: string, count: number, salt: number) =>
      Array.from({ length: count }, (_, i) => {
        const date = JAN1 + ((i * 37 + salt) % 90) * DAY;
        const month = months[(i * 53 + salt * 7) % months.length] as number | string;
        return {
          raw: { id: i, date: new Date(date), month, tag: `${prefix}${i}` },
          ref: { key: `${prefix}${i}`, id: { kind: 0 as const, value: i }, date, month },
        };
      });
    const accruals = side('a', 500, 1);
    const payments = side('p', 450, 2);
    const outcome = await matchPayments(
      accruals.map((r) => r.raw),
      payments.map((r) => r.raw),
      { policy },
    );
    const expected = referenceMatch(
      accruals.map((r) => r.ref),
      payments.map((r) => r.ref),
      policy,
    );
    expect(asRefOutcome(outcome)).toEqual(expected);
    expect(expected.matches.filter((m) => m.rule === 'same-month').length).toBeGreaterThan(50);
  });
});

describe('partitioned matching properties', () => {
  const accounts: { value: unknown; id: RefId }[] = [
    { value: 'B', id: { kind: 1, value: 'B' } },
    { value: 3, id: { kind: 0, value: 3 } },
    { value: 'A', id: { kind: 1, value: 'A' } },
  ];
  const ACCOUNTS = accounts.sort((x, y) => compareRefIds(x.id, y.id));

  const ofAccount = (records: readonly Generated[], account: unknown) =>
    records.filter((r) => r.account === account);

  it.each(POLICIES)(
    '%s: equals running the unpartitioned matcher on each partition alone',
    async (policy) => {
      await fc.assert(
        fc.asyncProperty(inputs(16), async ({ accruals, payments }) => {
          const partitioned = await matchPayments(raws(accruals), raws(payments), {
            policy,
            partitionBy: 'account',
          });
          const perPartition: RefOutcome[] = [];
          for (const { value } of ACCOUNTS) {
            const alone = await matchPayments(
              raws(ofAccount(accruals, value)),
              raws(ofAccount(payments, value)),
              {
                policy,
              },
            );
            perPartition.push(asRefOutcome(alone));
          }
          expect(asRefOutcome(partitioned)).toEqual({
            matches: perPartition.flatMap((o) => o.matches),
            unmatchedPayments: perPartition.flatMap((o) => o.unmatchedPayments),
            unpaidAccruals: perPartition.flatMap((o) => o.unpaidAccruals),
          });
        }),
        { numRuns: 150 },
      );
    },
  );

  it.each(POLICIES)('%s: streaming inputs grouped by partition gives the same result', async (policy) => {
    await fc.assert(
      fc.asyncProperty(inputs(16), async ({ accruals, payments }) => {
        const grouped = (records: readonly Generated[]) =>
          ACCOUNTS.flatMap(({ value }) => ofAccount(records, value));
        async function* stream(items: readonly unknown[]) {
          yield* items;
        }
        const streamed = await matchPayments(
          stream(raws(grouped(accruals))),
          stream(raws(grouped(payments))),
          {
            policy,
            partitionBy: 'account',
          },
        );
        const inMemory = await matchPayments(raws(accruals), raws(payments), {
          policy,
          partitionBy: 'account',
        });
        expect(asRefOutcome(streamed)).toEqual(asRefOutcome(inMemory));
        expect(streamed.stats.rejected).toBe(inMemory.stats.rejected);
      }),
      { numRuns: 100 },
    );
  });
});
