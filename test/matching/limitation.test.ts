import { describe, expect, it } from 'vitest';
import {
  canonicalLimitationPeriod,
  limitationPeriodProblem,
  type MatchOutcome,
  matchPayments,
  monthsBefore,
  type Policy,
} from '../../lib/matching/index.js';

/** SPEC §7 by hand: the cutoff instant, month ends, leap days; both policies; and the reasons of SPEC §6. */

const POLICIES: Policy[] = ['chronological', 'month-first'];

function at(iso: string): number {
  return Date.parse(iso);
}

function record(id: number, iso: string, month: string) {
  return { id, date: new Date(iso), month };
}

async function run(
  accruals: ReturnType<typeof record>[],
  payments: ReturnType<typeof record>[],
  policy: Policy,
  limitationPeriod?: string,
): Promise<{ outcome: MatchOutcome; matches: string[]; unmatched: string[]; unpaid: string[] }> {
  const outcome = await matchPayments(accruals, payments, {
    policy,
    ...(limitationPeriod === undefined ? {} : { limitationPeriod }),
  });
  return {
    outcome,
    matches: [...outcome.matches()].map((m) => `P${String(m.payment.id)}→A${String(m.accrual.id)} ${m.rule}`),
    unmatched: [...outcome.unmatchedPayments()].map((r) => `P${String(r.id)} ${r.reason}`),
    unpaid: [...outcome.unpaidAccruals()].map((r) => `A${String(r.id)} ${r.reason}`),
  };
}

describe('the cutoff: the payment date moved back by the period on the UTC calendar', () => {
  it.each([
    ['2024-03-15T10:20:30.456Z', 12, '2023-03-15T10:20:30.456Z'],
    ['2024-02-29T00:00:00.000Z', 12, '2023-02-28T00:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', 48, '2020-02-29T23:59:59.999Z'],
    ['2024-03-31T12:00:00.000Z', 1, '2024-02-29T12:00:00.000Z'],
    ['2023-03-31T12:00:00.000Z', 1, '2023-02-28T12:00:00.000Z'],
    ['2024-05-31T00:00:00.000Z', 1, '2024-04-30T00:00:00.000Z'],
    ['2024-01-31T08:00:00.000Z', 36, '2021-01-31T08:00:00.000Z'],
    ['2024-08-31T00:00:00.000Z', 30, '2022-02-28T00:00:00.000Z'],
  ])('%s minus %i months is %s', (date, months, cutoff) => {
    expect(new Date(monthsBefore(at(date), months)).toISOString()).toBe(cutoff);
  });

  it('is -Infinity below the earliest date JavaScript can hold', () => {
    expect(monthsBefore(-8.64e15, 1)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('limitation period text', () => {
  it.each([
    ['P3Y', 'P3Y'],
    ['P36M', 'P3Y'],
    ['P2Y6M', 'P2Y6M'],
    ['P30M', 'P2Y6M'],
    ['P6M', 'P6M'],
    ['P3Y0M', 'P3Y'],
  ])('accepts %s as %s', (text, canonical) => {
    expect(limitationPeriodProblem(text)).toBeUndefined();
    expect(canonicalLimitationPeriod(text)).toBe(canonical);
  });

  it.each([
    ['P0Y', 'longer than zero'],
    ['P0M', 'longer than zero'],
    ['P1201M', 'at most 100 years'],
    ['P101Y', 'at most 100 years'],
    ['-P3Y', 'ISO 8601 duration'],
    ['P3D', 'ISO 8601 duration'],
    ['P1W', 'ISO 8601 duration'],
    ['P1YT1H', 'ISO 8601 duration'],
    ['P1.5Y', 'ISO 8601 duration'],
    ['p3y', 'ISO 8601 duration'],
    ['P', 'ISO 8601 duration'],
    ['3Y', 'ISO 8601 duration'],
    ['', 'ISO 8601 duration'],
  ])('refuses %j: %s', (text, problem) => {
    expect(limitationPeriodProblem(text)).toContain(problem);
  });

  it('is refused by the matcher like an unknown policy', async () => {
    await expect(matchPayments([], [], { limitationPeriod: 'P0Y' })).rejects.toThrow(TypeError);
  });

  it('is written canonical into the outcome', async () => {
    const { outcome } = await run([], [], 'chronological', 'P36M');
    expect(outcome.limitationPeriod).toBe('P3Y');
  });
});

describe.each(POLICIES)('%s: the oldest-accrual step skips time-barred accruals', (policy) => {
  const payment = record(1, '2024-03-15T10:00:00.000Z', '2024-03');
  const cutoff = '2023-03-15T10:00:00.000Z';
  const justBefore = '2023-03-15T09:59:59.999Z';

  it('takes an accrual dated exactly at the cutoff, not one a millisecond before it', async () => {
    const result = await run(
      [record(1, justBefore, '2023-01'), record(2, cutoff, '2023-02')],
      [payment],
      policy,
      'P1Y',
    );
    expect(result.matches).toEqual(['P1→A2 oldest']);
    expect(result.unpaid).toEqual(['A1 time-barred']);
  });

  it('leaves the payment unmatched when every earlier accrual is time-barred', async () => {
    const result = await run([record(1, justBefore, '2023-01')], [payment], policy, 'P1Y');
    expect(result.matches).toEqual([]);
    expect(result.unmatched).toEqual(['P1 time-barred']);
    expect(result.unpaid).toEqual(['A1 time-barred']);
  });

  it('matches the same accrual without a period', async () => {
    const result = await run([record(1, justBefore, '2023-01')], [payment], policy);
    expect(result.matches).toEqual(['P1→A1 oldest']);
  });

  it('ignores the period in the same-month step', async () => {
    const result = await run([record(1, '2014-03-15T00:00:00.000Z', '2024-03')], [payment], policy, 'P3Y');
    expect(result.matches).toEqual(['P1→A1 same-month']);
  });

  it('moves a leap day back to 28 February', async () => {
    const leap = record(1, '2024-02-29T00:00:00.000Z', '2024-02');
    const barred = await run([record(1, '2023-02-27T23:59:59.999Z', '2023-01')], [leap], policy, 'P1Y');
    expect(barred.unmatched).toEqual(['P1 time-barred']);
    const open = await run([record(1, '2023-02-28T00:00:00.000Z', '2023-01')], [leap], policy, 'P1Y');
    expect(open.matches).toEqual(['P1→A1 oldest']);
  });

  it('clamps a month end to the shorter month', async () => {
    const monthEnd = record(1, '2024-03-31T12:00:00.000Z', '2024-03');
    const barred = await run([record(1, '2024-02-29T11:59:59.999Z', '2024-01')], [monthEnd], policy, 'P1M');
    expect(barred.unmatched).toEqual(['P1 time-barred']);
    const open = await run([record(1, '2024-02-29T12:00:00.000Z', '2024-01')], [monthEnd], policy, 'P1M');
    expect(open.matches).toEqual(['P1→A1 oldest']);
  });
});

describe.each(POLICIES)('%s: every reason, by its definition', (policy) => {
  it('names each leftover with the reason that applies', async () => {
    const accruals = [
      // time-barred for the only later payment (P2), which has another month
      record(1, '2019-01-10T00:00:00.000Z', '2019-01'),
      // paid by P2 (oldest not time-barred)
      record(2, '2023-06-10T00:00:00.000Z', '2023-06'),
      // later payments exist and are not barred from it, but all are used: P2 took A2, and P3 is
      // earlier than it
      record(3, '2023-07-10T00:00:00.000Z', '2023-07'),
      // after every payment
      record(4, '2024-09-01T00:00:00.000Z', '2024-09'),
    ];
    const payments = [
      // earlier than every accrual
      record(1, '2018-05-01T00:00:00.000Z', '2018-05'),
      // pays A2
      record(2, '2024-03-01T00:00:00.000Z', '2024-03'),
    ];
    const result = await run(accruals, payments, policy, 'P3Y');
    expect(result.matches).toEqual(['P2→A2 oldest']);
    expect(result.unmatched).toEqual(['P1 no-earlier-accrual']);
    expect(result.unpaid).toEqual(['A1 time-barred', 'A3 later-payments-used', 'A4 no-later-payment']);
    expect(result.outcome.stats.reasons).toEqual({
      unmatchedPayments: { 'no-earlier-accrual': 1, 'time-barred': 0, 'earlier-accruals-paid': 0 },
      unpaidAccruals: { 'no-later-payment': 1, 'time-barred': 1, 'later-payments-used': 1 },
    });
  });

  it('says earlier accruals were paid when one of them has the payment’s month, however old', async () => {
    const accruals = [
      record(1, '2010-03-01T00:00:00.000Z', '2024-03'),
      record(2, '2024-01-01T00:00:00.000Z', '2024-01'),
    ];
    const payments = [
      record(1, '2024-02-01T00:00:00.000Z', '2024-01'),
      record(2, '2024-02-02T00:00:00.000Z', '2024-03'),
      record(3, '2024-02-03T00:00:00.000Z', '2024-03'),
    ];
    const result = await run(accruals, payments, policy, 'P1Y');
    expect(result.matches).toEqual(['P1→A2 same-month', 'P2→A1 same-month']);
    expect(result.unmatched).toEqual(['P3 earlier-accruals-paid']);
  });

  it('says later payments were used when one of them has the accrual’s month', async () => {
    const accruals = [
      record(1, '2010-03-01T00:00:00.000Z', '2024-03'),
      record(2, '2010-03-02T00:00:00.000Z', '2024-03'),
    ];
    const payments = [record(1, '2024-02-01T00:00:00.000Z', '2024-03')];
    const result = await run(accruals, payments, policy, 'P1Y');
    expect(result.matches).toEqual(['P1→A1 same-month']);
    expect(result.unpaid).toEqual(['A2 later-payments-used']);
  });
});
