import { Long, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import {
  guardFormula,
  matchesCsvChunks,
  matchPayments,
  resultJsonChunks,
  toMatchResult,
  unmatchedPaymentsCsvChunks,
} from '../../lib/matching/index.js';
import { parseCsv } from './helpers.js';

const meta = { runId: 'run-1', generatedAt: '2024-02-01T00:00:00.000Z' };

async function bigOutcome(size: number) {
  const accruals = Array.from({ length: size }, (_, i) => ({
    id: i,
    date: new Date(Date.UTC(2024, 0, 1 + (i % 9))),
    month: 1 + (i % 2),
  }));
  const payments = Array.from({ length: size + 50 }, (_, i) => ({
    id: `p${i}`,
    date: `2024-01-${String(2 + (i % 12)).padStart(2, '0')}`,
    month: '2024-01',
    note: 'x,"y"',
  }));
  return matchPayments([...accruals, 'junk'], payments);
}

describe('result JSON', () => {
  it('toMatchResult has the SPEC §3 shape', async () => {
    const result = toMatchResult(
      await matchPayments(
        [{ id: 1, date: '2024-01-01', month: 1 }],
        [{ id: 2, date: '2024-01-02', month: 1 }, 3],
      ),
      meta,
    );
    expect(result).toEqual({
      runId: 'run-1',
      policy: 'chronological',
      generatedAt: '2024-02-01T00:00:00.000Z',
      matches: [
        {
          payment: { id: 2, date: '2024-01-02T00:00:00.000Z', month: 1 },
          accrual: { id: 1, date: '2024-01-01T00:00:00.000Z', month: 1 },
          rule: 'same-month',
        },
      ],
      unmatchedPayments: [],
      unpaidAccruals: [],
      rejected: [{ source: 'payment', record: 3, reason: 'not an object: 3' }],
      stats: expect.objectContaining({ accruals: 1, payments: 2, matched: 1, rejected: 1 }),
    });
  });

  it('streams the same document in many small chunks', async () => {
    const outcome = await bigOutcome(2000);
    const chunks = [...resultJsonChunks(outcome, meta)];
    expect(JSON.parse(chunks.join(''))).toEqual(toMatchResult(outcome, meta));
    expect(chunks.length).toBeGreaterThan(10);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(64 * 1024);
  });

  it('streams an empty outcome as valid JSON', async () => {
    const outcome = await matchPayments([], []);
    expect(JSON.parse([...resultJsonChunks(outcome, meta)].join(''))).toEqual(toMatchResult(outcome, meta));
  });

  it('writes ObjectId ids as Extended JSON and other BSON values with relaxed Extended JSON', async () => {
    const outcome = await matchPayments(
      [],
      [
        {
          id: new ObjectId('65a1b2c3d4e5f60718293a4b'),
          date: '2024-01-02',
          month: 1,
          at: new Date(0),
          n: Number.NaN,
        },
      ],
    );
    const parsed = JSON.parse([...resultJsonChunks(outcome, meta)].join('')) as {
      unmatchedPayments: unknown[];
    };
    expect(parsed.unmatchedPayments).toEqual([
      {
        id: { $oid: '65a1b2c3d4e5f60718293a4b' },
        date: '2024-01-02T00:00:00.000Z',
        month: 1,
        at: { $date: '1970-01-01T00:00:00Z' },
        n: { $numberDouble: 'NaN' },
        reason: 'no-earlier-accrual',
      },
    ]);
  });

  it('carries int64 values a double cannot hold exactly as {"$numberLong"}, in matches and rejections', async () => {
    const big = Long.fromString('9007199254740993');
    const outcome = await matchPayments(
      [{ id: 1, date: '2024-01-01', month: 1, amount: big, small: Long.fromNumber(42) }],
      [
        { id: 1, date: '2024-01-02', month: 1, acct: [Long.fromString('-12345678901234567')] },
        { id: 2, date: 'soon', month: 1, amount: big },
      ],
    );
    const parsed = JSON.parse([...resultJsonChunks(outcome, meta)].join('')) as {
      matches: { payment: Record<string, unknown>; accrual: Record<string, unknown> }[];
      rejected: { record: Record<string, unknown> }[];
    };
    expect(parsed.matches[0]?.accrual).toMatchObject({
      amount: { $numberLong: '9007199254740993' },
      small: 42,
    });
    expect(parsed.matches[0]?.payment).toMatchObject({ acct: [{ $numberLong: '-12345678901234567' }] });
    expect(parsed.rejected[0]?.record).toMatchObject({ amount: { $numberLong: '9007199254740993' } });
  });

  it('can be walked more than once', async () => {
    const outcome = await bigOutcome(100);
    expect([...resultJsonChunks(outcome, meta)].join('')).toBe([...resultJsonChunks(outcome, meta)].join(''));
  });
});

describe('matches.csv', () => {
  it('has a header and one row per match, in match order, that parse back to the matches', async () => {
    const outcome = await bigOutcome(700);
    const rows = parseCsv([...matchesCsvChunks(outcome)].join(''));
    expect(rows[0]).toEqual([
      'payment_id',
      'payment_date',
      'payment_month',
      'accrual_id',
      'accrual_date',
      'accrual_month',
      'rule',
    ]);
    const matches = [...outcome.matches()];
    expect(matches.length).toBeGreaterThan(500);
    expect(rows.slice(1)).toEqual(
      matches.map((m) => [
        String(m.payment.id),
        m.payment.date,
        String(m.payment.month),
        String(m.accrual.id),
        m.accrual.date,
        String(m.accrual.month),
        m.rule,
      ]),
    );
  });

  it('comes in several chunks for large outcomes', async () => {
    expect([...matchesCsvChunks(await bigOutcome(2000))].length).toBeGreaterThan(3);
  });

  it('adds a partition column first when a partition field was used', async () => {
    const oid = new ObjectId('65a1b2c3d4e5f60718293a4b');
    const outcome = await matchPayments(
      [{ acc: oid, id: 1, date: '2024-01-01', month: 1 }],
      [
        { acc: oid, id: 2, date: '2024-01-02', month: 1 },
        { acc: '=A1', id: 3, date: '2024-01-02', month: 1 },
      ],
      { partitionBy: 'acc' },
    );
    expect(parseCsv([...matchesCsvChunks(outcome)].join(''))).toEqual([
      [
        'partition',
        'payment_id',
        'payment_date',
        'payment_month',
        'accrual_id',
        'accrual_date',
        'accrual_month',
        'rule',
      ],
      [
        '65a1b2c3d4e5f60718293a4b',
        '2',
        '2024-01-02T00:00:00.000Z',
        '1',
        '1',
        '2024-01-01T00:00:00.000Z',
        '1',
        'same-month',
      ],
    ]);
    expect(parseCsv([...unmatchedPaymentsCsvChunks(outcome)].join(''))).toEqual([
      ['partition', 'id', 'date', 'month', 'reason'],
      ["'=A1", '3', '2024-01-02T00:00:00.000Z', '1', 'no-earlier-accrual'],
    ]);
  });

  it('quotes commas, quotes and line breaks (RFC 4180) so they survive a round trip', async () => {
    const ids = ['a,b', 'say "hi"', 'two\nlines', 'cr\rhere'];
    const outcome = await matchPayments(
      [],
      ids.map((id) => ({ id, date: '2024-01-02', month: '2024-01' })),
    );
    const text = [...unmatchedPaymentsCsvChunks(outcome)].join('');
    expect(text).toContain('"say ""hi"""');
    expect(
      parseCsv(text)
        .slice(1)
        .map((row) => row[0]),
    ).toEqual(['a,b', 'cr\rhere', 'say "hi"', 'two\nlines']);
  });
});

describe('CSV formula injection guard', () => {
  it.each([
    ['=SUM(A1:A9)', "'=SUM(A1:A9)"],
    ['+7', "'+7"],
    ['-2+3', "'-2+3"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
    ['plain', 'plain'],
    ['7=7', '7=7'],
    // Spreadsheets with a `;` list separator split the cell there.
    ['k;-2+3', "k;'-2+3"],
    ['a;=1+1;', "a;'=1+1;"],
    ['=1;@x;ok;+2', "'=1;'@x;ok;'+2"],
    ['a; =1', 'a; =1'],
    ['x\n=HYPERLINK("h")', 'x\n\'=HYPERLINK("h")'],
    ['x\r\n+1', "x\r\n'+1"],
  ])('writes the text id %j as %j', async (id, cell) => {
    const outcome = await matchPayments([], [{ id, date: '2024-01-02', month: 1 }]);
    expect(parseCsv([...unmatchedPaymentsCsvChunks(outcome)].join(''))[1]?.[0]).toBe(cell);
    expect(guardFormula(id)).toBe(cell);
  });

  it('writes negative numeric ids as numbers, without an apostrophe', async () => {
    const outcome = await matchPayments([], [{ id: -5, date: '2024-01-02', month: 1 }]);
    expect(parseCsv([...unmatchedPaymentsCsvChunks(outcome)].join(''))[1]).toEqual([
      '-5',
      '2024-01-02T00:00:00.000Z',
      '1',
      'no-earlier-accrual',
    ]);
  });

  it('guards dates with a signed extended year', async () => {
    const outcome = await matchPayments([], [{ id: 1, date: '-000001-01-01', month: 1 }]);
    expect(parseCsv([...unmatchedPaymentsCsvChunks(outcome)].join(''))[1]?.[1]).toBe(
      "'-000001-01-01T00:00:00.000Z",
    );
  });
});
