import { Decimal128, Long, ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseRecord } from '../../lib/matching/index.js';
import { shardFilter, shardRanges } from '../../lib/runs/shards/plan.js';
import type { DocumentStore } from '../../lib/store/document-store.js';
import { sampleField } from '../../lib/store/sample-field.js';
import { type AccountActions, getAccountActions, listAccountActions } from '../../lib/summary/index.js';

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
  return { payment, Account, partitioned: partitionedCollection() };
}

/**
 * Partition values of every kind at `p` (and at `a.b`), for the shard filters: `_id` names the
 * shard each must fall in under the boundaries [2, 'b'] (see `SHARD_OF`).
 */
function partitionedCollection(): Document[] {
  const values: [string, unknown][] = [
    ['1', 1],
    ['-2.5', -2.5],
    ['long 5', Long.fromNumber(5)],
    ['long 2^60', Long.fromString('1152921504606846976')],
    ['decimal 3', Decimal128.fromString('3')],
    ['nan', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
    ['1e300', 1e300],
    ['a', 'a'],
    ['é', 'é'],
    ['b', 'b'],
    ['oid', new ObjectId(OID_A)],
    ['null', null],
    ['true', true],
    ['array', [1, 'z']],
    ['document', { x: 1 }],
    ['date', D1],
  ];
  return [
    ...values.map(([_id, p]) => ({ _id, p, a: { b: p } })),
    { _id: 'missing' },
    { _id: 'a array', p: 'c', a: [{ b: 'c' }] },
  ];
}

/** The shard of each `partitioned` document under boundaries [2, 'b']: rejected values in shard 0. */
const SHARD_OF: Readonly<Record<string, number>> = {
  '1': 0,
  '-2.5': 0,
  'long 5': 1,
  'long 2^60': 0,
  'decimal 3': 0,
  nan: 0,
  infinity: 0,
  '1e300': 1,
  a: 1,
  é: 2,
  b: 2,
  oid: 2,
  null: 0,
  true: 0,
  array: 0,
  document: 0,
  date: 0,
  missing: 0,
  'a array': 2,
};

/**
 * A BSON date beyond the range of a JavaScript Date (±8.64e15 ms), as a server holds it: the
 * driver writes `getTime()` as the int64 of the BSON date, Extended JSON writers write
 * `{"$date": {"$numberLong": "…"}}`, and comparisons (`valueOf`) see the far instant. Reading one
 * back, from a server or a file, gives an invalid Date.
 */
export class OutOfRangeDate extends Date {
  constructor(readonly ms: number) {
    super(Number.NaN);
  }

  override getTime(): number {
    return this.ms;
  }

  override valueOf(): number {
    return this.ms;
  }
}

/** One millisecond past the last instant a JavaScript Date can hold, and before the first. */
export const FAR_FUTURE = 8_640_000_000_000_001;
export const FAR_PAST = -8_640_000_000_000_001;

const T1 = new Date('2024-04-01T08:00:00Z');
const T2 = new Date('2024-04-02T08:00:00Z');
const T3 = new Date('2024-04-03T08:00:00Z');

/**
 * Data that MongoDB and the embedded store used to answer differently (issue 11): a `number`
 * that is an array of strings, DBRef-shaped sessions and actions, dates beyond JavaScript's range,
 * int64 ids at ±2^53 and beyond, Decimal128 ids a double cannot tell apart. Fresh objects per call.
 */
export function oddCollections(): Record<string, Document[]> {
  const Account: Document[] = [
    { _id: 1, number: '7800000000001', sessions: [{ actions: [{ type: 'read', created_at: T1 }] }] },
    {
      _id: 2,
      number: ['7800000000002', '7800000000003'],
      sessions: [{ actions: [{ type: 'read', created_at: T2 }] }],
    },
    {
      _id: 3,
      number: '7800000000004',
      sessions: [
        {
          $ref: 'session',
          $id: 31,
          actions: [
            { type: 'read', created_at: T1 },
            { $ref: 'action', $id: 32, type: 'read', created_at: T2 },
          ],
        },
      ],
    },
    {
      _id: 4,
      number: '7800000000005',
      sessions: [
        {
          actions: [
            { type: 'update', created_at: T3 },
            { type: 'update', created_at: new OutOfRangeDate(FAR_FUTURE) },
            { type: 'delete', created_at: new OutOfRangeDate(FAR_PAST) },
          ],
        },
      ],
    },
    { _id: 5, number: '7800000000006' },
  ];
  // Numbers a double cannot tell apart: 0.1 (decimal) < 0.1 (double, 0.1000000000000000055…),
  // and 2^53 (double) < 2^53 + 1 (decimal).
  const decimal_ids: Document[] = [
    { _id: 1, id: Decimal128.fromString('0.1') },
    { _id: 2, id: 0.1 },
    { _id: 3, id: Decimal128.fromString('9007199254740993') },
    { _id: 4, id: 9007199254740992 },
    { _id: 5, id: Decimal128.fromString('9007199254740992') },
    { _id: 6, id: Decimal128.fromString('0.10') },
    { _id: 7, id: Decimal128.fromString('-0') },
    { _id: 8, id: 0 },
  ];
  const record = (_id: number, id: unknown): Document => ({ _id, id, date: T1, month: '2024-04' });
  // int64 values a double holds exactly, so every file format keeps them as they are.
  const payment: Document[] = [
    record(1, Long.fromString('9007199254740992')),
    record(2, Long.fromString('-9007199254740992')),
    record(3, Long.fromString('1152921504606846976')),
    record(4, Long.fromString('9007199254740990')),
  ];
  return { Account, decimal_ids, payment };
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

    describe('estimatedCount and a $sample of one field', () => {
      it('counts a collection (0 for a missing one)', async () => {
        expect(await store.estimatedCount('payment')).toBe(15);
        expect(await store.estimatedCount('no_such_collection')).toBe(0);
      });

      // MongoDB samples without replacement when it scans (size ≥ 5 % of the collection: at most
      // every document once) and may repeat one on its random cursor; mingo draws with replacement
      // (always `size` values). Both hand out only values the collection has.
      it('samples documents, projecting one field (absent where missing)', async () => {
        const ids = new Set(IDS_BY_DATE_ID.map(label));
        const values = await sampleField(store, 'payment', 'id', 5);
        expect(values).toHaveLength(5);
        for (const value of values) expect(ids.has(label(value))).toBe(true);
        const all = await sampleField(store, 'payment', 'id', 100);
        expect(all.length).toBeGreaterThanOrEqual(15);
        for (const value of all) expect(ids.has(label(value))).toBe(true);
        const dotted = await sampleField(store, 'partitioned', 'a.b', 100);
        expect(dotted.length).toBeGreaterThanOrEqual(19);
        // `{ a: [{ b: 'c' }] }`: the expression `$a.b` reads through the array, giving `['c']`, never 'c'.
        expect(dotted.every((value) => value !== 'c')).toBe(true);
      });
    });

    describe('shard filters', () => {
      it.each(['p', 'a.b'])(
        'put every document in exactly one shard, rejected values in shard 0 (%s)',
        async (field) => {
          const plan = { partitionBy: field, shards: shardRanges([2, 'b']) };
          const found = new Map<string, number>();
          for (const { shard } of plan.shards) {
            for (const document of await collect(store.find('partitioned', shardFilter(plan, shard)))) {
              expect(found.has(document._id), `${document._id} in two shards`).toBe(false);
              found.set(document._id as string, shard);
            }
          }
          const expected = { ...SHARD_OF };
          // `a` is an array on the way to `a.b` (a rejected value); at `p` the value is 'c'.
          if (field === 'a.b') expected['a array'] = 0;
          expect(Object.fromEntries(found)).toEqual(expected);
        },
      );
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

      it.each<[string, Document, number[]]>([
        ['equality is case-sensitive', { id: 'b' }, [1]],
        ['equality is accent-sensitive', { id: { $in: ['e', 'a'] } }, [4]],
        ['a range is in byte order', { id: { $gt: 'B', $lt: 'b' } }, [4]],
      ])(
        'compares strings by their bytes whatever the collection default collation: %s',
        async (_title, filter, ids) => {
          const docs = await collect(store.find('payment', filter, { sort: { _id: 1 } }));
          expect(docs.map((d) => d._id)).toEqual(ids);
        },
      );

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

      it('compares strings in expressions and set operators by their bytes', async () => {
        const docs = await collect(
          store.aggregate('payment', [
            { $match: { _id: { $in: [1, 6] } } },
            { $sort: { _id: 1 } },
            {
              $project: {
                isUpperB: { $eq: ['$id', 'B'] },
                distinct: { $size: { $setUnion: [['$id'], ['b', 'B', 'á', 'a']] } },
              },
            },
          ]),
        );
        expect(docs).toEqual([
          { _id: 1, isUpperB: false, distinct: 4 },
          { _id: 6, isUpperB: true, distinct: 4 },
        ]);
      });
    });

    describe('odd data, answered as MongoDB answers it', () => {
      let odd: DocumentStore;

      beforeAll(async () => {
        odd = await makeStore(oddCollections());
      });

      afterAll(async () => {
        await odd?.close();
      });

      const walk = async (limit: number): Promise<{ numbers: string[]; cursors: unknown[] }> => {
        const numbers: string[] = [];
        const cursors: unknown[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await listAccountActions(odd, after === undefined ? { limit } : { after, limit });
          numbers.push(...page.items.map((item) => item.number));
          cursors.push(page.after);
          if (page.after === null) return { numbers, cursors };
          after = page.after;
        }
        throw new Error('no last page');
      };

      describe('a number that is an array of strings', () => {
        it('matches { $type: "string" }, as MongoDB matches an array when one element does', async () => {
          const docs = await collect(
            odd.find('Account', { number: { $type: 'string' } }, { sort: { _id: 1 } }),
          );
          expect(docs.map((d) => d._id)).toEqual([1, 2, 3, 4, 5]);
        });

        it.each([1, 2, 10])('is on no page, whatever the page size (%i)', async (limit) => {
          const { numbers, cursors } = await walk(limit);
          expect(numbers).toEqual(['7800000000001', '7800000000004', '7800000000005', '7800000000006']);
          for (const cursor of cursors) expect(cursor === null || typeof cursor === 'string').toBe(true);
        });

        it('is no account for any of its elements', async () => {
          expect(await getAccountActions(odd, '7800000000002')).toBeUndefined();
          expect(await getAccountActions(odd, '7800000000003')).toBeUndefined();
        });
      });

      describe('DBRef-shaped sessions and actions ({ $ref, $id, … })', () => {
        it('are embedded documents to $type', async () => {
          const docs = await collect(
            odd.aggregate('Account', [
              { $match: { _id: 3 } },
              {
                $project: {
                  _id: 0,
                  sessions: { $map: { input: '$sessions', as: 's', in: { $type: '$$s' } } },
                  actions: {
                    $map: {
                      input: { $arrayElemAt: ['$sessions.actions', 0] },
                      as: 'a',
                      in: { $type: '$$a' },
                    },
                  },
                },
              },
            ]),
          );
          expect(docs).toEqual([{ sessions: ['object'], actions: ['object', 'object'] }]);
        });

        it('have their actions counted', async () => {
          const summary = await getAccountActions(odd, '7800000000004');
          expect(summary?.actions[1]).toEqual({ type: 'read', last: T2, count: 2 });
        });
      });

      it('counts actions dated beyond JavaScript’s range but takes last from representable dates only', async () => {
        const summary: AccountActions | undefined = await getAccountActions(odd, '7800000000005');
        expect(summary?.actions.slice(2)).toEqual([
          { type: 'update', last: T3, count: 2 },
          { type: 'delete', last: null, count: 1 },
        ]);
      });

      describe('int64 ids', () => {
        it('are never handed out as a number once they reach ±2^53', async () => {
          const docs = await collect(odd.find('payment', { _id: { $lte: 3 } }, { sort: { _id: 1 } }));
          expect(docs.map((d) => [typeof d.id, String(d.id)])).toEqual([
            ['object', '9007199254740992'],
            ['object', '-9007199254740992'],
            ['object', '1152921504606846976'],
          ]);
        });

        it('are rejected by the matcher from ±2^53 on and accepted below, from any store', async () => {
          const docs = await collect(odd.find('payment', {}, { sort: { _id: 1 } }));
          expect(
            docs.map((d) => {
              const normalised = normaliseRecord(d);
              return normalised.ok ? normalised.id : /^invalid id /.test(normalised.reason);
            }),
          ).toEqual([true, true, true, 9007199254740990]);
        });
      });

      describe('Decimal128 ids', () => {
        it('sort by exact value among doubles and integers', async () => {
          const docs = await collect(odd.find('decimal_ids', {}, { sort: { id: 1, _id: 1 } }));
          // -0 = 0 < 0.1 (decimal) = 0.10 < 0.1 (double) < 2^53 (double) = 2^53 (decimal) < 2^53 + 1
          expect(docs.map((d) => d._id)).toEqual([7, 8, 1, 6, 2, 4, 5, 3]);
        });

        it.each<[string, Document, number[]]>([
          ['$gt a decimal', { id: { $gt: Decimal128.fromString('0.1') } }, [2, 3, 4, 5]],
          ['$lte a double', { id: { $lte: 0.1 } }, [1, 2, 6, 7, 8]],
          ['$gt a double', { id: { $gt: 9007199254740992 } }, [3]],
        ])('compare by exact value in queries: %s', async (_title, filter, ids) => {
          const docs = await collect(odd.find('decimal_ids', filter, { sort: { _id: 1 } }));
          expect(docs.map((d) => d._id)).toEqual(ids);
        });

        it('compare by exact value in expressions', async () => {
          const docs = await collect(
            odd.aggregate('decimal_ids', [
              { $sort: { _id: 1 } },
              { $project: { _id: 1, vsDouble: { $cmp: ['$id', 0.1] } } },
              { $limit: 3 },
            ]),
          );
          expect(docs).toEqual([
            { _id: 1, vsDouble: -1 },
            { _id: 2, vsDouble: 0 },
            { _id: 3, vsDouble: 1 },
          ]);
        });
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
