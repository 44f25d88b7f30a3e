/**
 * Child process: end-to-end matching runs. Started by bench/run.ts as `node --expose-gc --import
 * tsx bench/measure-e2e.ts --data-dir DIR --size N --runs R --policy P`, with the emulator
 * endpoints (bench/emulator-host.ts) in its environment. Each run records a new run in the
 * ledger, then times `runMatchingJob` from lib/runs/job.ts over a fresh EmbeddedDocumentStore
 * on DIR (so every run reads and parses the files) into the S3 emulator.
 */

import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../lib/aws/clients.js';
import { config } from '../lib/config.js';
import { POLICIES, type Policy } from '../lib/matching/types.js';
import { runMatchingJob } from '../lib/runs/job.js';
import { newRunId } from '../lib/runs/ledger.js';
import { type RunOutputKeys, runOutputKeys } from '../lib/runs/outputs.js';
import { EmbeddedDocumentStore } from '../lib/store/embedded-store.js';
import { emitResult } from './child-process.js';
import type { E2eMeasurement, E2eRun } from './e2e-types.js';
import { PeakRss, residentBytes, settleHeap } from './memory.js';
import { medianBy } from './stats.js';
import { newPhaseClocks, TimedBucket, TimedLedger, TimedStore } from './timed-deps.js';

/** The job's log lines stay off stdout (the result channel); failures still reach stderr. */
const quietLogger = {
  info: () => undefined,
  warn: (...args: unknown[]) => console.error(...args),
  error: (...args: unknown[]) => console.error(...args),
};

async function objectBytes(keys: RunOutputKeys): Promise<E2eMeasurement['outputBytes']> {
  const client = s3Client();
  const bucket = config().RESULTS_BUCKET;
  const size = async (key: string): Promise<number> =>
    (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
  return {
    resultJson: await size(keys.resultJson),
    matchesCsv: await size(keys.matchesCsv),
    unmatchedPaymentsCsv: await size(keys.unmatchedPaymentsCsv),
  };
}

function parsePolicy(value: string | undefined): Policy {
  const policy = POLICIES.find((p) => p === value);
  if (policy === undefined) throw new Error(`--policy must be one of ${POLICIES.join(', ')}`);
  return policy;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      size: { type: 'string' },
      runs: { type: 'string', default: '3' },
      policy: { type: 'string', default: 'chronological' },
    },
  });
  const dataDir = values['data-dir'];
  if (dataDir === undefined) throw new Error('--data-dir is required');
  const size = Number(values.size);
  const runs = Math.max(1, Number(values.runs));
  const policy = parsePolicy(values.policy);

  const peak = new PeakRss();
  const results: RunResult[] = [];
  for (let run = 0; run < runs; run++) results.push(await measureRun(dataDir, size, policy, peak));
  const last = results[results.length - 1] as RunResult;
  const measurement: E2eMeasurement = {
    size,
    policy,
    runs: results.map((r) => r.run),
    median: medianBy(results, (r) => r.run.totalMs).run,
    peakMethod: peak.method,
    outputBytes: await objectBytes(last.keys),
    stats: last.stats,
  };
  emitResult(measurement);
  // The SDK's keep-alive sockets would hold the process open.
  process.exit(0);
}

interface RunResult {
  readonly run: E2eRun;
  readonly keys: RunOutputKeys;
  readonly stats: E2eMeasurement['stats'];
}

async function measureRun(dataDir: string, size: number, policy: Policy, peak: PeakRss): Promise<RunResult> {
  const clocks = newPhaseClocks();
  const ledger = new TimedLedger(clocks.ledger);
  const bucket = new TimedBucket(clocks.write);
  const store = new TimedStore(new EmbeddedDocumentStore({ dataDir }), clocks.read);
  const runId = newRunId();
  await ledger.create({ runId, policy, trigger: 'http' });

  settleHeap();
  peak.reset();
  const baselineRssBytes = residentBytes();
  const start = performance.now();
  const outcome = await runMatchingJob(runId, { store, ledger, bucket, logger: quietLogger });
  const totalMs = performance.now() - start;
  const peakRssBytes = peak.peakBytes();
  if (outcome.status !== 'succeeded') throw new Error(`matching run ${outcome.status}: ${outcome.reason}`);
  if (outcome.stats.accruals !== size || outcome.stats.payments !== size) {
    throw new Error(
      `the job read ${outcome.stats.accruals} accruals and ${outcome.stats.payments} payments, not ${size}`,
    );
  }
  await store.close();
  return {
    keys: runOutputKeys(runId),
    stats: {
      accruals: outcome.stats.accruals,
      payments: outcome.stats.payments,
      matched: outcome.stats.matched,
    },
    run: {
      totalMs,
      readMs: clocks.read.ms,
      writeMs: clocks.write.ms,
      ledgerMs: clocks.ledger.ms,
      matchMs: totalMs - clocks.read.ms - clocks.write.ms - clocks.ledger.ms,
      matcherReportedMs: outcome.stats.durationMs,
      baselineRssBytes,
      peakRssBytes,
    },
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
