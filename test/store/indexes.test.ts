import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { ensureIndexes, indexDefinitions } from '../../lib/store/indexes.js';

const run = promisify(execFile);

describe('indexDefinitions', () => {
  it('indexes Account.number uniquely and accrual/payment by (date, id), id and (account, date, id)', () => {
    expect(indexDefinitions()).toEqual([
      { collection: 'Account', key: { number: 1 }, unique: true },
      { collection: 'accrual', key: { date: 1, id: 1 }, unique: false },
      { collection: 'accrual', key: { id: 1 }, unique: false },
      { collection: 'accrual', key: { account: 1, date: 1, id: 1 }, unique: false },
      { collection: 'payment', key: { date: 1, id: 1 }, unique: false },
      { collection: 'payment', key: { id: 1 }, unique: false },
      { collection: 'payment', key: { account: 1, date: 1, id: 1 }, unique: false },
    ]);
  });

  it('makes no matching-input index unique: a repeated id is rejected per record by the matcher, never refused by an import', () => {
    const inputs = indexDefinitions(['account', 'house']).filter((index) => index.collection !== 'Account');
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.filter((index) => index.unique)).toEqual([]);
  });

  it('keeps the partition field first, then date and id, for each named field once', () => {
    const keys = indexDefinitions(['house', 'account.number', 'house'])
      .filter((index) => index.collection === 'payment')
      .map((index) => Object.keys(index.key));
    expect(keys).toEqual([['date', 'id'], ['id'], ['house', 'date', 'id'], ['account.number', 'date', 'id']]);
  });

  it('indexes no partition field when given none', () => {
    expect(indexDefinitions([])).toHaveLength(5);
  });

  it.each(['', '$account', 'a..b', 'a.', 'date', 'id', '_id'])('rejects the partition field %j', (field) => {
    expect(() => indexDefinitions([field])).toThrow(ValidationError);
  });
});

describe('ensureIndexes', () => {
  it('creates every definition through createIndex, with the simple collation, and reports the names', async () => {
    const calls: unknown[] = [];
    const db = {
      collection: (name: string) => ({
        createIndex: async (key: Record<string, number>, options: Record<string, unknown>) => {
          calls.push([name, key, options]);
          return Object.entries(key)
            .map(([field, direction]) => `${field}_${direction}`)
            .join('_');
        },
      }),
    } as unknown as Db;
    const ensured = await ensureIndexes(db, { partitionBy: ['house'] });
    const simple = { collation: { locale: 'simple' } };
    expect(calls).toContainEqual(['Account', { number: 1 }, { unique: true, ...simple }]);
    expect(calls).toContainEqual(['payment', { house: 1, date: 1, id: 1 }, { unique: false, ...simple }]);
    expect(calls).toContainEqual(['accrual', { id: 1 }, { unique: false, ...simple }]);
    expect(calls).toHaveLength(7);
    expect(ensured.map((index) => `${index.collection}.${index.name}`)).toContain(
      'accrual.house_1_date_1_id_1',
    );
  });
});

describe('npm run indexes (scripts/create-indexes.ts)', () => {
  const script = join(import.meta.dirname, '../../scripts/create-indexes.ts');
  const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');

  async function exitOf(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    try {
      await run(tsx, [script, ...args], { env, timeout: 20_000 });
      return { code: 0, stderr: '' };
    } catch (error) {
      const failed = error as { code?: number; stderr?: string };
      return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
    }
  }

  const withoutUri = (): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    delete env.MONGODB_URI;
    return env;
  };

  it('exits 2 with one line on stderr when MONGODB_URI is missing', async () => {
    const { code, stderr } = await exitOf([], withoutUri());
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      'create-indexes: MONGODB_URI is not set: point it at the cluster to index',
    ]);
  });

  it('exits 2 when --partition-by has no field', async () => {
    const { code, stderr } = await exitOf(['--partition-by'], withoutUri());
    expect(code).toBe(2);
    expect(stderr).toMatch(/^create-indexes: .*partition-by/);
  });
});
