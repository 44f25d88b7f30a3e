import { Double, Int32, Long, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { matchPayments, normaliseRecord, parseIsoDate } from '../../lib/matching/index.js';

const HEX = '65a1b2c3d4e5f60718293a4b';
const JAN5 = Date.UTC(2024, 0, 5);
const base = { id: 1, date: '2024-01-05', month: 1 };

function normalised(record: object) {
  const result = normaliseRecord(record);
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result;
}

describe('id normalisation', () => {
  it.each([
    ['an integer', 17, 17],
    ['a negative integer', -4, -4],
    ['a double', 1.5, 1.5],
    ['negative zero, as zero', -0, 0],
    ['a string', 'A-17', 'A-17'],
    ['an empty string', '', ''],
    ['a BSON Int32', new Int32(17), 17],
    ['a BSON Double', new Double(2.5), 2.5],
    ['a BSON Long within 2^53', Long.fromNumber(9_007_199_254_740_991), 9_007_199_254_740_991],
    ['canonical Extended JSON $numberInt', { $numberInt: '42' }, 42],
    ['canonical Extended JSON $numberLong', { $numberLong: '-42' }, -42],
  ])('accepts %s', (_, id, expected) => {
    expect(normalised({ ...base, id }).id).toBe(expected);
  });

  it.each([
    ['an ObjectId', new ObjectId(HEX)],
    ['Extended JSON {"$oid": hex}', { $oid: HEX }],
    ['Extended JSON {"$oid": HEX} in upper case', { $oid: HEX.toUpperCase() }],
  ])('accepts %s as an ObjectId', (_, id) => {
    const result = normalised({ ...base, id });
    expect(result.id).toBeInstanceOf(ObjectId);
    expect((result.id as ObjectId).toHexString()).toBe(HEX);
  });

  it.each([
    ['NaN', Number.NaN, 'invalid id NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'invalid id Infinity'],
    ['a boolean', true, 'invalid id true'],
    ['null', null, 'invalid id null'],
    ['a plain object', { a: 1 }, 'invalid id {"a":1}'],
    ['an array', [1], 'invalid id an array'],
    ['a malformed $oid', { $oid: 'xyz' }, 'invalid id {"$oid":"xyz"}'],
    ['a Long beyond 2^53', Long.fromString('9007199254740993'), 'invalid id Long(9007199254740993)'],
    ['a Double NaN', new Double(Number.NaN), 'invalid id Double(NaN)'],
  ])('rejects %s', (_, id, reason) => {
    expect(normaliseRecord({ ...base, id })).toEqual({ ok: false, reason });
  });

  it('rejects a record without an id', () => {
    expect(normaliseRecord({ date: '2024-01-05', month: 1 })).toEqual({
      ok: false,
      reason: 'missing field "id"',
    });
  });
});

describe('date normalisation', () => {
  it.each([
    ['a Date', new Date(JAN5), JAN5],
    ['a date-only ISO text (UTC midnight)', '2024-01-05', JAN5],
    ['an ISO date-time without offset, read as UTC', '2024-01-05T10:20:30', JAN5 + 37_230_000],
    ['an ISO date-time with Z', '2024-01-05T10:20:30.123Z', JAN5 + 37_230_123],
    ['lower-case t and z', '2024-01-05t10:20:30z', JAN5 + 37_230_000],
    ['a space instead of T', '2024-01-05 10:20', JAN5 + 37_200_000],
    ['a positive offset', '2024-01-05T03:00:00+03:00', JAN5],
    ['a compact offset', '2024-01-05T03:00:00+0300', JAN5],
    ['an hours-only offset', '2024-01-04T21:00:00-03', JAN5],
    ['fraction digits beyond milliseconds, truncated', '2024-01-05T00:00:00.1239Z', JAN5 + 123],
    ['a comma as decimal mark', '2024-01-05T00:00:00,5Z', JAN5 + 500],
    ['29 February of a leap year', '2024-02-29', Date.UTC(2024, 1, 29)],
    ['a six-digit signed year', '+010000-01-01', Date.UTC(10_000, 0, 1)],
    ['a year before 1970', '1969-12-31T23:59:59.999Z', -1],
    ['Extended JSON with ISO text', { $date: '2024-01-05T00:00:00Z' }, JAN5],
    ['Extended JSON with epoch milliseconds', { $date: JAN5 }, JAN5],
    ['Extended JSON with $numberLong', { $date: { $numberLong: String(JAN5) } }, JAN5],
  ])('accepts %s', (_, date, expectedMs) => {
    expect(normalised({ ...base, date }).dateMs).toBe(expectedMs);
  });

  it.each([
    ['an impossible day', '2024-02-30', 'unparseable date "2024-02-30"'],
    ['29 February of a common year', '2023-02-29', 'unparseable date "2023-02-29"'],
    ['month 13', '2024-13-01', 'unparseable date "2024-13-01"'],
    ['hour 24', '2024-01-05T24:00:00Z', 'unparseable date "2024-01-05T24:00:00Z"'],
    ['a year and month only', '2024-01', 'unparseable date "2024-01"'],
    ['a non-ISO format', 'January 5, 2024', 'unparseable date "January 5, 2024"'],
    ['trailing text', '2024-01-05x', 'unparseable date "2024-01-05x"'],
    ['an empty fraction', '2024-01-05T00:00:00.Z', 'unparseable date "2024-01-05T00:00:00.Z"'],
    ['a bad offset', '2024-01-05T00:00:00+3', 'unparseable date "2024-01-05T00:00:00+3"'],
    ['an epoch number (ambiguous unit)', JAN5, `unparseable date ${JAN5}`],
    ['an invalid Date', new Date(Number.NaN), 'unparseable date Invalid Date'],
    ['$date with bad text', { $date: 'soon' }, 'unparseable date {"$date":"soon"}'],
    ['null', null, 'unparseable date null'],
  ])('rejects %s', (_, date, reason) => {
    expect(normaliseRecord({ ...base, date })).toEqual({ ok: false, reason });
  });

  it('rejects a record without a date', () => {
    expect(normaliseRecord({ id: 1, month: 1 })).toEqual({ ok: false, reason: 'missing field "date"' });
  });

  it('parses ISO text exactly like Date.parse does for the forms both accept with an offset', () => {
    for (const text of [
      '2024-03-10T01:59:59.999Z',
      '1999-12-31T23:59:59+14:00',
      '2000-02-29T12:00:00-12:00',
    ]) {
      expect(parseIsoDate(text)).toBe(Date.parse(text));
    }
  });
});

describe('month normalisation', () => {
  it.each([
    ['an integer month', 5, 5],
    ['integer 12', 12, 12],
    ['an integer written as a double', 7.0, 7],
    ['a BSON Int32', new Int32(3), 3],
    ['YYYY-MM text', '2024-05', '2024-05'],
    ['YYYY-MM of year 0000', '0000-01', '0000-01'],
    ['a Date (its UTC month)', new Date(Date.UTC(2024, 4, 31, 23)), '2024-05'],
    ['an ISO date text', '2024-05-17', '2024-05'],
    ['an ISO date-time whose UTC month differs from its local one', '2024-06-01T01:00:00+03:00', '2024-05'],
    ['Extended JSON $date', { $date: '2024-02-29T00:00:00Z' }, '2024-02'],
  ])('accepts %s', (_, month, expected) => {
    expect(normalised({ ...base, month }).month).toBe(expected);
  });

  it.each([
    ['0', 0],
    ['13', 13],
    ['5.5', 5.5],
    ['-1', -1],
    ['"2024-13"', '2024-13'],
    ['"2024-5"', '2024-5'],
    ['"2024-00"', '2024-00'],
    ['"5" (text)', '5'],
    ['"May"', 'May'],
    ['true', true],
    ['null', null],
  ])('rejects %s', (_, month) => {
    const result = normaliseRecord({ ...base, month });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(/^invalid month /);
  });

  it('rejects a record without a month', () => {
    expect(normaliseRecord({ id: 1, date: '2024-01-05' })).toEqual({
      ok: false,
      reason: 'missing field "month"',
    });
  });

  it('treats an integer month and a YYYY-MM month as different months', async () => {
    // Payment month 1 vs accrual month 2024-01: not the same, so the older accrual wins.
    const outcome = await matchPayments(
      [
        { id: 1, date: '2024-01-01', month: 2 },
        { id: 2, date: '2024-01-02', month: '2024-01' },
      ],
      [{ id: 1, date: '2024-01-09', month: 1 }],
    );
    expect([...outcome.matches()].map((m) => [m.accrual.id, m.rule])).toEqual([[1, 'oldest']]);
  });

  it('treats YYYY-MM text and a date in that month as the same month', async () => {
    const outcome = await matchPayments(
      [
        { id: 1, date: '2024-01-01', month: '2024-02' },
        { id: 2, date: '2024-01-02', month: new Date(Date.UTC(2024, 2, 10)) },
      ],
      [{ id: 1, date: '2024-01-09', month: '2024-03' }],
    );
    expect([...outcome.matches()].map((m) => [m.accrual.id, m.accrual.month, m.rule])).toEqual([
      [2, '2024-03', 'same-month'],
    ]);
  });
});

describe('records that are not documents', () => {
  it.each([
    ['null', null, 'not an object: null'],
    ['a number', 5, 'not an object: 5'],
    ['a string', 'x', 'not an object: "x"'],
    ['an array', [1, 2], 'not an object: an array'],
    ['undefined', undefined, 'not an object: undefined'],
  ])('rejects %s', (_, record, reason) => {
    expect(normaliseRecord(record)).toEqual({ ok: false, reason });
  });
});
