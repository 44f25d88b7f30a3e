import { describe, expect, it } from 'vitest';
import { matchPayments } from '../../lib/matching/index.js';
import { workedExample } from '../fixtures/worked-example.js';
import { jan, once, slowly, summarise } from './helpers.js';

const { accruals, payments } = workedExample(jan);

describe('the worked example of SPEC §3', () => {
  it('chronological: P3→A1, P1→A2, P2→A7 (same month), P4→A3, P5→A4; A5 and A6 unpaid', async () => {
    expect(summarise(await matchPayments(accruals, payments, { policy: 'chronological' }))).toEqual({
      matches: ['P3→A1 oldest', 'P1→A2 oldest', 'P2→A7 same-month', 'P4→A3 oldest', 'P5→A4 oldest'],
      unmatchedPayments: [],
      unpaidAccruals: [5, 6],
    });
  });

  it('month-first: P2→A2, P5→A1 (same month), then P1→A3, P4→A4 (oldest); P3 unmatched', async () => {
    expect(summarise(await matchPayments(accruals, payments, { policy: 'month-first' }))).toEqual({
      matches: ['P2→A2 same-month', 'P5→A1 same-month', 'P1→A3 oldest', 'P4→A4 oldest'],
      unmatchedPayments: [3],
      unpaidAccruals: [7, 5, 6],
    });
  });

  it.each([
    ['chronological', [], ['A5 later-payments-used', 'A6 later-payments-used']],
    [
      'month-first',
      // A1 (day 1) is earlier than P3 (day 2), but P5 took it in pass 1.
      ['P3 earlier-accruals-paid'],
      ['A7 later-payments-used', 'A5 later-payments-used', 'A6 later-payments-used'],
    ],
  ] as const)(
    '%s: names the reason of every payment and accrual left over',
    async (policy, unmatched, unpaid) => {
      const outcome = await matchPayments(accruals, payments, { policy });
      expect([...outcome.unmatchedPayments()].map((r) => `P${String(r.id)} ${r.reason}`)).toEqual(unmatched);
      expect([...outcome.unpaidAccruals()].map((r) => `A${String(r.id)} ${r.reason}`)).toEqual(unpaid);
    },
  );

  it('uses chronological when no policy is given', async () => {
    const outcome = await matchPayments(accruals, payments);
    expect(outcome.policy).toBe('chronological');
    expect(summarise(outcome).matches).toEqual(
      summarise(await matchPayments(accruals, payments, { policy: 'chronological' })).matches,
    );
  });

  it.each(['chronological', 'month-first'] as const)(
    '%s: reports stats that reconcile with the lists',
    async (policy) => {
      const outcome = await matchPayments(accruals, payments, { policy });
      const { matches, unmatchedPayments, unpaidAccruals } = summarise(outcome);
      const sameMonth = matches.filter((m) => m.endsWith('same-month')).length;
      expect(outcome.stats).toEqual({
        accruals: 7,
        payments: 5,
        matched: matches.length,
        sameMonth,
        oldest: matches.length - sameMonth,
        unmatched: unmatchedPayments.length,
        unpaid: unpaidAccruals.length,
        rejected: 0,
        reasons: {
          unmatchedPayments: {
            'no-earlier-accrual': 0,
            'time-barred': 0,
            'earlier-accruals-paid': unmatchedPayments.length,
          },
          unpaidAccruals: {
            'no-later-payment': 0,
            'time-barred': 0,
            'later-payments-used': unpaidAccruals.length,
          },
        },
        durationMs: expect.any(Number),
      });
      expect(outcome.stats.durationMs).toBeGreaterThanOrEqual(0);
    },
  );

  it.each([
    ['arrays', () => accruals, () => payments],
    ['sync generators', () => once(accruals), () => once(payments)],
    ['async iterables', () => slowly(accruals), () => slowly(payments)],
  ])('matchPayments gives the same result from %s', async (_, a, p) => {
    for (const policy of ['chronological', 'month-first'] as const) {
      const streamed = await matchPayments(a(), p(), { policy });
      expect(summarise(streamed)).toEqual(summarise(await matchPayments(accruals, payments, { policy })));
    }
  });

  it('writes each output record with the normalised date and month and its other fields', async () => {
    const outcome = await matchPayments(
      [{ id: 1, date: jan(1), month: 5, amount: 120.5, note: 'heating' }],
      [{ id: 9, date: new Date(Date.UTC(2024, 0, 2, 10, 30)), month: '2024-01', account: 'A-1' }],
    );
    expect([...outcome.matches()]).toEqual([
      {
        payment: { id: 9, date: '2024-01-02T10:30:00.000Z', month: '2024-01', account: 'A-1' },
        accrual: { id: 1, date: '2024-01-01T00:00:00.000Z', month: 5, amount: 120.5, note: 'heating' },
        rule: 'oldest',
      },
    ]);
  });
});
