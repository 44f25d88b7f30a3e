import type { S3Client } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { describe, expect, it, vi } from 'vitest';
import {
  type MatchOutcome,
  type MatchStats,
  matchesCsvChunks,
  matchPayments,
  matchPaymentsByPartition,
  type Policy,
  resultJsonChunks,
  toMatchResult,
  unmatchedPaymentsCsvChunks,
  unpaidAccrualsCsvChunks,
} from '../../lib/matching/index.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { type MatchingRun, newRunId, type RunLedger } from '../../lib/runs/ledger.js';
import type { OutputChunks } from '../../lib/runs/output-bucket.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { SpilledOutputs } from '../../lib/runs/spill.js';
import type { DocumentStore } from '../../lib/store/document-store.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { generateDemoData } from '../../scripts/demo-data.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * Partition-at-a-time runs (`matchPaymentsByPartition`, the job's spilled outputs): the same
 * outputs as a whole run, byte for byte, while holding one partition's records at a time.
 */

async function collect<T>(input: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of input) out.push(item);
  return out;
}

async function* streamOf<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

/**
 * Demo data in `(account, date, id)` order, plus records a real run rejects: without the partition
 * field (first, as the index returns them), out of order (a partition already processed), invalid
 * date, duplicate id — on both sides, and some trailing after the last partition.
 */
async function demoInputs(): Promise<{ accruals: Document[]; payments: Document[] }> {
  const data = generateDemoData({ accounts: 30, accruals: 120, payments: 110, seed: 3 });
  const store = new EmbeddedDocumentStore({
    collections: { accrual: [...data.accrual], payment: [...data.payment] },
  });
  const sort = inputSort('account');
  const accruals = await collect(store.find<Document>('accrual', {}, { sort }));
  const payments = await collect(store.find<Document>('payment', {}, { sort }));
  const first = accruals[0] as Document;
  const mid = Math.floor(accruals.length / 2);
  const midAccrual = accruals[mid] as Document;
  const midPayment = payments[Math.floor(payments.length / 2)] as Document;
  const withoutAccount = (record: Document, id: unknown): Document => {
    const { account: _drop, ...rest } = record;
    return { ...rest, id };
  };
  return {
    accruals: [
      withoutAccount(first, 9001),
      withoutAccount(first, 9002),
      ...accruals.slice(0, mid),
      { ...first, id: 9003 }, // out of order: the first account is done
      { ...midAccrual, id: 9004, date: 'not a date' },
      { ...midAccrual }, // duplicate id in its partition
      ...accruals.slice(mid),
      { ...first, id: 9005 }, // out of order, after the last partition
    ],
    payments: [
      withoutAccount(payments[0] as Document, 'PAY-X1'),
      ...payments.slice(0, Math.floor(payments.length / 2)),
      { ...(payments[0] as Document), id: 'PAY-X2' }, // out of order
      { ...midPayment }, // duplicate id
      { ...midPayment, id: 'PAY-X3', month: 'March' }, // invalid month
      ...payments.slice(Math.floor(payments.length / 2)),
    ],
  };
}

function withoutDuration(stats: MatchStats): MatchStats {
  return { ...stats, durationMs: 0 };
}

async function wholeRun(
  inputs: { accruals: Document[]; payments: Document[] },
  policy: Policy,
): Promise<MatchOutcome> {
  return matchPayments(streamOf(inputs.accruals), streamOf(inputs.payments), {
    policy,
    partitionBy: 'account',
  });
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  return (await collect(chunks)).join('');
}

describe.each(['chronological', 'month-first'] as const)('partition at a time (%s)', (policy) => {
  it('hands on, partition by partition, exactly the outputs of a whole run', async () => {
    const inputs = await demoInputs();
    const whole = await wholeRun(inputs, policy);
    const parts: ReturnType<typeof toMatchResult>[] = [];
    const run = await matchPaymentsByPartition(
      streamOf(inputs.accruals),
      streamOf(inputs.payments),
      { policy, partitionBy: 'account' },
      (part) => {
        parts.push(JSON.parse(JSON.stringify(toMatchResult(part, { runId: 'r', generatedAt: 'g' }))));
      },
    );
    const expected = JSON.parse(JSON.stringify(toMatchResult(whole, { runId: 'r', generatedAt: 'g' })));
    const rejected = parts.flatMap((p) => p.rejected);
    expect(parts.flatMap((p) => p.matches)).toEqual(expected.matches);
    expect(parts.flatMap((p) => p.unmatchedPayments)).toEqual(expected.unmatchedPayments);
    expect(parts.flatMap((p) => p.unpaidAccruals)).toEqual(expected.unpaidAccruals);
    expect([
      ...rejected.filter((r) => r.source === 'accrual'),
      ...rejected.filter((r) => r.source === 'payment'),
    ]).toEqual(expected.rejected);
    expect(withoutDuration(run.stats)).toEqual(withoutDuration(whole.stats));
    // The fixture really exercises every kind of rejection.
    const reasons = expected.rejected.map((r: { reason: string }) => r.reason).join('\n');
    for (const kind of ['out of order', 'duplicate id', 'account', 'date', 'month']) {
      expect(reasons).toContain(kind);
    }
    expect(whole.stats.rejected).toBeGreaterThanOrEqual(9);
    expect(whole.stats.matched).toBeGreaterThan(0);
    expect(whole.stats.unmatched + whole.stats.unpaid).toBeGreaterThan(0);
  });

  it('spilled outputs are byte for byte the whole run’s CSV and JSON', async () => {
    const inputs = await demoInputs();
    const whole = await wholeRun(inputs, policy);
    const spilled = await SpilledOutputs.create(policy, 'account');
    try {
      await matchPaymentsByPartition(
        streamOf(inputs.accruals),
        streamOf(inputs.payments),
        { policy, partitionBy: 'account' },
        spilled.add,
      );
      spilled.close(whole.stats);
      const meta = { runId: 'run-1', generatedAt: '2024-06-01T00:00:00.000Z' };
      expect(await text(spilled.matchesCsv())).toBe([...matchesCsvChunks(whole)].join(''));
      expect(await text(spilled.unmatchedPaymentsCsv())).toBe(
        [...unmatchedPaymentsCsvChunks(whole)].join(''),
      );
      expect(await text(spilled.resultJson(meta))).toBe([...resultJsonChunks(whole, meta)].join(''));
    } finally {
      await spilled.dispose();
    }
  });
});

describe('partition at a time: memory', () => {
  /** `partitions` accounts; account k has `accrualsOf(k)` accruals and `paymentsOf(k)` payments. */
  function* records(
    side: 'accrual' | 'payment',
    partitions: number,
    countOf: (k: number) => number,
  ): Generator<Document> {
    let id = 0;
    for (let k = 0; k < partitions; k++) {
      for (let i = 0; i < countOf(k); i++) {
        const day = 1 + (i % 28);
        yield {
          id: side === 'accrual' ? ++id : `P${++id}`,
          account: k,
          date: new Date(Date.UTC(2024, 0, day)),
          month: `2024-${String(1 + (i % 12)).padStart(2, '0')}`,
        };
      }
    }
  }

  it('holds one partition’s records at a time: 200 partitions of 50 records', async () => {
    let parts = 0;
    let largestPart = 0;
    const run = await matchPaymentsByPartition(
      records('accrual', 200, () => 25),
      records('payment', 200, () => 25),
      { partitionBy: 'account' },
      (part) => {
        parts++;
        largestPart = Math.max(largestPart, part.stats.accruals + part.stats.payments);
      },
    );
    expect(run.stats.accruals + run.stats.payments).toBe(10_000);
    expect(parts).toBe(200);
    expect(largestPart).toBe(50);
    expect(run.peakRecordsHeld).toBe(50);
  });

  it('the bound is the largest partition, whatever the sizes', async () => {
    const accrualsOf = (k: number) => 5 * ((k % 7) + 1);
    const paymentsOf = (k: number) => 5 * ((k % 5) + 1);
    let largest = 0;
    for (let k = 0; k < 200; k++) largest = Math.max(largest, accrualsOf(k) + paymentsOf(k));
    const run = await matchPaymentsByPartition(
      streamOf([...records('accrual', 200, accrualsOf)]),
      streamOf([...records('payment', 200, paymentsOf)]),
      { policy: 'month-first', partitionBy: 'account' },
      () => undefined,
    );
    expect(run.peakRecordsHeld).toBe(largest);
    expect(run.stats.accruals).toBeGreaterThan(10 * largest);
  });

  it('hands on a long run of records without the partition field in batches', async () => {
    const unusable = (side: string) =>
      Array.from({ length: 2500 }, (_, i) => ({ id: `${side}${i}`, date: new Date(0), month: 1 }));
    const accruals = [...unusable('A'), ...records('accrual', 10, () => 10)];
    const payments = [...unusable('P'), ...records('payment', 10, () => 10)];
    const rejected: unknown[] = [];
    const run = await matchPaymentsByPartition(
      streamOf(accruals),
      streamOf(payments),
      { partitionBy: 'account' },
      (part) => rejected.push(...part.rejected()),
    );
    const whole = await matchPayments(streamOf(accruals), streamOf(payments), { partitionBy: 'account' });
    expect(run.peakRecordsHeld).toBeLessThanOrEqual(1024);
    expect(withoutDuration(run.stats)).toEqual(withoutDuration(whole.stats));
    expect(rejected).toEqual([...whole.rejected()]);
  });
});

/** A store that streams the given arrays as they are (no sorting: out-of-order input stays). */
class ArrayStore implements DocumentStore {
  constructor(private readonly collections: Record<string, Document[]>) {}
  aggregate(): AsyncIterable<never> {
    throw new Error('not used');
  }
  find<T extends Document>(collection: string): AsyncIterable<T> {
    return streamOf((this.collections[collection] ?? []) as T[]);
  }
  async estimatedCount(collection: string): Promise<number> {
    return (this.collections[collection] ?? []).length;
  }
  async close(): Promise<void> {}
}

/** Keeps the bytes of every upload (text as UTF-8). */
class MemoryBucket extends ResultsBucket {
  readonly bytes = new Map<string, Buffer>();
  readonly objects = { get: (file: string) => this.bytes.get(file)?.toString('utf8') };
  constructor() {
    super({} as S3Client, 'test-bucket');
  }
  override async upload(key: string, chunks: OutputChunks): Promise<void> {
    const parts: Buffer[] = [];
    for await (const chunk of chunks)
      parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    this.bytes.set(key.slice(key.lastIndexOf('/') + 1), Buffer.concat(parts));
  }
  override async remove(): Promise<void> {}
}

function memoryLedger(runId: string, policy: Policy, partitionBy: string): RunLedger {
  const run = { runId, policy, partitionBy, status: 'running', attempts: 1 } as unknown as MatchingRun;
  return {
    markRunning: async () => run,
    markSucceeded: async () => run,
    markFailed: async () => run,
    get: async () => run,
  } as unknown as RunLedger;
}

describe('matching job with a partition field', () => {
  it('uploads, from spilled files, the same bytes as the in-memory outputs', async () => {
    const inputs = await demoInputs();
    const policy = 'month-first';
    const bucket = new MemoryBucket();
    const runId = newRunId();
    const spill = vi.spyOn(SpilledOutputs, 'create');
    const dispose = vi.spyOn(SpilledOutputs.prototype, 'dispose');
    const outcome = await runMatchingJob(runId, {
      store: new ArrayStore({ accrual: inputs.accruals, payment: inputs.payments }),
      ledger: memoryLedger(runId, policy, 'account'),
      bucket,
      now: () => new Date('2024-06-01T00:00:00Z'),
    });
    expect(outcome.status).toBe('succeeded');
    expect(spill).toHaveBeenCalledOnce();
    expect(dispose).toHaveBeenCalledOnce();
    spill.mockRestore();
    dispose.mockRestore();
    const whole = await wholeRun(inputs, policy);
    expect(bucket.objects.get('matches.csv')).toBe([...matchesCsvChunks(whole)].join(''));
    expect(bucket.objects.get('unmatched-payments.csv')).toBe(
      [...unmatchedPaymentsCsvChunks(whole)].join(''),
    );
    expect(bucket.objects.get('unpaid-accruals.csv')).toBe([...unpaidAccrualsCsvChunks(whole)].join(''));
    expect(bucket.bytes.get('result.xlsx')?.subarray(0, 2).toString('latin1')).toBe('PK');
    const meta = { runId, generatedAt: '2024-06-01T00:00:00.000Z' };
    const written = bucket.objects.get('result.json') ?? '';
    const expected = [...resultJsonChunks(whole, meta)].join('');
    // Identical up to the stats (durationMs is a measurement), and the same stats otherwise.
    expect(written.slice(0, written.indexOf('"stats":'))).toBe(
      expected.slice(0, expected.indexOf('"stats":')),
    );
    const parsed = JSON.parse(written);
    expect(parsed).toEqual({
      ...JSON.parse(expected),
      stats: { ...withoutDuration(whole.stats), durationMs: parsed.stats.durationMs },
    });
    expect(Object.keys(parsed)).toEqual(Object.keys(toMatchResult(whole, meta)));
  });
});
