import { ObjectId } from 'bson';
import fc from 'fast-check';
import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import {
  compareIds,
  type MatchResult,
  matchPayments,
  matchPaymentsByPartition,
  newIdSlot,
  readIdInto,
  toMatchResult,
} from '../../lib/matching/index.js';
import {
  DATA_PAGE_BYTES,
  INDEX_HEAD_BYTES,
  INDEX_PAGE_BYTES,
  type IndexHeader,
  indexHeaderSchema,
  MAX_PARTITION_VALUE_LENGTH,
} from '../../lib/runs/partition-index.js';
import {
  type PartitionIndexOptions,
  PartitionIndexWriter,
  type TextSpill,
} from '../../lib/runs/partition-index-writer.js';
import {
  type LookupCost,
  type PartitionAddress,
  type PartitionPage,
  type RangeReader,
  readPartitionPage,
} from '../../lib/runs/partition-lookup.js';
import { generateDemoData } from '../../scripts/demo-data.js';

/**
 * The partition lookup's outputs (lib/runs/partition-index.ts): written by the worker's writer
 * from the parts `matchPaymentsByPartition` hands on, read back by the lookup. The reference is
 * the simplest possible: the whole run's result document, its elements grouped by the partition
 * value of their record. The objects are held as bytes here and read by byte range, as the
 * lookup reads S3 (the S3 adapter itself: test/aws/results-bucket.test.ts).
 */

class MemorySpill implements TextSpill {
  readonly chunks: string[] = [];
  append(chunks: Iterable<string>): void {
    for (const chunk of chunks) this.chunks.push(chunk);
  }
  async *read(): AsyncGenerator<string> {
    yield* this.chunks;
  }
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let all = '';
  for await (const chunk of chunks) all += chunk;
  return all;
}

interface Written {
  readonly index: Buffer;
  readonly data: Buffer;
  readonly header: IndexHeader;
  /** One page of a partition; `cost` counts what was read. */
  page(address: Partial<PartitionAddress> & { value: string }, cost?: LookupCost): Promise<PartitionPage>;
  /** Every page of a partition, the arrays concatenated. */
  all(address: Partial<PartitionAddress> & { value: string }): Promise<Lists & { pages: number }>;
}

interface Lists {
  matches: unknown[];
  unmatchedPayments: unknown[];
  unpaidAccruals: unknown[];
  rejected: unknown[];
}

/** Records sorted by partition value in BSON order (stable), as a `(partition, date, id)` index returns them. */
function byPartition(records: readonly Document[], field: string): Document[] {
  const rank = (value: unknown): number =>
    value === undefined || value === null ? 0 : readIdInto(value, newIdSlot()) ? 1 : 2;
  return [...records].sort((a, b) => {
    const [x, y] = [a[field], b[field]];
    const order = rank(x) - rank(y);
    return order !== 0 || rank(x) !== 1 ? order : compareIds(x, y);
  });
}

async function write(
  accruals: readonly Document[],
  payments: readonly Document[],
  field: string,
  options?: PartitionIndexOptions,
): Promise<Written> {
  const dataSpill = new MemorySpill();
  const indexSpill = new MemorySpill();
  const writer = new PartitionIndexWriter(field, dataSpill, indexSpill, options);
  await matchPaymentsByPartition(accruals, payments, { partitionBy: field }, writer.add);
  writer.close();
  const objects: Record<string, Buffer> = {
    index: Buffer.from(await text(writer.indexChunks())),
    data: Buffer.from(await text(writer.dataChunks())),
  };
  const reader: RangeReader = {
    readRange: async (key, start, length) => objects[key]?.subarray(start, start + length),
  };
  const index = objects.index as Buffer;
  const header = indexHeaderSchema.parse(JSON.parse(index.subarray(0, index.indexOf(10)).toString()));
  const page: Written['page'] = (address, cost) =>
    readPartitionPage(reader, { index: 'index', data: 'data' }, { page: 1, ...address }, cost);
  return {
    index,
    data: objects.data as Buffer,
    header,
    page,
    async all(address) {
      const lists: Lists = { matches: [], unmatchedPayments: [], unpaidAccruals: [], rejected: [] };
      const first = await page(address);
      for (let n = 1; n <= first.pages; n++) {
        const found = n === 1 ? first : await page({ ...address, page: n });
        expect(found.page).toBe(n);
        lists.matches.push(...found.matches);
        lists.unmatchedPayments.push(...found.unmatchedPayments);
        lists.unpaidAccruals.push(...found.unpaidAccruals);
        lists.rejected.push(...found.rejected);
      }
      return { ...lists, pages: first.pages };
    },
  };
}

/** The reference: the whole run's result document, grouped by the partition value of each element's record. */
function referenceGroups(result: MatchResult, field: string): Map<string, Lists & { value: unknown }> {
  const groups = new Map<string, Lists & { value: unknown }>();
  const group = (record: unknown): (Lists & { value: unknown }) | undefined => {
    const value = (record as Record<string, unknown> | null)?.[field];
    const slot = newIdSlot();
    if (typeof record !== 'object' || record === null || !readIdInto(value, slot)) return undefined;
    const name = `${slot.kind}:${slot.kind === 0 ? slot.num : slot.str}`;
    let found = groups.get(name);
    if (!found) {
      found = { value, matches: [], unmatchedPayments: [], unpaidAccruals: [], rejected: [] };
      groups.set(name, found);
    }
    return found;
  };
  const json = JSON.parse(JSON.stringify(result)) as MatchResult;
  for (const match of json.matches) group(match.payment)?.matches.push(match);
  for (const payment of json.unmatchedPayments) group(payment)?.unmatchedPayments.push(payment);
  for (const accrual of json.unpaidAccruals) group(accrual)?.unpaidAccruals.push(accrual);
  for (const rejected of json.rejected) group(rejected.record)?.rejected.push(rejected);
  return groups;
}

/** How a partition value is asked for: its text, and its kind. */
function addressOf(value: unknown): { value: string; type: 'number' | 'string' | 'objectId' } {
  if (typeof value === 'number') return { value: String(value), type: 'number' };
  if (typeof value === 'string') return { value, type: 'string' };
  return { value: (value as { $oid: string }).$oid, type: 'objectId' };
}

async function expectEveryPartitionAsReference(
  written: Written,
  accruals: readonly Document[],
  payments: readonly Document[],
  field: string,
): Promise<number> {
  const whole = await matchPayments(accruals, payments, { partitionBy: field });
  const reference = referenceGroups(toMatchResult(whole, { runId: 'r', generatedAt: 'now' }), field);
  for (const expected of reference.values()) {
    const { value, ...lists } = expected;
    const { pages: _pages, ...found } = await written.all(addressOf(value));
    expect(found, JSON.stringify(value)).toEqual(lists);
  }
  expect(written.header.partitions).toBe(reference.size);
  return reference.size;
}

function account(n: number): string {
  return String(7_800_000_000_000 + n);
}

function record(id: number, day: number, partition: unknown, field = 'account'): Document {
  return { id, date: new Date(Date.UTC(2024, 0, day)), month: '2024-01', [field]: partition };
}

describe('partition lookup outputs', () => {
  it('give every partition of a demo run exactly its elements of result.json, rejections included', async () => {
    const demo = generateDemoData({ accounts: 40, accruals: 300, payments: 280, seed: 4 });
    const accruals = byPartition(demo.accrual, 'account');
    const payments = byPartition(demo.payment, 'account');
    const written = await write(accruals, payments, 'account');
    const partitions = await expectEveryPartitionAsReference(written, accruals, payments, 'account');
    expect(partitions).toBe(40);
    // The demo's bad records: account 1 holds the rejections whose account is readable.
    const first = await written.page({ value: account(1) });
    expect(first.rejected.length).toBeGreaterThanOrEqual(4);
    expect(first).toMatchObject({ partition: account(1), type: 'string', page: 1, pages: 1 });
    expect(written.header).toMatchObject({
      partitionBy: 'account',
      kinds: { string: 40, number: 0, objectId: 0 },
    });
  });

  it('find the first, the last and every partition across the page boundaries of an index with three levels of pages', async () => {
    const n = 3000;
    const accruals = Array.from({ length: n }, (_, i) => record(i + 1, 1, account(i)));
    const payments = Array.from({ length: n }, (_, i) => record(i + 1, 2 + (i % 3), account(i)));
    const written = await write(accruals, payments, 'account', { indexPageBytes: 200 });
    expect(written.header.levels).toBeGreaterThanOrEqual(3);
    expect(written.index.byteLength).toBeGreaterThan(INDEX_HEAD_BYTES);
    await expectEveryPartitionAsReference(written, accruals, payments, 'account');
    const cost: LookupCost = { reads: 0, bytes: 0 };
    const last = await written.page({ value: account(n - 1) }, cost);
    expect(last.matches).toEqual([expect.objectContaining({ payment: expect.objectContaining({ id: n }) })]);
    // The head, the pages of the levels beyond it, the data line.
    expect(cost.reads).toBeGreaterThan(2);
    expect(cost.reads).toBeLessThanOrEqual(2 + written.header.levels);
    await expect(written.page({ value: account(0) })).resolves.toMatchObject({ partition: account(0) });
  });

  it('build levels until the root is one page, also when entries are longer than a page', async () => {
    const ids = Array.from(
      { length: 9 },
      (_, i) => new ObjectId(`65f0000000000000000000${String(i).padStart(2, '0')}`),
    );
    const written = await write(
      ids.map((id, i) => record(i + 1, 1, id)),
      ids.map((id, i) => record(i + 1, 2, id)),
      'account',
      { indexPageBytes: 40, dataPageBytes: 100 },
    );
    expect(written.header.root.length).toBeLessThanOrEqual(2);
    for (const id of ids) {
      await expect(written.page({ value: id.toHexString() })).resolves.toMatchObject({
        partition: { $oid: id.toHexString() },
      });
    }
  });

  it('answer 404 for a value below the first, between two indexed ones and above the last', async () => {
    const values = [10, 20, 30];
    const accruals = values.map((n, i) => record(i + 1, 1, n));
    const payments = values.map((n, i) => record(i + 1, 2, n));
    const written = await write(accruals, payments, 'account', { indexPageBytes: 64 });
    for (const value of ['9', '15', '20.5', '31', '-10']) {
      await expect(written.page({ value }), value).rejects.toThrow(NotFoundError);
    }
    await expect(written.page({ value: '20' })).resolves.toMatchObject({ partition: 20, type: 'number' });
    await expect(written.page({ value: '2e1' })).resolves.toMatchObject({ partition: 20 });
    await expect(written.page({ value: 'abc' })).rejects.toThrow(
      /^the run has no such partition \(account, whose values in this run are: number\)$/,
    );
  });

  describe('numbers, strings and ObjectIds', () => {
    const oid = new ObjectId('65f000000000000000000003');
    const values: unknown[] = [3, '3', oid, '65f000000000000000000003', 'Счёт/7 ?#%', -2.5];
    const accruals = byPartition(
      values.map((value, i) => record(i + 1, 1, value)),
      'account',
    );
    const payments = byPartition(
      values.map((value, i) => record(i + 1, 2, value)),
      'account',
    );
    const written = write(accruals, payments, 'account');

    it.each<[string, Partial<PartitionAddress> & { value: string }, unknown]>([
      ['the number with type=number', { value: '3', type: 'number' }, 3],
      ['the string with type=string', { value: '3', type: 'string' }, '3'],
      [
        'an ObjectId with type=objectId, in any case',
        { value: '65F000000000000000000003', type: 'objectId' },
        { $oid: oid.toHexString() },
      ],
      [
        'a 24-digit string with type=string',
        { value: '65f000000000000000000003', type: 'string' },
        '65f000000000000000000003',
      ],
      ['a string no other kind could be, without type', { value: 'Счёт/7 ?#%' }, 'Счёт/7 ?#%'],
      ['a negative fraction no string has, without type', { value: '-2.5', type: 'number' }, -2.5],
    ])('finds %s', async (_case, address, partition) => {
      const found = await (await written).page(address);
      expect(found.partition).toEqual(partition);
      expect(found.matches).toHaveLength(1);
    });

    it.each<[string, Partial<PartitionAddress> & { value: string }, RegExp]>([
      ['a text two kinds could be, without type', { value: '3' }, /^type: is required: .*number and string/],
      [
        'a text three kinds could be, without type',
        { value: '65f000000000000000000003' },
        /^type: is required: .*string and objectId/,
      ],
      [
        'a number that is not one',
        { value: '3abc', type: 'number' },
        /^value: must be a decimal number when type is number$/,
      ],
      [
        'an ObjectId that is not one',
        { value: 'xyz', type: 'objectId' },
        /^value: must be a 24-digit hexadecimal ObjectId/,
      ],
      ['a number with a leading zero', { value: '03', type: 'number' }, /^value: /],
    ])('refuses %s (400)', async (_case, address, message) => {
      await expect((await written).page(address)).rejects.toThrow(ValidationError);
      await expect((await written).page(address)).rejects.toThrow(message);
    });

    it('counts the partitions of each kind in the header', async () => {
      expect((await written).header.kinds).toEqual({ number: 2, string: 3, objectId: 1 });
    });
  });

  it('pages a partition too large for one read: every page a bounded read, the pages together the partition', async () => {
    const big = account(2);
    const accruals = [
      record(1, 1, account(1)),
      ...Array.from({ length: 4000 }, (_, i) => ({
        ...record(i + 2, 1 + (i % 20), big),
        note: 'начисление'.repeat(3),
      })),
      record(5000, 1, account(3)),
    ];
    const payments = [
      record(1, 2, account(1)),
      ...Array.from({ length: 3500 }, (_, i) => record(i + 2, 2 + (i % 25), big)),
      record(5000, 2, account(3)),
    ];
    const written = await write(accruals, payments, 'account');
    await expectEveryPartitionAsReference(written, accruals, payments, 'account');
    const first = await written.page({ value: big });
    expect(first.pages).toBeGreaterThanOrEqual(4);
    for (let n = 1; n <= first.pages; n++) {
      const cost: LookupCost = { reads: 0, bytes: 0 };
      const found = await written.page({ value: big, page: n }, cost);
      expect(cost.reads).toBe(2);
      expect(cost.bytes - Math.min(written.index.byteLength, INDEX_HEAD_BYTES)).toBeLessThanOrEqual(
        DATA_PAGE_BYTES,
      );
      expect(found.page).toBe(n);
    }
    await expect(written.page({ value: big, page: first.pages + 1 })).rejects.toThrow(
      new RegExp(`has ${first.pages} page\\(s\\), not ${first.pages + 1}$`),
    );
    await expect(written.page({ value: account(3) })).resolves.toMatchObject({ pages: 1 });
  });

  it('read the head, one page per level below the root and one data range, however many partitions', async () => {
    const n = 30_000;
    const accruals = Array.from({ length: n }, (_, i) => record(i + 1, 1, account(i)));
    const payments = Array.from({ length: n }, (_, i) => record(i + 1, 2, account(i)));
    const written = await write(accruals, payments, 'account');
    expect(written.index.byteLength).toBeGreaterThan(10 * INDEX_PAGE_BYTES);
    expect(written.header.levels).toBe(1);
    for (const i of [0, 1, 777, 12_345, n - 2, n - 1]) {
      const cost: LookupCost = { reads: 0, bytes: 0 };
      const found = await written.page({ value: account(i) }, cost);
      expect(found.matches).toHaveLength(1);
      // Head, one leaf page (unless it came with the head), the data line.
      expect(cost.reads).toBeLessThanOrEqual(3);
      expect(cost.bytes).toBeLessThan(INDEX_HEAD_BYTES + INDEX_PAGE_BYTES + 1024 + 4096);
    }
    await expect(written.page({ value: account(n) })).rejects.toThrow(NotFoundError);
  });

  it('refuse to answer for a run whose inputs were not in partition order (409)', async () => {
    const accruals = [record(1, 1, 'B'), record(2, 1, 'A')];
    const payments = [record(1, 2, 'B'), record(2, 2, 'A')];
    const written = await write(accruals, payments, 'account');
    expect(written.header.outOfOrderRejections).toBe(2);
    await expect(written.page({ value: 'B' })).rejects.toThrow(ConflictError);
    await expect(written.page({ value: 'B' })).rejects.toThrow(
      /not in partition order, so 2 rejected record/,
    );
  });

  it(`do not index string values longer than ${MAX_PARTITION_VALUE_LENGTH} characters`, async () => {
    const long = 'x'.repeat(MAX_PARTITION_VALUE_LENGTH + 1);
    const edge = 'y'.repeat(MAX_PARTITION_VALUE_LENGTH);
    const written = await write(
      [record(1, 1, long), record(2, 1, edge)],
      [record(1, 2, long), record(2, 2, edge)],
      'account',
    );
    expect(written.header.partitions).toBe(1);
    await expect(written.page({ value: edge })).resolves.toMatchObject({ partition: edge });
    await expect(written.page({ value: long })).rejects.toThrow(NotFoundError);
  });

  it('answer for a run with no partition at all with 404, and keep records without a partition value out', async () => {
    const written = await write(
      [{ id: 1, date: new Date(), month: 1 }],
      [{ id: 1, date: new Date(), month: 1, account: null }],
      'account',
    );
    expect(written.header).toMatchObject({ partitions: 0, outOfOrderRejections: 0 });
    await expect(written.page({ value: 'x' })).rejects.toThrow(NotFoundError);
    expect(written.data.byteLength).toBe(0);
  });

  it('agree with the whole run grouped by partition on random data, mixed kinds and tiny pages', async () => {
    const partitionValue = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom<unknown>(1, 2, -0.5, 1e21, '1', '2', 'a', 'A', 'é', '𝟘', '\uffff', ''),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom<unknown>(
          new ObjectId('65f000000000000000000001'),
          new ObjectId('0000000000000000000000ff'),
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, true, [1]) },
    );
    const side = fc.array(
      fc.record({
        day: fc.integer({ min: 1, max: 12 }),
        month: fc.constantFrom('2024-01', '2024-02', 3, 'bad'),
        partition: partitionValue,
        duplicate: fc.boolean(),
      }),
      { maxLength: 40 },
    );
    const records = (rows: Array<{ day: number; month: unknown; partition: unknown; duplicate: boolean }>) =>
      byPartition(
        rows.map((row, i) => {
          const doc: Document = {
            id: row.duplicate && i > 0 ? i : i + 1,
            date: new Date(Date.UTC(2024, 0, row.day)),
            month: row.month,
          };
          if (row.partition !== undefined) doc.account = row.partition;
          return doc;
        }),
        'account',
      );
    await fc.assert(
      fc.asyncProperty(
        side,
        side,
        fc.integer({ min: 100, max: 2000 }),
        fc.integer({ min: 40, max: 400 }),
        async (accrualRows, paymentRows, dataPageBytes, indexPageBytes) => {
          const accruals = records(accrualRows);
          const payments = records(paymentRows);
          const written = await write(accruals, payments, 'account', { dataPageBytes, indexPageBytes });
          expect(written.header.outOfOrderRejections).toBe(0);
          const count = await expectEveryPartitionAsReference(written, accruals, payments, 'account');
          if (count === 0) return;
          for (const value of ['0', '1.5', 'b', '0000000000000000000000fe']) {
            for (const type of ['number', 'string', 'objectId'] as const) {
              // No record has these values: not found, or not a value of that kind.
              await expect(written.page({ value, type })).rejects.toThrow(
                /^(value: |the run has no such partition)/,
              );
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
