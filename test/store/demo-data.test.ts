import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EJSON, ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { readDocumentsFile } from '../../lib/store/documents-file.js';
import { type DemoData, generateDemoData, writeDemoData } from '../../scripts/demo-data.js';

const asText = (data: unknown): string => EJSON.stringify(data, { relaxed: false });
const CANONICAL_TYPES = ['create', 'read', 'update', 'delete'];

describe('generateDemoData', () => {
  let data: DemoData;

  beforeAll(() => {
    data = generateDemoData({ accounts: 300, accruals: 900, payments: 850, seed: 11 });
  });

  it('gives the same documents for the same seed, and different ones for another seed', () => {
    const again = generateDemoData({ accounts: 300, accruals: 900, payments: 850, seed: 11 });
    expect(asText(again)).toBe(asText(data));
    const other = generateDemoData({ accounts: 300, accruals: 900, payments: 850, seed: 12 });
    expect(asText(other)).not.toBe(asText(data));
  });

  it('uses the defaults when no sizes are given: a few thousand of each', () => {
    const defaults = generateDemoData();
    expect(defaults.Account).toHaveLength(2000);
    expect(defaults.accrual.length).toBeGreaterThan(2000);
    expect(defaults.payment.length).toBeGreaterThan(2000);
  });

  it('numbers accounts with unique 13-digit numbers and Russian names', () => {
    expect(data.Account).toHaveLength(300);
    expect(data.Account[0]).toMatchObject({ number: '7800000000001', name: 'Пользователь №1' });
    const numbers = data.Account.map((account) => account.number as string);
    expect(new Set(numbers).size).toBe(300);
    for (const number of numbers) expect(number).toMatch(/^78\d{11}$/);
  });

  it('logs sessions with mostly canonical action types, and keeps accounts that have none', () => {
    const actions = data.Account.flatMap((account) =>
      ((account.sessions ?? []) as Document[]).flatMap((session) => (session.actions ?? []) as Document[]),
    );
    const types = new Set(actions.map((action) => action.type));
    for (const type of CANONICAL_TYPES) expect(types).toContain(type);
    const canonical = actions.filter((action) => CANONICAL_TYPES.includes(action.type)).length;
    expect(canonical / actions.length).toBeGreaterThan(0.9);
    expect(data.Account.some((account) => account.sessions === undefined)).toBe(true);
    expect(
      data.Account.some((account) => Array.isArray(account.sessions) && account.sessions.length === 0),
    ).toBe(true);
  });

  it('issues accruals monthly per personal account, dated the 1st to 5th of the next month', () => {
    const numbers = new Set(data.Account.map((account) => account.number));
    const good = data.accrual.filter(
      (accrual) => accrual.date instanceof Date && /^\d{4}-(0[1-9]|1[0-2])$/.test(accrual.month),
    );
    expect(good).toHaveLength(900);
    for (const accrual of good) {
      expect(numbers).toContain(accrual.account);
      const date = accrual.date as Date;
      const [year, month] = (accrual.month as string).split('-').map(Number);
      const next = new Date(Date.UTC(year ?? 0, month ?? 0, 1));
      expect([date.getUTCFullYear(), date.getUTCMonth()]).toEqual([
        next.getUTCFullYear(),
        next.getUTCMonth(),
      ]);
      expect(date.getUTCDate()).toBeGreaterThanOrEqual(1);
      expect(date.getUTCDate()).toBeLessThanOrEqual(5);
      expect(accrual.amount).toBeGreaterThan(0);
    }
    const first = data.accrual.filter((accrual) => accrual.account === '7800000000001').map((a) => a.month);
    expect(first.slice(0, 3)).toEqual(['2024-01', '2024-02', '2024-03']);
  });

  it('makes payments later than their accruals, mostly for the same month, with string and ObjectId ids', () => {
    const accrualsByKey = new Map(
      data.accrual.map((accrual) => [`${accrual.account}|${accrual.month}`, accrual]),
    );
    let sameMonthAndLater = 0;
    for (const payment of data.payment) {
      const accrual = accrualsByKey.get(`${payment.account}|${payment.month}`);
      if (accrual?.date instanceof Date && payment.date instanceof Date && payment.date > accrual.date) {
        sameMonthAndLater++;
      }
    }
    expect(sameMonthAndLater / data.payment.length).toBeGreaterThan(0.6);
    const ids = data.payment.map((payment) =>
      payment.id instanceof ObjectId ? payment.id.toHexString() : payment.id,
    );
    expect(new Set(ids).size).toBe(data.payment.length);
    expect(data.payment.some((payment) => payment.id instanceof ObjectId)).toBe(true);
    expect(data.payment.some((payment) => typeof payment.id === 'string')).toBe(true);
    const firstAccrual = Math.min(
      ...data.accrual.filter((a) => a.date instanceof Date).map((a) => (a.date as Date).getTime()),
    );
    expect(
      data.payment.some((payment) => payment.date instanceof Date && payment.date.getTime() < firstAccrual),
    ).toBe(true);
  });

  it('adds a few broken records so demo runs show rejections', () => {
    expect(data.accrual.filter((accrual) => accrual.month === '2024-13')).toHaveLength(1);
    expect(data.accrual.filter((accrual) => !('date' in accrual))).toHaveLength(1);
    expect(data.payment.filter((payment) => payment.month === 'июнь')).toHaveLength(1);
    expect(data.payment.filter((payment) => typeof payment.date === 'string')).toHaveLength(1);
    expect(data.payment.filter((payment) => !('account' in payment))).toHaveLength(1);
  });

  it('leaves the broken records out on request', () => {
    const clean = generateDemoData({ accounts: 5, accruals: 10, payments: 10, badRecords: false });
    expect(clean.accrual).toHaveLength(10);
    expect(clean.payment).toHaveLength(10);
  });

  it.each([
    [{ accounts: -1 }, 'accounts'],
    [{ payments: 1.5 }, 'payments'],
    [{ accounts: 0, accruals: 1 }, 'accounts'],
  ])('rejects %j', (opts, field) => {
    expect(() => generateDemoData(opts)).toThrow(ValidationError);
    expect(() => generateDemoData(opts)).toThrow(new RegExp(`^${field}:`));
  });
});

describe('writeDemoData', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-data-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one NDJSON file per collection that reads back to the same documents', async () => {
    const opts = { accounts: 20, accruals: 40, payments: 35, seed: 5 };
    const written = await writeDemoData(dir, opts);
    expect(written.map((file) => [file.collection, file.count])).toEqual([
      ['Account', 20],
      ['accrual', 42],
      ['payment', 38],
    ]);
    const generated = generateDemoData(opts);
    for (const file of written) {
      expect(file.path).toBe(join(dir, `${file.collection}.ndjson`));
      expect(asText(await readDocumentsFile(file.path))).toBe(asText(generated[file.collection]));
    }
    const text = await readFile(join(dir, 'payment.ndjson'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/"date":\{"\$date":"\d{4}-\d{2}-\d{2}T[\d:.]+Z"\}/);
  });
});
