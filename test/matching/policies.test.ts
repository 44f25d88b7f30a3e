import { describe, expect, it } from 'vitest';
import { matchPayments, type Policy } from '../../lib/matching/index.js';
import { shuffled, summarise } from './helpers.js';

const POLICIES: Policy[] = ['chronological', 'month-first'];

describe.each(POLICIES)('%s policy', (policy) => {
  const run = async (accruals: object[], payments: object[]) =>
    summarise(await matchPayments(accruals, payments, { policy }));

  it('never lets a payment pay an accrual of the same date', async () => {
    expect(
      await run(
        [{ id: 1, date: '2024-01-05T10:00:00Z', month: 1 }],
        [{ id: 1, date: '2024-01-05T10:00:00Z', month: 1 }],
      ),
    ).toEqual({
      matches: [],
      unmatchedPayments: [1],
      unpaidAccruals: [1],
    });
  });

  it('lets a payment one millisecond later pay', async () => {
    expect(
      (
        await run(
          [{ id: 1, date: '2024-01-05T10:00:00.000Z', month: 1 }],
          [{ id: 1, date: '2024-01-05T10:00:00.001Z', month: 1 }],
        )
      ).matches,
    ).toEqual(['P1→A1 same-month']);
  });

  it('prefers an accrual of the same month over an older one', async () => {
    const accruals = [
      { id: 1, date: '2024-01-01', month: 1 },
      { id: 2, date: '2024-01-02', month: 2 },
    ];
    expect((await run(accruals, [{ id: 1, date: '2024-01-03', month: 2 }])).matches).toEqual([
      'P1→A2 same-month',
    ]);
  });

  it('takes the oldest accrual of the same month first', async () => {
    const accruals = [
      { id: 1, date: '2024-01-02', month: 2 },
      { id: 2, date: '2024-01-01', month: 2 },
    ];
    expect((await run(accruals, [{ id: 1, date: '2024-01-03', month: 2 }])).matches).toEqual([
      'P1→A2 same-month',
    ]);
  });

  it('takes the oldest accrual of any month when none of its month is eligible', async () => {
    const accruals = [
      { id: 1, date: '2024-01-02', month: 3 },
      { id: 2, date: '2024-01-01', month: 4 },
      { id: 3, date: '2024-01-09', month: 2 },
    ];
    expect((await run(accruals, [{ id: 1, date: '2024-01-05', month: 2 }])).matches).toEqual([
      'P1→A2 oldest',
    ]);
  });

  it('leaves payments without eligible accruals unmatched, in (date, id) order', async () => {
    expect(
      (
        await run(
          [{ id: 1, date: '2024-01-05', month: 1 }],
          [
            { id: 9, date: '2024-01-03', month: 1 },
            { id: 2, date: '2024-01-03', month: 1 },
            { id: 1, date: '2024-01-01', month: 1 },
          ],
        )
      ).unmatchedPayments,
    ).toEqual([1, 2, 9]);
  });

  it('handles empty collections', async () => {
    expect(await run([], [])).toEqual({ matches: [], unmatchedPayments: [], unpaidAccruals: [] });
    expect((await run([{ id: 1, date: '2024-01-01', month: 1 }], [])).unpaidAccruals).toEqual([1]);
    expect((await run([], [{ id: 1, date: '2024-01-01', month: 1 }])).unmatchedPayments).toEqual([1]);
  });

  it('gives the same result for sorted and shuffled input', async () => {
    const accruals = Array.from({ length: 40 }, (_, i) => ({
      id: i,
      date: `2024-01-${10 + (i % 7)}`,
      month: 1 + (i % 3),
    }));
    const payments = Array.from({ length: 40 }, (_, i) => ({
      id: i,
      date: `2024-01-${11 + (i % 9)}`,
      month: 1 + (i % 4),
    }));
    const sorted = await run(accruals, payments);
    for (const seed of [1, 2, 3])
      expect(await run(shuffled(accruals, seed), shuffled(payments, seed))).toEqual(sorted);
  });

  it('orders dates across the whole representable range', async () => {
    const accruals = [
      { id: 1, date: '+200000-01-01', month: 1 },
      { id: 2, date: '-200000-01-01', month: 1 },
      { id: 3, date: '1970-01-01', month: 1 },
    ];
    const payments = [
      { id: 1, date: '+275000-01-01', month: 2 },
      { id: 2, date: '2000-01-01', month: 2 },
    ];
    expect((await run(accruals, payments)).matches).toEqual(['P2→A2 oldest', 'P1→A3 oldest']);
  });

  it('orders sparse, fractional and huge numeric ids', async () => {
    const ids = [1e15, -7, 0.25, 3, 2 ** 52];
    const outcome = await run(
      ids.map((id) => ({ id, date: '2024-01-01', month: 1 })),
      [],
    );
    expect(outcome.unpaidAccruals).toEqual([-7, 0.25, 3, 1e15, 2 ** 52]);
  });
});

describe('chronological and month-first differ as the spec says', async () => {
  // One payment of month 2 arrives first and takes the only accrual of month 1 under chronological
  // (oldest rule); month-first keeps it for the later same-month payment.
  const accruals = [{ id: 1, date: '2024-01-01', month: 1 }];
  const payments = [
    { id: 1, date: '2024-01-02', month: 2 },
    { id: 2, date: '2024-01-03', month: 1 },
  ];

  it('chronological pays in arrival order', async () => {
    expect(summarise(await matchPayments(accruals, payments, { policy: 'chronological' })).matches).toEqual([
      'P1→A1 oldest',
    ]);
  });

  it('month-first gives same-month payments precedence', async () => {
    expect(summarise(await matchPayments(accruals, payments, { policy: 'month-first' })).matches).toEqual([
      'P2→A1 same-month',
    ]);
  });
});
