import type { Document } from 'mongodb';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchPayments, toMatchResult } from '../../lib/matching/index.js';
import { MongoDocumentStore } from '../../lib/store/mongo-store.js';
import { type MongoWireDouble, startMongoWireDouble } from '../support/mongo-wire-double.js';

/**
 * `MongoDocumentStore.find` through the official driver (against the wire-protocol double, which
 * serves `find` and `getMore` in batches): a promise per batch, the documents of a fetched batch
 * answered synchronously, and the matcher reading straight from two such cursors.
 */

const day = (d: number): Date => new Date(Date.UTC(2024, 0, 1 + d));

function records(count: number, lag: number, salt: number): Document[] {
  return Array.from({ length: count }, (_, i) => ({
    id: (i * 7919 + salt) % 100_003,
    date: day(lag + ((i * 31 + salt) % 20)),
    month: `2024-0${1 + ((i * 13 + salt) % 3)}`,
    note: `r${i}`,
  }));
}

const accruals = records(450, 0, 1);
const payments = records(430, 2, 2);
const sort = { date: 1, id: 1 } as const;

let double: MongoWireDouble;
let store: MongoDocumentStore;

beforeAll(async () => {
  double = await startMongoWireDouble({
    collections: { accrual: accruals.map((r) => ({ ...r })), payment: payments.map((r) => ({ ...r })) },
  });
  store = new MongoDocumentStore(
    new MongoClient(double.uri(), { serverSelectionTimeoutMS: 2000 }),
    'billing',
  );
});

afterAll(async () => {
  await store?.close();
  await double?.close();
});

describe('MongoDocumentStore.find', () => {
  it('streams every document in order, with one promise per batch', async () => {
    const iterator = store.find('payment', {}, { sort, batchSize: 100 })[Symbol.asyncIterator]();
    const notes: unknown[] = [];
    let promises = 0;
    for (;;) {
      let step: IteratorResult<Document> | Promise<IteratorResult<Document>> = iterator.next();
      if (typeof (step as Partial<Promise<unknown>>).then === 'function') {
        promises++;
        step = await step;
      }
      const result = step as IteratorResult<Document>;
      if (result.done) break;
      notes.push(result.value.note);
    }
    const expected = [...payments]
      .sort((a, b) => a.date.getTime() - b.date.getTime() || a.id - b.id)
      .map((r) => r.note);
    expect(notes).toEqual(expected);
    // Five batches of 100 for 430 documents: a promise for each, and one for the end.
    expect(promises).toBe(6);
  });

  it('feeds the matcher the same result as the documents in memory', async () => {
    const meta = { runId: 'r', generatedAt: 'g' };
    for (const policy of ['chronological', 'month-first'] as const) {
      const streamed = await matchPayments(
        store.find('accrual', {}, { sort, batchSize: 64 }),
        store.find('payment', {}, { sort, batchSize: 64 }),
        { policy },
      );
      const inMemory = await matchPayments(accruals, payments, { policy });
      const { stats, ...result } = toMatchResult(streamed, meta);
      const { stats: expectedStats, ...expected } = toMatchResult(inMemory, meta);
      expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(JSON.stringify(expected)));
      expect({ ...stats, durationMs: 0 }).toEqual({ ...expectedStats, durationMs: 0 });
      expect(stats.matched).toBeGreaterThan(100);
    }
  });

  it('closes the server cursor when the reader stops early', async () => {
    const killed = () => double.received.filter((command) => command.name === 'killCursors').length;
    const before = killed();
    for await (const document of store.find('accrual', {}, { sort, batchSize: 10 })) {
      expect(document.id).toBeDefined();
      break;
    }
    expect(killed()).toBe(before + 1);
  });

  it('refuses to read once the store is closed', async () => {
    const closed = new MongoDocumentStore(new MongoClient(double.uri()), 'billing');
    await closed.close();
    const read = async (): Promise<void> => {
      for await (const _ of closed.find('accrual', {})) {
        // never reached
      }
    };
    await expect(read()).rejects.toThrow('MongoDocumentStore is closed');
  });
});
