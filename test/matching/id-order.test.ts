import { ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { compareCodePoints, compareIds, matchPayments } from '../../lib/matching/index.js';

const LOW_OID = new ObjectId('000000000000000000000001');
const HIGH_OID = new ObjectId('ff0000000000000000000000');

describe('BSON order of ids (compareIds)', () => {
  it.each([
    ['numbers compare numerically, not as text', 9, 10],
    ['negative before positive', -1, 0],
    ['an int and a double compare numerically', 2, 2.5],
    ['a double and an int compare numerically', 1.5, 2],
    ['any number before any string', 1e300, ''],
    ['any string before any ObjectId', '\u{10FFFF}', LOW_OID],
    ['Extended JSON $oid like an ObjectId', 'zzz', { $oid: '000000000000000000000000' }],
    ['ObjectIds by their bytes', LOW_OID, HIGH_OID],
    ['strings by code point: "B" before "a"', 'B', 'a'],
    ['a prefix first', 'ab', 'abc'],
    ['a BMP character above the surrogates before an astral one', '\uFFFF', '\u{1F600}'],
    ['U+E000 before U+10000', '\uE000', '\u{10000}'],
    ['an astral character after every BMP one in a longer string', 'a\uFFFDz', 'a\u{1F600}'],
  ])('%s', (_, lower, higher) => {
    expect(compareIds(lower, higher)).toBe(-1);
    expect(compareIds(higher, lower)).toBe(1);
  });

  it.each([
    ['int and double of the same value', 2, 2.0],
    ['0 and -0', 0, -0],
    [
      'an ObjectId and its Extended JSON',
      new ObjectId('65a1b2c3d4e5f60718293a4b'),
      { $oid: '65a1b2c3d4e5f60718293a4b' },
    ],
  ])('treats %s as equal', (_, a, b) => {
    expect(compareIds(a, b)).toBe(0);
  });

  it('orders astral-plane strings after BMP ones, unlike JavaScript <', () => {
    expect('\u{1F600}' < '\uFFFF').toBe(true); // UTF-16 code units: 0xD83D < 0xFFFF
    expect(compareCodePoints('\u{1F600}', '\uFFFF')).toBeGreaterThan(0);
    expect(['\u{1F600}', '\uFFFF', 'a', '\uE000'].sort(compareCodePoints)).toEqual([
      'a',
      '\uE000',
      '\uFFFF',
      '\u{1F600}',
    ]);
  });

  it('sorts a mixed list as MongoDB would', () => {
    const ids = ['b', HIGH_OID, 3, '\u{1F600}', 1.5, LOW_OID, 'B', -2, '\uFFFF'];
    expect([...ids].sort(compareIds)).toEqual([
      -2,
      1.5,
      3,
      'B',
      'b',
      '\uFFFF',
      '\u{1F600}',
      LOW_OID,
      HIGH_OID,
    ]);
  });

  it('throws a TypeError for values that are not ids', () => {
    expect(() => compareIds(true, 1)).toThrow(TypeError);
  });
});

describe('ties on date are broken by id in BSON order', () => {
  // Three payments on the same day compete for two older accruals: the first two in id order win.
  const accruals = [
    { id: 1, date: '2024-01-01', month: 1 },
    { id: 2, date: '2024-01-02', month: 1 },
  ];

  it.each([
    ['numbers before strings before ObjectIds', [LOW_OID, 'x', 10], [10, 'x']],
    ['int and double numerically', [3, 2.5, 10], [2.5, 3]],
    ['BMP before astral strings', ['\u{1F600}', '\uFFFF', 'z'], ['z', '\uFFFF']],
    [
      'ObjectIds by bytes',
      [HIGH_OID, LOW_OID, { $oid: '7f0000000000000000000000' }],
      [LOW_OID.toHexString(), '7f0000000000000000000000'],
    ],
  ])('%s', async (_, paymentIds, winners) => {
    const payments = paymentIds.map((id) => ({ id, date: '2024-01-05', month: 2 }));
    const outcome = await matchPayments(accruals, payments);
    const paid = [...outcome.matches()].map((m) => {
      const id = m.payment.id as unknown;
      return typeof id === 'object' && id !== null ? (id as { $oid: string }).$oid : id;
    });
    expect(paid).toEqual(winners);
    expect([...outcome.matches()].map((m) => m.accrual.id)).toEqual([1, 2]);
  });

  it('orders accruals of the same day by id when choosing the oldest', async () => {
    const outcome = await matchPayments(
      [
        { id: 'b', date: '2024-01-01', month: 1 },
        { id: 7, date: '2024-01-01', month: 1 },
        { id: 'a', date: '2024-01-01', month: 1 },
      ],
      [1, 2, 3].map((id) => ({ id, date: '2024-01-02', month: 2 })),
    );
    expect([...outcome.matches()].map((m) => m.accrual.id)).toEqual([7, 'a', 'b']);
  });
});
