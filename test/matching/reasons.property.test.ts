import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MatchOutcome, matchPayments, monthsBefore, type Policy } from '../../lib/matching/index.js';
import {
  type ReasonRecord,
  referenceCutoff,
  referenceMatchWithReasons,
} from '../support/reference-reasons.js';

/**
 * The limitation period (SPEC §7) and the reasons (SPEC §6) against a brute-force reference that
 * applies their definitions to the final state: both policies, with and without partitions, with
 * and without a period. Dates spread over five years (so periods of months to years bite), with
 * month ends and a leap day among them, at two times of day (so cutoffs fall between records of
 * one day); months from a small set (so same-month steps happen), not tied to the dates.
 */

const DAY = 86_400_000;
const START = Date.UTC(2020, 0, 1);
const EDGES = [Date.UTC(2024, 1, 29), Date.UTC(2024, 2, 31), Date.UTC(2023, 1, 28), Date.UTC(2021, 0, 31)];
const MONTHS = ['2021-03', '2022-07', '2023-01', '2024-02', '2024-12'];
const PERIODS: Array<[string | undefined, number | undefined]> = [
  [undefined, undefined],
  ['P6M', 6],
  ['P1Y', 12],
  ['P18M', 18],
  ['P3Y', 36],
];
const POLICIES: Policy[] = ['chronological', 'month-first'];

/** A coarse grid of days (month starts, the 29th, month ends) so cutoffs often land exactly on a record. */
const gridDay = fc
  .tuple(fc.integer({ min: 2021, max: 2024 }), fc.constantFrom(0, 1, 2, 6, 7, 8), fc.constantFrom(1, 29, 31))
  .map(([year, month, day]) => {
    const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    return Date.UTC(year, month, Math.min(day, last));
  });

const dateArbitrary = fc.oneof(
  { weight: 4, arbitrary: gridDay },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5 * 365 }).map((d) => START + d * DAY) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGES) },
);

const recordArbitrary = fc.record({
  date: fc.tuple(dateArbitrary, fc.constantFrom(0, 12 * 3_600_000)).map(([d, t]) => d + t),
  month: fc.constantFrom(...MONTHS),
  account: fc.constantFrom('A', 'B', 'C'),
});

const sideArbitrary = fc.array(recordArbitrary, { maxLength: 30 });

function withIds(
  specs: readonly { date: number; month: string; account: string }[],
  first: number,
): Array<ReasonRecord & { account: string }> {
  return specs.map((spec, i) => ({ id: first + i, ...spec }));
}

function asDocuments(records: readonly (ReasonRecord & { account: string })[]) {
  return records.map((r) => ({ id: r.id, date: new Date(r.date), month: r.month, account: r.account }));
}

async function actual(
  accruals: readonly (ReasonRecord & { account: string })[],
  payments: readonly (ReasonRecord & { account: string })[],
  policy: Policy,
  period: string | undefined,
  partitioned: boolean,
): Promise<MatchOutcome> {
  return matchPayments(asDocuments(accruals), asDocuments(payments), {
    policy,
    ...(partitioned ? { partitionBy: 'account' } : {}),
    ...(period === undefined ? {} : { limitationPeriod: period }),
  });
}

function expected(
  accruals: readonly (ReasonRecord & { account: string })[],
  payments: readonly (ReasonRecord & { account: string })[],
  policy: Policy,
  months: number | undefined,
  partitioned: boolean,
) {
  const groups = partitioned ? ['A', 'B', 'C'] : [undefined];
  const matches: string[] = [];
  const unmatched = new Map<number, string>();
  const unpaid = new Map<number, string>();
  for (const group of groups) {
    const inGroup = (r: { account: string }) => group === undefined || r.account === group;
    const outcome = referenceMatchWithReasons(
      accruals.filter(inGroup),
      payments.filter(inGroup),
      policy,
      months,
    );
    matches.push(...outcome.matches);
    for (const [id, reason] of outcome.unmatchedPayments) unmatched.set(id, reason);
    for (const [id, reason] of outcome.unpaidAccruals) unpaid.set(id, reason);
  }
  return { matches, unmatched, unpaid };
}

function tally(reasons: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const reason of reasons) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}

function nonZero(counts: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

describe('limitation period and reasons against the brute-force reference', () => {
  for (const policy of POLICIES) {
    for (const partitioned of [false, true]) {
      it(`${policy}, ${partitioned ? 'partitioned' : 'global'}: same matches and the reason of every leftover`, async () => {
        await fc.assert(
          fc.asyncProperty(
            sideArbitrary,
            sideArbitrary,
            fc.constantFrom(...PERIODS),
            async (accrualSpecs, paymentSpecs, [period, months]) => {
              const accruals = withIds(accrualSpecs, 1);
              const payments = withIds(paymentSpecs, 1001);
              const outcome = await actual(accruals, payments, policy, period, partitioned);
              const want = expected(accruals, payments, policy, months, partitioned);
              const matches = [...outcome.matches()].map(
                (m) => `P${String(m.payment.id)}→A${String(m.accrual.id)} ${m.rule}`,
              );
              // Partitions are processed in order; within one, matches are in processing order.
              expect(matches).toEqual(want.matches);
              const unmatched = new Map(
                [...outcome.unmatchedPayments()].map((r) => [r.id as number, r.reason]),
              );
              const unpaid = new Map([...outcome.unpaidAccruals()].map((r) => [r.id as number, r.reason]));
              expect(unmatched).toEqual(want.unmatched);
              expect(unpaid).toEqual(want.unpaid);
              expect(nonZero(outcome.stats.reasons.unmatchedPayments)).toEqual(
                tally(want.unmatched.values()),
              );
              expect(nonZero(outcome.stats.reasons.unpaidAccruals)).toEqual(tally(want.unpaid.values()));
            },
          ),
          { numRuns: 300 },
        );
      });
    }
  }
});

describe('calendar arithmetic of the cutoff', () => {
  it('agrees with Date arithmetic on any time and period', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1600, 0, 1), max: Date.UTC(2400, 0, 1) }),
        fc.integer({ min: 1, max: 1200 }),
        (ms, months) => {
          expect(monthsBefore(ms, months)).toBe(referenceCutoff(ms, months));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
