import { ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../../lib/store/document-store.js';

/**
 * The behaviour every DocumentStore must share, run against each implementation (embedded over
 * memory and files, MongoDB when a server is available). Expected orders are written out by hand
 * from MongoDB's documented BSON order, not computed with our own comparator.
 */

export type MakeStore = (collections: Record<string, Document[]>) => Promise<DocumentStore>;

const D1 = new Date('2024-02-01T09:00:00Z');
const D2 = new Date('2024-02-02T09:00:00Z');
const D3 = new Date('2024-02-03T09:00:00Z');
const OID_A = '65a000000000000000000001';
const OID_B = '65a000000000000000000002';
const LAST_READ = new Date('2024-03-05T12:30:00Z');

/** Fresh fixture objects per call: MongoDB's insert adds `_id` to the documents it is given. */
export function contractCollections(): Record<string, Document[]> {
  const payment: Document[] = [
    { _id: 1, id: 'b', date: D2 },
    { _id: 2, id: new ObjectId(OID_B), date: D2 },
    { _id: 3, id: 10, date: D2 },
    { _id: 4, id: 'a', date: D2 },
    { _id: 5, id: 2, date: D2 },
    { _id: 6, id: 'B', date: D2 },
    { _id: 7, id: new ObjectId(OID_A), date: D2 },
    { _id: 8, id: 2.5, date: D2 },
    { _id: 9, id: '\uFFFD', date: D2 },
    { _id: 10, id: '𝔸', date: D2 },
    { _id: 11, id: 'é', date: D2 },
    { _id: 12, id: 3, date: D1 },
    { _id: 13, id: 'z', date: D3 },
    { _id: 14, id: -1, date: D3 },
    { _id: 15, id: 'no-date' },
  ];
  const Account: Document[] = [
    {
      _id: 103,
      number: '7800000000003',
      name: 'Пользователь №3',
      sessions: [
        {
          created_at: new Date('2024-03-01T10:00:00Z'),
          session_id: 's1',
          actions: [
            { type: 'read', created_at: new Date('2024-03-01T10:01:00Z') },
            { type: 'create', created_at: new Date('2024-03-01T10:02:00Z') },
            { type: 'read', created_at: LAST_READ },
          ],
        },
        { created_at: new Date('2024-03-06T10:00:00Z'), session_id: 's2', actions: [{ type: 'delete' }] },
      ],
    },
    { _id: 101, number: '7800000000001', name: 'Пользователь №1', sessions: [] },
    { _id: 102, number: '7800000000002', name: 'Пользователь №2' },
    { _id: 104, number: '7800000000004', name: 'Пользователь №4', sessions: [{ session_id: 's3' }] },
  ];
  return { payment, Account };
}

/** `(date, id)` ascending in MongoDB order: missing date first (as null); per date numbers,
 * then strings by UTF-8 bytes, then ObjectIds. */
const IDS_BY_DATE_ID = [
  'no-date',
  3,
  2,
  2.5,
  10,
  'B',
  'a',
  'b',
  'é',
  '\uFFFD',
  '𝔸',
  `oid:${OID_A}`,
  `oid:${OID_B}`,
  -1,
  'z',
];

function label(id: unknown): unknown {
  return id instanceof ObjectId ? `oid:${id.toHexString()}` : id;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * Registers the DocumentStore contract suite under `describe(name)`. `makeStore` must return a
 * store over exactly the given collections; it is called once for the shared store and once more
 * for the close() checks.
 */
export function describeDocumentStoreContract(name: string, makeStore: MakeStore): void {
  describe(`${name}: DocumentStore contract`, () => {
    let store: DocumentStore;

    beforeAll(async () => {
      store = await makeStore(contractCollections());
    });

    afterAll(async () => {
      await store?.close();
    });

    describe('find', () => {
      it('streams documents sorted by (date, id) across number, string and ObjectId ids and date ties', async () => {
        const docs = await collect(store.find('payment', {}, { sort: { date: 1, id: 1 } }));
        expect(docs.map((d) => label(d.id))).toEqual(IDS_BY_DATE_ID);
      });

      it('sorts descending as the exact reverse when no two documents tie', async () => {
        const docs = await collect(store.find('payment', {}, { sort: { date: -1, id: -1 } }));
        expect(docs.map((d) => label(d.id))).toEqual([...IDS_BY_DATE_ID].reverse());
      });

      it('applies the projection after sorting on a field it excludes', async () => {
        const docs = await collect(
          store.find('payment', { date: D1 }, { sort: { date: 1, id: 1 }, projection: { _id: 0, id: 1 } }),
        );
        expect(docs).toEqual([{ id: 3 }]);
      });

      it('filters strings with $gt in byte order', async () => {
        const docs = await collect(
          store.find(
            'Account',
            { number: { $gt: '7800000000002' } },
            { sort: { number: 1 }, projection: { _id: 0, number: 1 } },
          ),
        );
        expect(docs).toEqual([{ number: '7800000000003' }, { number: '7800000000004' }]);
      });

      it.each([
        ['{ id: { $gt: 2 } } matches only numbers', { id: { $gt: 2 } }, [3, 2.5, 10]],
        [
          "{ id: { $gte: 'a' } } matches only strings",
          { id: { $gte: 'a' } },
          ['no-date', 'a', 'b', 'é', '\uFFFD', '𝔸', 'z'],
        ],
        ['{ date: { $gte: D3 } } matches only dates', { date: { $gte: D3 } }, [-1, 'z']],
      ])('brackets comparison by type: %s', async (_title, filter, ids) => {
        const docs = await collect(store.find('payment', filter, { sort: { date: 1, id: 1 } }));
        expect(docs.map((d) => label(d.id))).toEqual(ids);
      });

      it('matches an ObjectId by value', async () => {
        const docs = await collect(store.find('payment', { id: new ObjectId(OID_A) }));
        expect(docs.map((d) => d._id)).toEqual([7]);
      });

      it('returns Extended JSON dates as Date objects', async () => {
        const [doc] = await collect(store.find('payment', { _id: 12 }));
        expect(doc?.date).toBeInstanceOf(Date);
        expect((doc?.date as Date | undefined)?.toISOString()).toBe(D1.toISOString());
      });

      it('treats a collection that does not exist as empty', async () => {
        expect(await collect(store.find('no_such_collection', {}))).toEqual([]);
      });

      it('lets a consumer stop early and keeps serving queries', async () => {
        const seen: unknown[] = [];
        for await (const doc of store.find('payment', {}, { sort: { date: 1, id: 1 }, batchSize: 2 })) {
          seen.push(label(doc.id));
          if (seen.length === 2) break;
        }
        expect(seen).toEqual(IDS_BY_DATE_ID.slice(0, 2));
        expect(await collect(store.find('payment', {}))).toHaveLength(IDS_BY_DATE_ID.length);
      });

      it('hands out documents that callers may change without changing the store', async () => {
        const [first] = await collect(store.find('payment', { _id: 1 }));
        if (first) first.id = 'changed';
        const [again] = await collect(store.find('payment', { _id: 1 }));
        expect(again?.id).toBe('b');
        const [aggregated] = await collect(store.aggregate('payment', [{ $match: { _id: 1 } }]));
        if (aggregated) aggregated.id = 'changed again';
        const [afterAggregate] = await collect(store.aggregate('payment', [{ $match: { _id: 1 } }]));
        expect(afterAggregate?.id).toBe('b');
      });
    });

    describe('aggregate', () => {
      it('runs $match, $sort, $limit and $project', async () => {
        const docs = await collect(
          store.aggregate('Account', [
            { $match: { number: { $gte: '7800000000002' } } },
            { $sort: { number: -1 } },
            { $limit: 2 },
            { $project: { _id: 0, number: 1 } },
          ]),
        );
        expect(docs).toEqual([{ number: '7800000000004' }, { number: '7800000000003' }]);
      });

      it('sorts mixed BSON types in a $sort stage as find does', async () => {
        const docs = await collect(
          store.aggregate('payment', [{ $sort: { date: 1, id: 1 } }, { $project: { _id: 0, id: 1 } }]),
        );
        expect(docs.map((d) => label(d.id))).toEqual(IDS_BY_DATE_ID);
      });

      it('evaluates per-document expressions with $map, $filter and $reduce', async () => {
        const readActions = {
          $filter: { input: '$actions', as: 'a', cond: { $eq: ['$$a.type', 'read'] } },
        };
        const docs = await collect(
          store.aggregate('Account', [
            { $sort: { number: 1 } },
            {
              $project: {
                _id: 0,
                number: 1,
                actions: {
                  $reduce: {
                    input: {
                      $map: {
                        input: { $ifNull: ['$sessions', []] },
                        as: 's',
                        in: { $ifNull: ['$$s.actions', []] },
                      },
                    },
                    initialValue: [],
                    in: { $concatArrays: ['$$value', '$$this'] },
                  },
                },
              },
            },
            {
              $project: {
                number: 1,
                total: { $size: '$actions' },
                reads: { $size: readActions },
                lastRead: { $max: { $map: { input: readActions, as: 'r', in: '$$r.created_at' } } },
              },
            },
          ]),
        );
        expect(docs).toEqual([
          { number: '7800000000001', total: 0, reads: 0, lastRead: null },
          { number: '7800000000002', total: 0, reads: 0, lastRead: null },
          { number: '7800000000003', total: 4, reads: 2, lastRead: LAST_READ },
          { number: '7800000000004', total: 0, reads: 0, lastRead: null },
        ]);
      });

      it('compares across types in expressions by BSON order', async () => {
        const docs = await collect(
          store.aggregate('payment', [
            { $match: { _id: { $in: [1, 2, 3, 5, 15] } } },
            { $sort: { _id: 1 } },
            { $project: { above5: { $gt: ['$id', 5] }, cmpDate: { $cmp: ['$date', null] } } },
          ]),
        );
        expect(docs).toEqual([
          { _id: 1, above5: true, cmpDate: 1 },
          { _id: 2, above5: true, cmpDate: 1 },
          { _id: 3, above5: true, cmpDate: 1 },
          { _id: 5, above5: false, cmpDate: 1 },
          { _id: 15, above5: true, cmpDate: -1 },
        ]);
      });
    });

    describe('close', () => {
      it('is safe to call twice, and a closed store refuses queries', async () => {
        const own = await makeStore(contractCollections());
        expect(await collect(own.find('payment', { _id: 1 }))).toHaveLength(1);
        await own.close();
        await expect(own.close()).resolves.toBeUndefined();
        await expect(collect(own.find('payment', {}))).rejects.toThrow(/closed/);
      });
    });
  });
}
