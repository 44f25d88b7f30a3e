import { describe, expect, it, vi } from 'vitest';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { runMatchingJob } from '../../lib/runs/job.js';
import { newRunId, RunLedger } from '../../lib/runs/ledger.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createMatchingWorker, type WorkerDeps } from '../../lib/runs/workers/matching-worker.js';
import {
  createPaymentsImportedWorker,
  type PaymentsImportedWorkerDeps,
} from '../../lib/runs/workers/payments-imported-worker.js';
import { useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { WatchedStore } from '../support/instrumented.js';
import { completeOutputs, demoInputs, jobHarness, workerContext } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * A worker invocation that claimed a run and then died (out of memory, killed, DynamoDB gone
 * before it could record the failure) leaves the run `running`. Lambda retries that invocation
 * with the same request id, which owns the claim and takes it back at once. Another delivery of
 * the same import, while the run is someone else's and not stale, must neither do the work twice
 * nor be remembered as a finished duplicate (Powertools would then swallow every later delivery
 * for 24 h): it throws, and is retried later. Real DynamoDB and S3 emulators.
 */

const inputs = demoInputs({ accounts: 10, accruals: 40, payments: 35, seed: 23 });
const store = () => new WatchedStore(inputs.store());

/** A ledger that cannot record failures (DynamoDB went away between the claim and the failure). */
class NoFailureLedger extends RunLedger {
  override async markFailed(): Promise<never> {
    throw new ServiceUnavailableError('DynamoDB is unavailable (ECONNREFUSED)');
  }
}

const STALE_AFTER_MS = 600_000;

describe('worker retries after a crash (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store, ledger: { staleAfterMs: STALE_AFTER_MS } });
  const { ledger, bucket, outputsOf } = jobs;
  /** `matchingWorker`: the asynchronous invocation from POST /matching-runs. */
  const worker = (overrides: Partial<WorkerDeps> = {}) => createMatchingWorker(jobs.workerDeps(overrides));
  /** `paymentsImportedWorker`: the EventBridge target. */
  const eventWorker = (overrides: Partial<PaymentsImportedWorkerDeps> = {}) =>
    createPaymentsImportedWorker(jobs.workerDeps(overrides));
  const context = workerContext;

  /** A run the invocation `requestId` claimed and then died in. */
  async function crashedRun(requestId: string, runId = newRunId(), trigger: 'http' | 'event' = 'http') {
    await ledger().create({ runId, policy: 'chronological', trigger });
    await ledger().markRunning(runId, requestId);
    return runId;
  }

  async function completedIdempotencyRecords(): Promise<number> {
    return (await jobs.idempotencyRecords()).filter((item) => item.status === 'COMPLETED').length;
  }

  describe('a matching-run invocation (POST /matching-runs)', () => {
    it('is taken back by the Lambda retry of the invocation that crashed, which finishes the run', async () => {
      const runId = await crashedRun('request-1');
      const result = await worker()({ kind: 'matching-run', runId }, context('request-1'));
      expect(result).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(await outputsOf(runId)).toEqual(completeOutputs(runId));
    });

    it('is left to its owner by any other invocation while it is fresh', async () => {
      const runId = await crashedRun('request-1');
      const before = await ledger().get(runId);
      const watched = store();
      const result = await worker({ store: async () => watched })(
        { kind: 'matching-run', runId },
        context('request-2'),
      );
      expect(result).toMatchObject({ status: 'skipped', runId });
      expect(watched.calls).toEqual([]);
      expect(await ledger().get(runId)).toEqual(before);
    });

    it('throws when the failure cannot be recorded, and the retry of that invocation finishes the run', async () => {
      const runId = newRunId();
      await ledger().create({ runId, policy: 'chronological', trigger: 'http' });
      const cannotRecord = new NoFailureLedger(
        dynamoDocumentClient(local().cfg),
        local().emulators.tables.runs,
      );
      const failing = bucket();
      failing.failOn = 'matches.csv';

      await expect(
        worker({ ledger: cannotRecord, bucket: failing })(
          { kind: 'matching-run', runId },
          context('request-1'),
        ),
      ).rejects.toThrow(/DynamoDB is unavailable/);
      expect(await ledger().get(runId)).toMatchObject({ status: 'running', owner: 'request-1', attempts: 1 });

      const retried = await worker()({ kind: 'matching-run', runId }, context('request-1'));
      expect(retried).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });
  });

  describe('a PaymentsImported event', () => {
    it('is taken back by the Lambda retry of the invocation that crashed, which finishes the run', async () => {
      const importId = `import-${newRunId()}`;
      const runId = await crashedRun('request-1', derivedRunId('event', importId), 'event');
      const result = await eventWorker()(paymentsImported(importId), context('request-1'));
      expect(result).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('throws while another invocation holds the run, without being remembered, and is a duplicate once the run succeeded', async () => {
      const importId = `import-${newRunId()}`;
      const runId = await crashedRun('request-1', derivedRunId('event', importId), 'event');
      const watched = store();
      const redelivered = eventWorker({ store: async () => watched });
      const completedBefore = await completedIdempotencyRecords();

      for (const requestId of ['request-2', 'request-3']) {
        await expect(redelivered(paymentsImported(importId), context(requestId))).rejects.toMatchObject({
          name: 'RunInProgressError',
        });
      }
      expect(watched.calls).toEqual([]);
      expect(await completedIdempotencyRecords()).toBe(completedBefore);
      expect(await ledger().get(runId)).toMatchObject({ status: 'running', owner: 'request-1', attempts: 1 });

      // The owner finishes; a later delivery is then a duplicate, and does not throw.
      expect(
        await runMatchingJob(runId, {
          store: store(),
          ledger: ledger(),
          bucket: bucket(),
          owner: 'request-1',
        }),
      ).toMatchObject({ status: 'succeeded', runId });
      const later = await redelivered(paymentsImported(importId, {}, 'e-again'), context('request-4'));
      expect(later).toMatchObject({ status: 'duplicate', runId });
      expect(watched.calls).toEqual([]);
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('under serverless offline returns a duplicate instead of throwing, still without being remembered', async () => {
      const importId = `import-${newRunId()}`;
      const runId = await crashedRun('request-1', derivedRunId('event', importId), 'event');
      const offline = eventWorker({ lambdaRetries: false });

      expect(await offline(paymentsImported(importId), context('request-2'))).toMatchObject({
        status: 'duplicate',
        runId,
      });
      // The holder gives up; the next delivery must run it, not replay the answer above.
      await ledger().markFailed(runId, 'S3 is unavailable (ECONNREFUSED)');
      expect(await offline(paymentsImported(importId), context('request-3'))).toMatchObject({
        status: 'succeeded',
        runId,
      });
    });
  });
});
