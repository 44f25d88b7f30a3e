import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EJSON, Long } from 'bson';
import { type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseRecord } from '../../lib/matching/index.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { MongoDocumentStore } from '../../lib/store/mongo-store.js';
import { actionsPagePipeline, getAccountActions } from '../../lib/summary/index.js';
import { type MongoWireDouble, startMongoWireDouble } from '../support/mongo-wire-double.js';

/**
 * What the MongoDB store sends and how it decodes, checked through the official driver against the
 * wire-protocol double (test/support/mongo-wire-double.ts): the commands as they leave the driver,
 * and the BSON values as the driver hands them back. Query semantics are the contract's business
 * (test/store/contract.ts, against a real server when MONGODB_URI is set).
 */

const T1 = new Date('2024-04-01T08:00:00Z');
const payment = (_id: number, id: unknown): Document => ({ _id, id, date: T1, month: '2024-04' });

/** int64 ids around the edge of what a double holds exactly. */
const int64Payments = (): Document[] => [
  payment(1, Long.fromString('9007199254740992')),
  payment(2, Long.fromString('-9007199254740992')),
  payment(3, Long.fromString('9007199254740993')),
  payment(4, Long.fromString('9007199254740991')),
  payment(5, Long.fromNumber(5)),
];

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** What the matcher makes of each record: its id, or `rejected` with the reason's first words. */
function matcherView(documents: readonly Document[]): unknown[] {
  return documents.map((document) => {
    const normalised = normaliseRecord(document);
    return normalised.ok ? normalised.id : `rejected: ${normalised.reason.split(' ').slice(0, 2).join(' ')}`;
  });
}

describe('MongoDocumentStore through the official driver', () => {
  let double: MongoWireDouble;
  let store: MongoDocumentStore;
  let dataDir = '';

  beforeAll(async () => {
    double = await startMongoWireDouble({
      collections: {
        payment: int64Payments(),
        Account: [{ number: '7800000000001', sessions: [] }],
      },
    });
    store = new MongoDocumentStore(
      new MongoClient(double.uri(), { serverSelectionTimeoutMS: 2000 }),
      'billing',
    );
    dataDir = await mkdtemp(join(tmpdir(), 'mongo-wire-'));
  });

  afterAll(async () => {
    await store?.close();
    await double?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('sends the simple collation with every find and aggregate, whatever the collection default', async () => {
    const before = double.queries().length;
    await collect(store.find('payment', {}, { sort: { date: 1, id: 1 } }));
    await collect(store.aggregate('Account', actionsPagePipeline({ limit: 10 })));
    expect(await getAccountActions(store, '7800000000001')).toMatchObject({ number: '7800000000001' });
    const queries = double.queries().slice(before);
    expect(queries.map((query) => query.name)).toEqual(['find', 'aggregate', 'aggregate']);
    for (const query of queries) expect(query.command.collation).toEqual({ locale: 'simple' });
  });

  it('hands every int64 out as a Long, never as a number, not even ±2^53', async () => {
    const documents = await collect(store.find('payment', {}, { sort: { _id: 1 } }));
    expect(documents.map((document) => Long.isLong(document.id))).toEqual([true, true, true, true, true]);
    expect(documents.map((document) => String(document.id))).toEqual([
      '9007199254740992',
      '-9007199254740992',
      '9007199254740993',
      '9007199254740991',
      '5',
    ]);
  });

  it('gives the matcher the same ids to accept and reject as an Extended JSON file of the same records', async () => {
    const fromDriver = await collect(store.find('payment', {}, { sort: { _id: 1 } }));
    const lines = int64Payments().map((document) => EJSON.stringify(document, { relaxed: false }));
    await writeFile(join(dataDir, 'payment.ndjson'), `${lines.join('\n')}\n`);
    const fromFile = await collect(
      new EmbeddedDocumentStore({ dataDir }).find('payment', {}, { sort: { _id: 1 } }),
    );
    expect(matcherView(fromDriver)).toEqual([
      'rejected: invalid id',
      'rejected: invalid id',
      'rejected: invalid id',
      9007199254740991,
      5,
    ]);
    expect(matcherView(fromFile)).toEqual(matcherView(fromDriver));
  });
});
