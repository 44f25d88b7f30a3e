import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBRef, Decimal128, EJSON, Long, ObjectId } from 'bson';
import fc from 'fast-check';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../lib/errors.js';
import { compareBson, sortDocuments } from '../../lib/store/bson-order.js';
import { DataFileError, EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { sortForFind } from '../../lib/store/find-order.js';
import { writeDemoData } from '../../scripts/demo-data.js';
import { describeDocumentStoreContract } from './contract.js';

const directories: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'embedded-store-'));
  directories.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(directories.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describeDocumentStoreContract('EmbeddedDocumentStore over in-memory collections', async (collections) => {
  return new EmbeddedDocumentStore({ collections });
});

describeDocumentStoreContract(
  'EmbeddedDocumentStore over NDJSON files (relaxed Extended JSON)',
  async (collections) => {
    const dir = await freshDir();
    for (const [name, documents] of Object.entries(collections)) {
      const lines = documents.map((document) => EJSON.stringify(document, { relaxed: true }));
      await writeFile(join(dir, `${name}.ndjson`), `${lines.join('\n')}\n`);
    }
    return new EmbeddedDocumentStore({ dataDir: dir });
  },
);

describeDocumentStoreContract(
  'EmbeddedDocumentStore over JSON array files (canonical Extended JSON)',
  async (collections) => {
    const dir = await freshDir();
    for (const [name, documents] of Object.entries(collections)) {
      await writeFile(
        join(dir, `${name}.json`),
        EJSON.stringify(documents, undefined, 2, { relaxed: false }),
      );
    }
    return new EmbeddedDocumentStore({ dataDir: dir });
  },
);

describe('EmbeddedDocumentStore on a data directory', () => {
  it('reads a collection file on first use and keeps serving that snapshot', async () => {
    const dir = await freshDir();
    const store = new EmbeddedDocumentStore({ dataDir: dir });
    await writeFile(join(dir, 'Account.json'), '[{"number": "7800000000001"}]');
    expect(await collect(store.find('Account', {}, { projection: { _id: 0 } }))).toEqual([
      { number: '7800000000001' },
    ]);
    await writeFile(join(dir, 'Account.json'), '[]');
    expect(await collect(store.find('Account', {}))).toHaveLength(1);
  });

  it('refuses a directory holding both Account.json and Account.ndjson', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'Account.json'), '[]');
    await writeFile(join(dir, 'Account.ndjson'), '');
    const store = new EmbeddedDocumentStore({ dataDir: dir });
    const failure = collect(store.find('Account', {}));
    await expect(failure).rejects.toBeInstanceOf(DataFileError);
    await expect(failure).rejects.toThrow(/both .*Account\.json and .*Account\.ndjson/);
  });

  it('names the file and line of a broken record, and reads the file again once it is fixed', async () => {
    const dir = await freshDir();
    const path = join(dir, 'payment.ndjson');
    await writeFile(path, '{"id": 1}\n{"id": 2,}\n');
    const store = new EmbeddedDocumentStore({ dataDir: dir });
    const failure = collect(store.find('payment', {}));
    await expect(failure).rejects.toBeInstanceOf(DataFileError);
    await expect(failure).rejects.not.toBeInstanceOf(AppError);
    await expect(failure).rejects.toThrow(`${path} line 2`);
    await writeFile(path, '{"id": 1}\n{"id": 2}\n');
    expect(await collect(store.find('payment', {}))).toHaveLength(2);
  });

  it.each(['../secrets', 'a/b', '', '.hidden'])('refuses the collection name %j', async (name) => {
    const store = new EmbeddedDocumentStore({ dataDir: await freshDir() });
    await expect(collect(store.find(name, {}))).rejects.toBeInstanceOf(ValidationError);
  });

  it('serves the demo data set in (date, id) order with dates as Date', async () => {
    const dir = await freshDir();
    await writeDemoData(dir, { accounts: 50, accruals: 120, payments: 110, seed: 3 });
    const store = new EmbeddedDocumentStore({ dataDir: dir });
    const payments = await collect(store.find('payment', {}, { sort: { date: 1, id: 1 } }));
    expect(payments).toHaveLength(113);
    expect(payments.filter((p) => p.date instanceof Date).length).toBeGreaterThan(100);
    for (let i = 1; i < payments.length; i++) {
      const [previous, current] = [payments[i - 1], payments[i]];
      const order = compareBson(previous?.date, current?.date) || compareBson(previous?.id, current?.id);
      expect(order).toBeLessThanOrEqual(0);
    }
  });
});

describe('EmbeddedDocumentStore pipelines', () => {
  const collections = (): Record<string, Document[]> => ({
    Account: [
      { _id: 1, number: '7800000000001', city: 'Казань' },
      { _id: 2, number: '7800000000002', city: 'Пермь' },
      { _id: 3, number: '7800000000003', city: 'Казань' },
    ],
    accrual: [
      { id: 1, account: '7800000000001', amount: 100 },
      { id: 2, account: '7800000000001', amount: 50 },
      { id: 3, account: '7800000000003', amount: 70 },
    ],
  });
  let store: EmbeddedDocumentStore;

  beforeAll(() => {
    store = new EmbeddedDocumentStore({ collections: collections() });
  });

  it.each<[string, Document[], Document[]]>([
    [
      '$group with accumulators',
      [{ $group: { _id: '$city', n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
      [
        { _id: 'Казань', n: 2 },
        { _id: 'Пермь', n: 1 },
      ],
    ],
    [
      '$setWindowFields with a window operator',
      [
        { $setWindowFields: { sortBy: { number: 1 }, output: { position: { $documentNumber: {} } } } },
        { $project: { _id: 0, number: 1, position: 1 } },
      ],
      [
        { number: '7800000000001', position: 1 },
        { number: '7800000000002', position: 2 },
        { number: '7800000000003', position: 3 },
      ],
    ],
    [
      '$lookup from another collection',
      [
        { $lookup: { from: 'accrual', localField: 'number', foreignField: 'account', as: 'accruals' } },
        { $project: { _id: 0, number: 1, owed: { $sum: '$accruals.amount' } } },
      ],
      [
        { number: '7800000000001', owed: 150 },
        { number: '7800000000002', owed: 0 },
        { number: '7800000000003', owed: 70 },
      ],
    ],
    [
      '$facet with $count',
      [{ $facet: { all: [{ $count: 'n' }], kazan: [{ $match: { city: 'Казань' } }, { $count: 'n' }] } }],
      [{ all: [{ n: 3 }], kazan: [{ n: 2 }] }],
    ],
  ])('supports %s', async (_title, pipeline, expected) => {
    expect(await collect(store.aggregate('Account', pipeline))).toEqual(expected);
  });

  it.each(['$out', '$merge'])('refuses the write stage %s: the store is read-only', async (stage) => {
    await expect(collect(store.aggregate('Account', [{ [stage]: 'copy' }]))).rejects.toThrow(stage);
  });
});

describe('EmbeddedDocumentStore query $type, as MongoDB documents it', () => {
  const store = new EmbeddedDocumentStore({
    collections: {
      values: [
        { _id: 1, v: 'text' },
        { _id: 2, v: ['a', 1] },
        { _id: 3, v: 5 },
        { _id: 4, v: 2.5 },
        { _id: 5, v: Long.fromString('9007199254740993') },
        { _id: 6, v: Decimal128.fromString('1.5') },
        { _id: 7, v: new DBRef('c', new ObjectId('65a000000000000000000001')) },
        { _id: 8, v: { a: 1 } },
        { _id: 9, v: null },
        { _id: 10 },
        { _id: 11, v: [[1]] },
        { _id: 12, v: [] },
      ],
    },
  });

  it.each<[string, unknown, number[]]>([
    ['a string, also as an array element', 'string', [1, 2]],
    ['an array, the field itself', 'array', [2, 11, 12]],
    ['any number, of every kind, also as an array element (one level deep)', 'number', [2, 3, 4, 5, 6]],
    ['int, by value for plain numbers', 'int', [2, 3]],
    ['long, a Long or a safe integer', 'long', [2, 3, 5]],
    ['double, any plain number', 'double', [2, 3, 4]],
    ['decimal', 'decimal', [6]],
    ['an embedded document, a DBRef included', 'object', [7, 8]],
    ['null, not a missing field', 'null', [9]],
    ['a BSON type number (2 = string)', 2, [1, 2]],
    ['a list of types', ['decimal', 'null'], [6, 9]],
  ])('matches %s', async (_title, type, ids) => {
    const docs = await collect(store.find('values', { v: { $type: type } }, { sort: { _id: 1 } }));
    expect(docs.map((doc) => doc._id)).toEqual(ids);
  });

  it('negates with $not, so an array of strings is neither kept nor half-matched', async () => {
    const docs = await collect(
      store.find('values', { v: { $type: 'string', $not: { $type: 'array' } } }, { sort: { _id: 1 } }),
    );
    expect(docs.map((doc) => doc._id)).toEqual([1]);
  });
});

describe('EmbeddedDocumentStore find, as the matching worker reads', () => {
  it('answers every document after the first without a promise (one wait per find, not per document)', async () => {
    const payments = Array.from({ length: 50 }, (_, i) => ({
      id: 50 - i,
      date: new Date(Date.UTC(2024, 0, 1 + (i % 7))),
    }));
    const store = new EmbeddedDocumentStore({ collections: { payment: payments } });
    const iterator = store.find('payment', {}, { sort: { date: 1, id: 1 } })[Symbol.asyncIterator]();
    const first = await iterator.next();
    const rest: unknown[] = [];
    for (let step = iterator.next(); ; step = iterator.next()) {
      expect(step).not.toBeInstanceOf(Promise);
      const { done, value } = step as unknown as IteratorResult<Document>;
      if (done) break;
      rest.push(value);
    }
    expect([first.value, ...rest]).toEqual(sortDocuments(payments, { date: 1, id: 1 }));
  });

  it('hands out copies of the stored dates too', async () => {
    const store = new EmbeddedDocumentStore({ collections: { payment: [{ id: 1, date: new Date(0) }] } });
    const [first] = await collect(store.find('payment', {}));
    expect(first?.date).toBeInstanceOf(Date);
    first?.date.setTime(5);
    const [again] = await collect(store.find('payment', {}));
    expect(again?.date).toEqual(new Date(0));
  });
});

/** Sort keys of every kind find-order.ts handles, and some it hands to the generic sort. */
const sortKey = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0.5, -0, Number.NaN, Number.POSITIVE_INFINITY),
  fc.constantFrom('a', 'B', 'é', '\u{1F600}', '\uFFFF', ''),
  fc.integer({ min: 0, max: 3 }).map((day) => new Date(Date.UTC(2024, 0, 1 + day))),
  fc.constant(new Date(Number.NaN)),
  fc.constantFrom('65a000000000000000000001', '65a000000000000000000002').map((hex) => new ObjectId(hex)),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const rareKey = fc.oneof(
  fc.constant([2, 1]),
  fc.constant(Long.fromString('9007199254740993')),
  fc.constant({ nested: 1 }),
);

describe('sortForFind', () => {
  it.each([
    ['plain keys', sortKey],
    [
      'plain keys and, sometimes, arrays, Longs or documents',
      fc.oneof({ weight: 9, arbitrary: sortKey }, { weight: 1, arbitrary: rareKey }),
    ],
  ])('orders documents exactly as the generic BSON sort does (%s)', (_keys, key) => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: key, date: key, id: key, n: fc.nat() }, { requiredKeys: ['n'] }), {
          maxLength: 40,
        }),
        fc.constantFrom<Record<string, 1 | -1>[]>(
          { date: 1, id: 1 },
          { p: 1, date: 1, id: 1 },
          { p: -1, id: 1 },
          { 'p.x': 1, id: -1 },
        ),
        (documents, spec) => {
          expect(sortForFind(documents, spec)).toEqual(sortDocuments(documents, spec));
        },
      ),
      { numRuns: 500 },
    );
  });
});
