/**
 * Child process: end-to-end matching runs, started by bench/run.ts as `node --expose-gc --import
 * tsx bench/measure-e2e.ts --data-dir DIR --size N --runs R` with the emulator endpoints
 * (bench/emulator-host.ts) in its environment. Each run records a new run in the ledger, then
 * times `runMatchingJob` (lib/runs/job.ts, chronological) over a fresh EmbeddedDocumentStore on DIR
 * (so every run reads and parses the files) into the S3 emulator.
 *
 * The job's three dependencies are wrapped to time them from outside, splitting the run without
 * changing the job: read = in a store cursor's `next()` (file load, parse, sort, streaming),
 * write = inside `ResultsBucket.upload` (serialising and the multipart upload), ledger = the
 * DynamoDB transitions; match is what remains.
 */
import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { s3Client } from '../lib/aws/clients.js';
import { config } from '../lib/config.js';
import { runMatchingJob } from '../lib/runs/job.js';
import { newRunId, RunLedger } from '../lib/runs/ledger.js';
import type { OutputBucket } from '../lib/runs/output-bucket.js';
import { type RunOutputKeys, runOutputKeys } from '../lib/runs/outputs.js';
import { ResultsBucket } from '../lib/runs/results-bucket.js';
import type { DocumentStore, FindOptions } from '../lib/store/document-store.js';
import { EmbeddedDocumentStore } from '../lib/store/embedded-store.js';
import { emitResult } from './child-process.js';
import { PeakRss, residentBytes, settleHeap } from './memory.js';

export interface E2eRun {
  readonly totalMs: number;
  readonly readMs: number;
  readonly matchMs: number;
  readonly writeMs: number;
  readonly ledgerMs: number;
  /** Write time of each output (rendering and upload), by file name. */
  readonly writeByOutput: Readonly<Record<string, number>>;
  /** CPU time of this process during the run (user + system); the emulators run in another. */
  readonly cpuMs: number;
  /** The matcher's own `stats.durationMs` (its stopwatch pauses while waiting for input). */
  readonly matcherReportedMs: number;
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
}

export interface E2eMeasurement {
  readonly size: number;
  readonly runs: readonly E2eRun[];
  /** The run with the median total time. */
  readonly median: E2eRun;
  readonly outputBytes: Readonly<Record<'result.json' | 'matches.csv' | 'unmatched-payments.csv', number>>;
  readonly matched: number;
}

/** Wall time during which at least one operation is in flight (overlapping ones counted once). */
class PhaseClock {
  private active = 0;
  private since = 0;
  ms = 0;

  async time<T>(operation: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await operation();
    } finally {
      if (--this.active === 0) this.ms += performance.now() - this.since;
    }
  }
}

/**
 * `source` with the time of its `next()` calls counted on `clock`. A call that answers at once
 * (the stores answer all but the first this way, lib/store/embedded-store.ts) is timed around the
 * call and passed on as it is: wrapping it in a promise would add a promise per document to the
 * run being measured.
 */
function timedCursor<T>(source: AsyncIterable<T>, clock: PhaseClock): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = source[Symbol.asyncIterator]();
      return {
        next: () => {
          const started = performance.now();
          const step = iterator.next();
          if (step instanceof Promise) return clock.time(() => step);
          clock.ms += performance.now() - started;
          return step;
        },
        return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
      } as AsyncIterator<T>;
    },
  };
}

/** The job's dependencies, each counting its time on its own clock. */
function timedDeps(dataDir: string) {
  const clocks = { read: new PhaseClock(), write: new PhaseClock(), ledger: new PhaseClock() };
  const files = new EmbeddedDocumentStore({ dataDir });
  const store: DocumentStore = {
    find: <T extends Document>(collection: string, filter: Readonly<Document>, options?: FindOptions) =>
      timedCursor(files.find<T>(collection, filter, options), clocks.read),
    aggregate: <T extends Document>(collection: string, pipeline: readonly Document[]) =>
      timedCursor(files.aggregate<T>(collection, pipeline), clocks.read),
    estimatedCount: (collection: string) => files.estimatedCount(collection),
    close: () => files.close(),
  };
  const s3 = new ResultsBucket();
  const writeByOutput: Record<string, number> = {};
  const bucket: OutputBucket = {
    upload: async (key, chunks, contentType) => {
      const started = performance.now();
      try {
        return await clocks.write.time(() => s3.upload(key, chunks, contentType));
      } finally {
        const file = key.slice(key.lastIndexOf('/') + 1);
        writeByOutput[file] = (writeByOutput[file] ?? 0) + performance.now() - started;
      }
    },
    remove: (keys) => clocks.write.time(() => s3.remove(keys)),
  };
  // The state transitions (markRunning, markSucceeded, markFailed) are what the job calls.
  const ledger = new Proxy(new RunLedger(), {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function' || !String(key).startsWith('mark')) return value;
      return (...args: unknown[]) => clocks.ledger.time(() => value.apply(target, args));
    },
  });
  return { clocks, writeByOutput, deps: { store, bucket, ledger } };
}

/** The job's log lines stay off stdout (the result channel); failures still reach stderr. */
const quietLogger = {
  info: () => undefined,
  warn: (...args: unknown[]) => console.error(...args),
  error: (...args: unknown[]) => console.error(...args),
};

async function objectBytes(keys: RunOutputKeys): Promise<E2eMeasurement['outputBytes']> {
  const size = async (key: string): Promise<number> =>
    (await s3Client().send(new HeadObjectCommand({ Bucket: config().RESULTS_BUCKET, Key: key })))
      .ContentLength ?? 0;
  return {
    'result.json': await size(keys.resultJson),
    'matches.csv': await size(keys.matchesCsv),
    'unmatched-payments.csv': await size(keys.unmatchedPaymentsCsv),
  };
}

interface RunResult {
  readonly run: E2eRun;
  readonly runId: string;
  readonly matched: number;
}

async function measureRun(dataDir: string, size: number, peak: PeakRss): Promise<RunResult> {
  const { clocks, writeByOutput, deps } = timedDeps(dataDir);
  const runId = newRunId();
  await new RunLedger().create({ runId, policy: 'chronological', trigger: 'http' });
  settleHeap();
  peak.reset();
  const baselineRssBytes = residentBytes();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const outcome = await runMatchingJob(runId, { ...deps, logger: quietLogger });
  const totalMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const peakRssBytes = peak.peakBytes();
  await deps.store.close();
  if (outcome.status !== 'succeeded') throw new Error(`matching run ${outcome.status}: ${outcome.reason}`);
  const { accruals, payments, matched, durationMs } = outcome.stats;
  if (accruals !== size || payments !== size)
    throw new Error(`the job read ${accruals} × ${payments}, not ${size}`);
  const [readMs, writeMs, ledgerMs] = [clocks.read.ms, clocks.write.ms, clocks.ledger.ms];
  const run: E2eRun = {
    totalMs,
    readMs,
    writeMs,
    ledgerMs,
    matchMs: totalMs - readMs - writeMs - ledgerMs,
    writeByOutput,
    cpuMs: (used.user + used.system) / 1000,
    matcherReportedMs: durationMs,
    baselineRssBytes,
    peakRssBytes,
  };
  return { run, runId, matched };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, size: { type: 'string' }, runs: { type: 'string' } },
  });
  const dataDir = values['data-dir'];
  if (dataDir === undefined) throw new Error('--data-dir is required');
  const size = Number(values.size);
  const peak = new PeakRss();
  const results: RunResult[] = [];
  for (let i = 0; i < Math.max(1, Number(values.runs)); i++)
    results.push(await measureRun(dataDir, size, peak));
  const byTime = [...results].sort((a, b) => a.run.totalMs - b.run.totalMs);
  const last = results[results.length - 1] as RunResult;
  const measurement: E2eMeasurement = {
    size,
    runs: results.map((r) => r.run),
    median: (byTime[byTime.length >> 1] as RunResult).run,
    outputBytes: await objectBytes(runOutputKeys(last.runId)),
    matched: last.matched,
  };
  emitResult(measurement);
  // The SDK's keep-alive sockets would hold the process open.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
