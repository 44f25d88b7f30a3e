/**
 * Child process: partition lookups (SPEC §9) of one large partitioned run, started by bench/run.ts
 * as `node --expose-gc --import tsx bench/measure-lookup.ts --size N --partitions P --lookups L
 * --seed S --batch-size B` with the emulator endpoints (bench/emulator-host.ts, another process)
 * in its environment.
 *
 * First the real worker path writes the run: `runMatchingJob` (lib/runs/job.ts) with
 * `partitionBy: 'account'` reads N accruals and N payments over P accounts from cursors modelled
 * on the driver's (bench/cursor.ts), in `(account, date, id)` order, spills each partition's
 * outputs and its lookup data and index as it closes, and uploads them all to the S3 emulator.
 * Then L lookups of accounts drawn at random (after a few warm-up ones), each timed twice over:
 * the whole service call (`PartitionLookups.lookUp`: the run from the DynamoDB emulator, then the
 * ranged reads), and the index read alone (`readPartitionPage`), with the bytes and the number of
 * ranged GETs it took.
 */
import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { s3Client } from '../lib/aws/clients.js';
import { config } from '../lib/config.js';
import { runMatchingJob } from '../lib/runs/job.js';
import { newRunId, RunLedger } from '../lib/runs/ledger.js';
import { runOutputKeys } from '../lib/runs/outputs.js';
import { type IndexHeader, indexHeaderSchema } from '../lib/runs/partition-index.js';
import { type LookupCost, PartitionLookups, readPartitionPage } from '../lib/runs/partition-lookup.js';
import { ResultsBucket } from '../lib/runs/results-bucket.js';
import type { DocumentStore } from '../lib/store/document-store.js';
import { emitResult } from './child-process.js';
import { ModelCursor } from './cursor.js';
import { createRandom, generateMatchingInputs, type MatchingRecord } from './inputs.js';
import { median } from './targets.js';

/** Account numbers as the demo data writes them: 13 digits, so text order is number order. */
const ACCOUNT_BASE = 7_800_000_000_000;
const WARM_UP_LOOKUPS = 20;

export interface LookupTimes {
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface LookupMeasurement {
  readonly size: number;
  readonly partitions: number;
  readonly lookups: number;
  /** The job that wrote the run, end to end (read, match, spill, upload, ledger). */
  readonly jobMs: number;
  readonly outputBytes: Readonly<Record<string, number>>;
  /** From the index header. */
  readonly indexed: number;
  readonly levels: number;
  /** `PartitionLookups.lookUp`: GetItem, then the ranged reads. */
  readonly service: LookupTimes;
  /** `readPartitionPage` alone: the ranged reads. */
  readonly index: LookupTimes;
  readonly bytes: { readonly median: number; readonly max: number };
  readonly reads: { readonly min: number; readonly max: number };
  /** Records returned per lookup (all four lists), median: a check that lookups found something. */
  readonly medianRecords: number;
}

/** The inputs with an `account` each, in `(account, date, id)` order (a stable bucket sort by account). */
function withAccounts(
  records: readonly MatchingRecord[],
  partitions: number,
  random: () => number,
): Document[] {
  const accountOf = Int32Array.from(records, () => 1 + Math.floor(random() * partitions));
  const start = new Int32Array(partitions + 2);
  for (const account of accountOf) (start[account + 1] as number)++;
  for (let i = 1; i < start.length; i++) start[i] = (start[i] as number) + (start[i - 1] as number);
  const sorted = new Array<Document>(records.length);
  records.forEach((record, i) => {
    const account = accountOf[i] as number;
    const at = start[account] as number;
    start[account] = at + 1;
    sorted[at] = { ...record, account: String(ACCOUNT_BASE + account) };
  });
  return sorted;
}

function times(values: readonly number[]): LookupTimes {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    medianMs: median(sorted),
    p95Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] as number,
    maxMs: sorted[sorted.length - 1] as number,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      partitions: { type: 'string' },
      lookups: { type: 'string' },
      seed: { type: 'string' },
      'batch-size': { type: 'string' },
    },
  });
  const size = Number(values.size);
  const partitions = Number(values.partitions);
  const lookups = Number(values.lookups);
  const seed = Number(values.seed ?? 1);
  const batchSize = Number(values['batch-size'] ?? 1000);
  const random = createRandom(seed * 7 + 3);
  const generated = generateMatchingInputs(size, seed);
  const inputs = {
    accrual: withAccounts(generated.accruals, partitions, random),
    payment: withAccounts(generated.payments, partitions, random),
  };
  const store: DocumentStore = {
    find: <T extends Document>(collection: string) =>
      new ModelCursor(inputs[collection as keyof typeof inputs] as T[], batchSize),
    aggregate: () => {
      throw new Error('not used');
    },
    estimatedCount: async (collection: string) => inputs[collection as keyof typeof inputs]?.length ?? 0,
    close: async () => undefined,
  };

  const ledger = new RunLedger();
  const bucket = new ResultsBucket();
  const runId = newRunId();
  await ledger.create({ runId, policy: 'chronological', partitionBy: 'account', trigger: 'http' });
  const quiet = { info: () => undefined, warn: console.error, error: console.error };
  const started = performance.now();
  const outcome = await runMatchingJob(runId, { store, ledger, bucket, logger: quiet });
  const jobMs = performance.now() - started;
  if (outcome.status !== 'succeeded') throw new Error(`the run ${outcome.status}: ${outcome.reason}`);

  const keys = runOutputKeys(runId, 'account');
  const outputBytes: Record<string, number> = {};
  for (const [name, key] of Object.entries(keys)) {
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: config().RESULTS_BUCKET, Key: key }));
    outputBytes[name] = head.ContentLength ?? 0;
  }
  const index = String(keys.partitionIndex);
  const data = String(keys.partitionsJsonl);
  const head = (await bucket.readRange(index, 0, 64 * 1024)) ?? Buffer.alloc(0);
  const header: IndexHeader = indexHeaderSchema.parse(
    JSON.parse(head.subarray(0, head.indexOf(10)).toString()),
  );

  const lookUps = new PartitionLookups({ ledger, reader: bucket });
  const pick = createRandom(seed * 11 + 5);
  const serviceMs: number[] = [];
  const indexMs: number[] = [];
  const bytes: number[] = [];
  const reads: number[] = [];
  const records: number[] = [];
  for (let i = 0; i < WARM_UP_LOOKUPS + lookups; i++) {
    const value = String(ACCOUNT_BASE + 1 + Math.floor(pick() * partitions));
    const cost: LookupCost = { reads: 0, bytes: 0 };
    const t0 = performance.now();
    const view = await lookUps.lookUp(runId, { value, page: 1 }, cost);
    const t1 = performance.now();
    const page = await readPartitionPage(bucket, { index, data }, { value, page: 1 });
    const t2 = performance.now();
    if (view.partition !== value || page.partition !== value)
      throw new Error(`looked up ${value}, got ${view.partition}`);
    if (i < WARM_UP_LOOKUPS) continue;
    serviceMs.push(t1 - t0);
    indexMs.push(t2 - t1);
    bytes.push(cost.bytes);
    reads.push(cost.reads);
    records.push(
      view.matches.length + view.unmatchedPayments.length + view.unpaidAccruals.length + view.rejected.length,
    );
  }
  const measurement: LookupMeasurement = {
    size,
    partitions,
    lookups,
    jobMs,
    outputBytes,
    indexed: header.partitions,
    levels: header.levels,
    service: times(serviceMs),
    index: times(indexMs),
    bytes: { median: median(bytes), max: Math.max(...bytes) },
    reads: { min: Math.min(...reads), max: Math.max(...reads) },
    medianRecords: median(records),
  };
  emitResult(measurement);
  // The SDK's keep-alive sockets would hold the process open.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
