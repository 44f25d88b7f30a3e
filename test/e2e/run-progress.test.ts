import type { Document } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { matchPayments } from '../../lib/matching/index.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { type RunClaim, RunLedger, type RunProgress } from '../../lib/runs/ledger.js';
import { RUN_PHASES } from '../../lib/runs/run-record.js';
import { useEmulators } from '../support/emulators.js';
import { WatchedStore } from '../support/instrumented.js';
import { demoInputs, jobHarness } from '../support/job-harness.js';
import { type SentOperation, watchedLedger } from '../support/watched-ledger.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The progress of a running run (SPEC §9) as the matching job writes it, against the DynamoDB and
 * S3 emulators: inputs slowed down so the run lasts long enough to be watched, the ledger's
 * DynamoDB operations counted.
 */

const inputs = demoInputs({ accounts: 12, accruals: 150, payments: 140, seed: 7 });
const INTERVAL_MS = 100;

/** The progress a ledger write carried, for the progress writes among `sent`. */
function progressWrites(sent: readonly SentOperation[]): RunProgress[] {
  return sent
    .filter((op) => op.command === 'UpdateItemCommand')
    .filter((op) => String(op.input.UpdateExpression).startsWith('SET progress'))
    .map(
      (op) => (op.input.ExpressionAttributeValues as Record<string, RunProgress>)[':progress'] as RunProgress,
    );
}

/** The partitions a direct run of the matcher gives records to (a reference for `partitionsDone`). */
async function partitionsWithValidRecords(partitionBy: string): Promise<number> {
  const store = inputs.store();
  const sort = inputSort(partitionBy);
  const outcome = await matchPayments(
    store.find<Document>('accrual', {}, { sort }),
    store.find<Document>('payment', {}, { sort }),
    { partitionBy },
  );
  const values = new Set<unknown>();
  for (const match of outcome.matches()) values.add(match.payment[partitionBy]);
  for (const payment of outcome.unmatchedPayments()) values.add(payment[partitionBy]);
  for (const accrual of outcome.unpaidAccruals()) values.add(accrual[partitionBy]);
  return values.size;
}

describe('progress of a running matching job (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store: inputs.store });
  const opened: Array<{ destroy(): void }> = [];
  afterAll(() => {
    for (const client of opened) client.destroy();
  });

  /** Reads the run every few milliseconds until `until` settles; what `progress` looked like meanwhile. */
  async function watch(runId: string, until: Promise<unknown>): Promise<RunProgress[]> {
    const seen: RunProgress[] = [];
    let done = false;
    void until.finally(() => {
      done = true;
    });
    while (!done) {
      const run = await jobs.ledger().get(runId);
      if (run?.status === 'running' && run.progress) seen.push(run.progress);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    return seen;
  }

  it.each([
    ['partitioned by account', 'account'],
    ['without a partition field', undefined],
  ])(
    'refreshes the progress of a slow run (%s) at a bounded rate, phase changes included, then removes it',
    async (_case, partitionBy) => {
      const runId = await jobs.queuedRun(partitionBy === undefined ? {} : { partitionBy });
      const watching = watchedLedger(local());
      opened.push(watching);
      const slow = new WatchedStore(inputs.store());
      slow.delay = 3; // ms per document: 290 documents, about a second of reading

      const started = performance.now();
      const job = runMatchingJob(runId, {
        store: slow,
        ledger: watching.ledger,
        bucket: jobs.bucket(),
        progressIntervalMs: INTERVAL_MS,
      });
      const seen = await watch(runId, job);
      const outcome = await job;
      const elapsedMs = performance.now() - started;
      expect(outcome.status).toBe('succeeded');

      // Ledger writes: the claim, the progress updates, the success. The progress updates are
      // the two phase changes plus at most one per interval, and there were several of them.
      const written = progressWrites(watching.sent);
      const writes = watching.sent.filter((op) => op.command !== 'GetItemCommand');
      expect(writes).toHaveLength(written.length + 2);
      expect(written.length).toBeLessThanOrEqual(Math.floor(elapsedMs / INTERVAL_MS) + 2);
      expect(written.length).toBeGreaterThanOrEqual(4);

      // What was written only moves forward, and the phase changes carry the counts of their moment.
      for (let i = 1; i < written.length; i++) {
        const [before, after] = [written[i - 1] as RunProgress, written[i] as RunProgress];
        expect(RUN_PHASES.indexOf(after.phase)).toBeGreaterThanOrEqual(RUN_PHASES.indexOf(before.phase));
        expect(after.accrualsRead).toBeGreaterThanOrEqual(before.accrualsRead);
        expect(after.paymentsRead).toBeGreaterThanOrEqual(before.paymentsRead);
        expect(after.partitionsDone).toBeGreaterThanOrEqual(before.partitionsDone);
      }
      const partitions = partitionBy === undefined ? 0 : await partitionsWithValidRecords(partitionBy);
      const everything = {
        accrualsRead: inputs.data.accrual.length,
        paymentsRead: inputs.data.payment.length,
      };
      expect(written.filter((p) => p.phase !== 'reading')).toEqual([
        { phase: 'matching', ...everything, partitionsDone: expect.any(Number) },
        { phase: 'writing', ...everything, partitionsDone: partitions },
      ]);
      if (partitionBy !== undefined) expect(partitions).toBeGreaterThan(5);

      // A reader saw the run running with its counts growing.
      expect(seen.length).toBeGreaterThan(3);
      expect(seen.some((p) => p.phase === 'reading' && p.accrualsRead > 0)).toBe(true);
      expect(new Set(seen.map((p) => JSON.stringify(p))).size).toBeGreaterThan(2);

      const run = await jobs.ledger().get(runId);
      expect(run).toMatchObject({ status: 'succeeded' });
      expect(run?.progress).toBeUndefined();
    },
  );

  it('succeeds when every progress write fails: progress is never worth a run', async () => {
    class ProgressOutage extends RunLedger {
      calls = 0;
      override async recordProgress(_claim: RunClaim, _progress: RunProgress): Promise<boolean> {
        this.calls++;
        throw new ServiceUnavailableError('DynamoDB is unavailable (injected, progress only)');
      }
    }
    const runId = await jobs.queuedRun({ partitionBy: 'account' });
    const ledger = new ProgressOutage(dynamoDocumentClient(local().cfg), local().emulators.tables.runs);
    const slow = new WatchedStore(inputs.store());
    slow.delay = 1;
    const outcome = await runMatchingJob(runId, {
      store: slow,
      ledger,
      bucket: jobs.bucket(),
      progressIntervalMs: 20,
    });
    expect(outcome.status).toBe('succeeded');
    expect(ledger.calls).toBeGreaterThan(2);
    expect(await jobs.ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});
