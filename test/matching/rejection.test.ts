import { ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { matchPayments } from '../../lib/matching/index.js';
import { parseDocuments } from '../../lib/store/documents-file.js';
import { reasons, shuffled, slowly } from './helpers.js';

const accrual = (id: unknown, day = 1, month: unknown = 1) => ({ id, date: `2024-01-0${day}`, month });
const payment = (id: unknown, day = 5, month: unknown = 1) => ({ id, date: `2024-01-0${day}`, month });

describe('rejected records', () => {
  it('lists every unusable record with its reason and never aborts the run', async () => {
    const outcome = await matchPayments(
      [accrual(1), { date: '2024-01-01', month: 1 }, accrual(2, 1, 13), 'junk'],
      [
        payment(1),
        { id: 2, date: '2024-02-30', month: 1 },
        { id: true, date: '2024-01-05', month: 1 },
        { id: 4, date: '2024-01-05' },
      ],
    );
    expect(reasons(outcome)).toEqual([
      'accrual: missing field "id"',
      'accrual: invalid month 13',
      'accrual: not an object: "junk"',
      'payment: unparseable date "2024-02-30"',
      'payment: invalid id true',
      'payment: missing field "month"',
    ]);
    expect([...outcome.matches()].map((m) => [m.payment.id, m.accrual.id])).toEqual([[1, 1]]);
    expect(outcome.stats).toMatchObject({ accruals: 4, payments: 4, matched: 1, rejected: 6 });
  });

  it('keeps the record as read, made JSON-safe with Extended JSON', async () => {
    const oid = new ObjectId('65a1b2c3d4e5f60718293a4b');
    const outcome = await matchPayments(
      [],
      [{ id: oid, date: new Date(Number.NaN), month: 1, at: new Date(0), gone: undefined }],
    );
    expect([...outcome.rejected()]).toEqual([
      {
        source: 'payment',
        record: {
          id: { $oid: '65a1b2c3d4e5f60718293a4b' },
          date: { $date: { $numberLong: 'NaN' } },
          month: 1,
          at: { $date: '1970-01-01T00:00:00Z' },
          gone: null,
        },
        reason: 'unparseable date Invalid Date',
      },
    ]);
  });

  it('rejects a record whose file $date is not strict ISO 8601, keeping the text as written', async () => {
    const accruals = parseDocuments(
      [
        '{"id": 1, "date": {"$date": "2024-01-01T00:00:00Z"}, "month": 1}',
        '{"id": 2, "date": {"$date": "2024-02-30T00:00:00Z"}, "month": 3}',
        '{"id": 3, "date": {"$date": "March 7, 2024"}, "month": 3}',
      ].join('\n'),
      'accrual.ndjson',
    );
    const outcome = await matchPayments(accruals, [payment(1)]);
    expect(reasons(outcome)).toEqual([
      'accrual: unparseable date {"$date":"2024-02-30T00:00:00Z"}',
      'accrual: unparseable date {"$date":"March 7, 2024"}',
    ]);
    expect([...outcome.rejected()].map((r) => r.record)).toEqual([
      { id: 2, date: { $date: '2024-02-30T00:00:00Z' }, month: 3 },
      { id: 3, date: { $date: 'March 7, 2024' }, month: 3 },
    ]);
    expect([...outcome.matches()].map((m) => [m.payment.id, m.accrual.id])).toEqual([[1, 1]]);
  });

  it('writes a non-object record as JSON (undefined as null)', async () => {
    const outcome = await matchPayments([undefined, 7], []);
    expect([...outcome.rejected()].map((r) => r.record)).toEqual([null, 7]);
  });
});

describe('duplicated ids', () => {
  it.each([
    ['numbers', 17, 'duplicate id 17'],
    ['int and double of the same value', 17.0, 'duplicate id 17'],
    ['strings', 'A-1', 'duplicate id "A-1"'],
    [
      'ObjectIds',
      new ObjectId('65a1b2c3d4e5f60718293a4b'),
      'duplicate id ObjectId("65a1b2c3d4e5f60718293a4b")',
    ],
  ])('rejects every occurrence of a repeated id (%s)', async (_, id, reason) => {
    const outcome = await matchPayments([accrual(id, 1), accrual(id, 2), accrual(99, 3)], [payment(1)]);
    expect(reasons(outcome)).toEqual([`accrual: ${reason}`, `accrual: ${reason}`]);
    expect([...outcome.matches()].map((m) => m.accrual.id)).toEqual([99]);
  });

  it('rejects an ObjectId and its Extended JSON form as the same id', async () => {
    const hex = '65a1b2c3d4e5f60718293a4b';
    const outcome = await matchPayments([accrual(new ObjectId(hex)), accrual({ $oid: hex })], []);
    expect(outcome.stats.rejected).toBe(2);
  });

  it('counts an occurrence that is rejected for another reason', async () => {
    const outcome = await matchPayments([accrual(5, 1), { id: 5, date: 'soon', month: 1 }], [payment(1)]);
    expect(reasons(outcome)).toEqual(['accrual: duplicate id 5', 'accrual: unparseable date "soon"']);
    expect(outcome.stats.matched).toBe(0);
  });

  it('checks ids per collection: an accrual and a payment may share one', async () => {
    expect((await matchPayments([accrual(1)], [payment(1)])).stats.matched).toBe(1);
  });

  it('lists rejections in read order, accruals first, whatever the input order', async () => {
    const accruals = [accrual(1, 1), accrual(2, 2), accrual(1, 3), accrual('x', 1, 0)];
    const payments = [payment(3), payment(3, 6), payment(4, 7, 'bad')];
    const outcome = await matchPayments(accruals, payments);
    expect(reasons(outcome)).toEqual([
      'accrual: duplicate id 1',
      'accrual: duplicate id 1',
      'accrual: invalid month 0',
      'payment: duplicate id 3',
      'payment: duplicate id 3',
      'payment: invalid month "bad"',
    ]);
    for (const seed of [1, 2, 3]) {
      const again = await matchPayments(shuffled(accruals, seed), shuffled(payments, seed));
      expect(reasons(again).sort()).toEqual(reasons(outcome).sort());
      expect(again.stats).toEqual({ ...outcome.stats, durationMs: again.stats.durationMs });
    }
  });

  it('rejects duplicates the same way when streaming', async () => {
    const outcome = await matchPayments(
      slowly([accrual(1), accrual(1, 2), accrual(2)]),
      slowly([payment(1)]),
    );
    expect(reasons(outcome)).toEqual(['accrual: duplicate id 1', 'accrual: duplicate id 1']);
    expect([...outcome.matches()].map((m) => m.accrual.id)).toEqual([2]);
  });

  it('finds duplicates among non-integer and far-apart numeric ids', async () => {
    const outcome = await matchPayments([accrual(1e15), accrual(0.5), accrual(1e15, 2), accrual(-1e15)], []);
    expect(reasons(outcome)).toEqual([
      'accrual: duplicate id 1000000000000000',
      'accrual: duplicate id 1000000000000000',
    ]);
    expect([...outcome.unpaidAccruals()].map((a) => a.id)).toEqual([-1e15, 0.5]);
  });
});

describe('invalid options', () => {
  it('throws for an unknown policy', async () => {
    await expect(matchPayments([], [], { policy: 'fifo' as 'chronological' })).rejects.toThrow(
      /unknown matching policy/,
    );
  });

  it('throws for an empty partition field', async () => {
    await expect(matchPayments([], [], { partitionBy: '' })).rejects.toThrow(/invalid partition field/);
  });
});
