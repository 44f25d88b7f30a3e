import { ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { matchPayments } from '../../lib/matching/index.js';
import { once, reasons, slowly, summarise } from './helpers.js';

const rec = (account: unknown, id: number, day: number, month = 1) => ({
  account,
  id,
  date: `2024-01-0${day}`,
  month,
});

describe('matching with a partition field', () => {
  it('never pays another partition’s accrual', async () => {
    const outcome = await matchPayments([rec('A', 1, 1)], [rec('B', 1, 5)], { partitionBy: 'account' });
    expect(summarise(outcome)).toEqual({ matches: [], unmatchedPayments: [1], unpaidAccruals: [1] });
  });

  it('matches each partition by the same rules and carries the field into the output', async () => {
    const outcome = await matchPayments(
      [rec('B', 1, 1), rec('A', 1, 1), rec('A', 2, 2, 2)],
      [rec('A', 7, 5, 2), rec('B', 7, 5, 2), rec('A', 8, 6)],
      { partitionBy: 'account' },
    );
    expect(
      [...outcome.matches()].map((m) => [m.payment.account, m.payment.id, m.accrual.id, m.rule]),
    ).toEqual([
      ['A', 7, 2, 'same-month'],
      ['A', 8, 1, 'same-month'],
      ['B', 7, 1, 'oldest'],
    ]);
    expect(outcome.partitionBy).toBe('account');
  });

  it('orders partitions in BSON order: numbers, strings, ObjectIds', async () => {
    const oid = new ObjectId('65a1b2c3d4e5f60718293a4b');
    const outcome = await matchPayments(
      [],
      [
        rec(oid, 1, 1),
        rec('b', 2, 1),
        rec(10, 3, 1),
        rec(9, 4, 1),
        rec('\u{1F600}', 5, 1),
        rec('\uFFFF', 6, 1),
      ],
      {
        partitionBy: 'account',
      },
    );
    expect([...outcome.unmatchedPayments()].map((p) => p.account)).toEqual([
      9,
      10,
      'b',
      '\uFFFF',
      '\u{1F600}',
      { $oid: '65a1b2c3d4e5f60718293a4b' },
    ]);
  });

  it('detects duplicate ids within a partition only', async () => {
    const outcome = await matchPayments([rec('A', 1, 1), rec('B', 1, 1), rec('A', 1, 2)], [], {
      partitionBy: 'account',
    });
    expect(reasons(outcome)).toEqual(['accrual: duplicate id 1', 'accrual: duplicate id 1']);
    expect([...outcome.unpaidAccruals()].map((a) => a.account)).toEqual(['B']);
  });

  it.each([
    ['missing', { id: 1, date: '2024-01-01', month: 1 }, 'missing partition field "account"'],
    [
      'null',
      rec(null, 1, 1),
      'invalid partition value null in field "account" (expected a number, string or ObjectId)',
    ],
    [
      'an object',
      rec({ n: 1 }, 1, 1),
      'invalid partition value {"n":1} in field "account" (expected a number, string or ObjectId)',
    ],
    [
      'a boolean',
      rec(true, 1, 1),
      'invalid partition value true in field "account" (expected a number, string or ObjectId)',
    ],
  ])('rejects a record whose partition value is %s', async (_, record, reason) => {
    expect(reasons(await matchPayments([record], [], { partitionBy: 'account' }))).toEqual([
      `accrual: ${reason}`,
    ]);
    expect(reasons(await matchPayments([], [record], { partitionBy: 'account' }))).toEqual([
      `payment: ${reason}`,
    ]);
  });

  it('reads a dotted partition field from a sub-document', async () => {
    const outcome = await matchPayments(
      [{ owner: { account: 'A' }, id: 1, date: '2024-01-01', month: 1 }],
      [
        { owner: { account: 'A' }, id: 1, date: '2024-01-02', month: 1 },
        { owner: {}, id: 2, date: '2024-01-02', month: 1 },
      ],
      { partitionBy: 'owner.account' },
    );
    expect(outcome.stats).toMatchObject({ matched: 1, rejected: 1 });
  });

  it('treats an Extended JSON $oid and an ObjectId as the same partition', async () => {
    const hex = '65a1b2c3d4e5f60718293a4b';
    const outcome = await matchPayments([rec(new ObjectId(hex), 1, 1)], [rec({ $oid: hex }, 1, 2)], {
      partitionBy: 'account',
    });
    expect(outcome.stats.matched).toBe(1);
  });
});

describe('streaming partitions (matchPayments)', () => {
  const accruals = [rec('A', 1, 1), rec('A', 2, 2, 2), rec('B', 1, 1), rec('C', 1, 1)];
  const payments = [rec('A', 7, 5, 2), rec('A', 8, 6), rec('B', 7, 5, 2), rec('D', 1, 5)];

  it.each([
    ['arrays', () => accruals, () => payments],
    ['sync generators', () => once(accruals), () => once(payments)],
    ['async iterables', () => slowly(accruals), () => slowly(payments)],
  ])('merges inputs sorted by partition from %s like two arrays in any order', async (_, a, p) => {
    for (const policy of ['chronological', 'month-first'] as const) {
      const streamed = await matchPayments(a(), p(), { policy, partitionBy: 'account' });
      const inMemory = await matchPayments(accruals, payments, { policy, partitionBy: 'account' });
      expect(summarise(streamed)).toEqual(summarise(inMemory));
      expect([...streamed.unpaidAccruals()].map((r) => r.account)).toEqual(['C']);
      expect([...streamed.unmatchedPayments()].map((r) => r.account)).toEqual(['D']);
    }
  });

  it('groups two arrays itself, so files in any order are matched in full', async () => {
    const outcome = await matchPayments([rec('B', 1, 1), rec('A', 1, 1)], [rec('A', 1, 5), rec('B', 1, 5)], {
      partitionBy: 'account',
    });
    expect(outcome.stats).toMatchObject({ matched: 2, rejected: 0 });
  });

  it('lists rejections of two arrays in any order in array order, as if they had been read as they are', async () => {
    const accruals = [
      rec('B', 1, 1),
      { id: 2, date: '2024-01-01', month: 1 },
      rec('A', 3, 1, 13),
      rec('A', 1, 1),
      rec('A', 1, 2),
      { ...rec('B', 4, 1), date: 'soon' },
      7,
    ];
    const payments = [rec('B', 5, 3), rec(null, 6, 3), rec('A', 7, 3)];
    const expected = [
      'accrual: missing partition field "account"',
      'accrual: invalid month 13',
      'accrual: duplicate id 1',
      'accrual: duplicate id 1',
      'accrual: unparseable date "soon"',
      'accrual: not an object: 7',
      'payment: invalid partition value null in field "account" (expected a number, string or ObjectId)',
    ];
    for (const policy of ['chronological', 'month-first'] as const) {
      const outcome = await matchPayments(accruals, payments, { policy, partitionBy: 'account' });
      expect(reasons(outcome)).toEqual(expected);
      expect(summarise(outcome).matches).toEqual(['P5→A1 same-month']);
      expect(outcome.stats).toMatchObject({ accruals: 7, payments: 3, rejected: 7, unmatched: 1 });
    }
    // The same records streamed grouped by partition are rejected in the order they are read.
    const grouped = await matchPayments(
      once([accruals[1], accruals[6], accruals[2], accruals[3], accruals[4], accruals[0], accruals[5]]),
      once([payments[1], payments[2], payments[0]]),
      { partitionBy: 'account' },
    );
    expect(reasons(grouped)).toEqual([
      expected[0],
      expected[5],
      expected[1],
      expected[2],
      expected[3],
      expected[4],
      expected[6],
    ]);
  });

  it('sorts records inside a partition that arrive out of (date, id) order', async () => {
    const outcome = await matchPayments(
      slowly([rec('A', 2, 3), rec('A', 1, 1)]),
      slowly([rec('A', 5, 4), rec('A', 4, 2)]),
      { partitionBy: 'account' },
    );
    expect(summarise(outcome).matches).toEqual(['P4→A1 same-month', 'P5→A2 same-month']);
  });

  it('rejects records of a partition that comes back after it was processed, instead of mis-matching them', async () => {
    const outcome = await matchPayments(
      slowly([rec('A', 1, 1), rec('B', 1, 1), rec('A', 2, 1)]),
      slowly([rec('A', 1, 5), rec('B', 1, 5), rec('A', 2, 6)]),
      { partitionBy: 'account' },
    );
    expect(reasons(outcome)).toEqual([
      'accrual: out of order: partition "A" already processed',
      'payment: out of order: partition "A" already processed',
    ]);
    expect(summarise(outcome).matches).toEqual(['P1→A1 same-month', 'P1→A1 same-month']);
    expect([...outcome.matches()].map((m) => [m.payment.account, m.accrual.account])).toEqual([
      ['A', 'A'],
      ['B', 'B'],
    ]);
    expect(outcome.stats).toMatchObject({ accruals: 3, payments: 3, matched: 2, rejected: 2 });
  });

  it('rejects a lower partition value that first appears after a higher one was processed', async () => {
    const outcome = await matchPayments(once([rec(2, 1, 1), rec(1, 1, 1)]), once([rec(2, 1, 5)]), {
      partitionBy: 'account',
    });
    expect(reasons(outcome)).toEqual(['accrual: out of order: partition 1 already processed']);
    expect(outcome.stats.matched).toBe(1);
  });

  it('counts every record read, including those rejected for their partition', async () => {
    const outcome = await matchPayments(slowly([rec('A', 1, 1), { id: 2 }, 5]), slowly([]), {
      partitionBy: 'account',
    });
    expect(reasons(outcome)).toEqual([
      'accrual: missing partition field "account"',
      'accrual: not an object: 5',
    ]);
    expect(outcome.stats).toMatchObject({ accruals: 3, unpaid: 1, rejected: 2 });
  });
});

describe('partitioned matching equals matching each partition alone', () => {
  it('for a small hand-made case', async () => {
    const accruals = [rec('A', 1, 1), rec('B', 2, 1), rec('A', 3, 2, 2), rec('B', 4, 3, 2)];
    const payments = [rec('B', 1, 4, 2), rec('A', 2, 4), rec('A', 3, 5), rec('B', 4, 5)];
    for (const policy of ['chronological', 'month-first'] as const) {
      const partitioned = summarise(
        await matchPayments(accruals, payments, { policy, partitionBy: 'account' }),
      );
      const perPartition: ReturnType<typeof summarise>[] = [];
      for (const account of ['A', 'B']) {
        perPartition.push(
          summarise(
            await matchPayments(
              accruals.filter((a) => a.account === account),
              payments.filter((p) => p.account === account),
              { policy },
            ),
          ),
        );
      }
      expect(partitioned).toEqual({
        matches: perPartition.flatMap((s) => s.matches),
        unmatchedPayments: perPartition.flatMap((s) => s.unmatchedPayments),
        unpaidAccruals: perPartition.flatMap((s) => s.unpaidAccruals),
      });
    }
  });
});
