import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_RUN_STALE_AFTER_SECONDS, loadConfig } from '../../lib/config.js';
import { ConflictError } from '../../lib/errors.js';
import { reasonCounts } from '../../lib/matching/outcome.js';
import { newRunId, type RunLedgerOptions } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createPaymentsImportedWorker } from '../../lib/runs/workers/payments-imported-worker.js';
import { lambdaContext } from '../http/request-events.js';
import { readYaml } from '../http/yaml.js';
import { useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { demoInputs, jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * A worker that dies between `markRunning` and its final ledger write (out of memory, killed at
 * the Lambda timeout) leaves its run `running`. The ledger lets a later worker take such a run
 * over once it is older than the stale threshold, and never earlier.
 */

const STALE_AFTER_MS = 60_000;
const { store } = demoInputs({ accounts: 10, accruals: 40, payments: 35, seed: 11 });

describe('stale running runs (against the DynamoDB and S3 emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store });

  /** A ledger whose clock reads `offsetMs` from now: the past, or the future after a crash. */
  const ledgerAt = (offsetMs = 0, options: RunLedgerOptions = {}) =>
    local().ledger({
      staleAfterMs: STALE_AFTER_MS,
      now: () => new Date(Date.now() + offsetMs),
      ...options,
    });

  /** A run some worker claimed `ageMs` ago and never finished. */
  async function orphanedRun(ageMs: number, runId = newRunId()): Promise<string> {
    const past = ledgerAt(-ageMs);
    await past.create({ runId, policy: 'chronological', trigger: 'http' });
    await past.markRunning(runId);
    return runId;
  }

  describe('RunLedger.markRunning', () => {
    it('refuses to take over a running run that is younger than the threshold', async () => {
      const runId = await orphanedRun(STALE_AFTER_MS - 5_000);
      await expect(ledgerAt().markRunning(runId)).rejects.toBeInstanceOf(ConflictError);
      expect(await ledgerAt().get(runId)).toMatchObject({ status: 'running', attempts: 1 });
    });

    it('takes over a running run older than the threshold: one more attempt, a fresh startedAt', async () => {
      const runId = await orphanedRun(STALE_AFTER_MS + 5_000);
      const before = await ledgerAt().get(runId);
      const claimed = await ledgerAt().markRunning(runId);
      expect(claimed).toMatchObject({ status: 'running', attempts: 2 });
      expect(String(claimed.startedAt) > String(before?.startedAt)).toBe(true);
      // The new claim is fresh again: a third worker cannot take it.
      await expect(ledgerAt().markRunning(runId)).rejects.toBeInstanceOf(ConflictError);
    });

    it('takes over a sharded run only after the sharded threshold: its execution outlives one Lambda', async () => {
      const sharded = (ageMs: number) => ledgerAt(-ageMs, { shardedStaleAfterMs: STALE_AFTER_MS * 10 });
      const runId = newRunId();
      await sharded(STALE_AFTER_MS * 5).create({
        runId,
        policy: 'chronological',
        partitionBy: 'account',
        shards: 'auto',
        trigger: 'http',
      });
      await sharded(STALE_AFTER_MS * 5).markRunning(runId, 'execution-1');
      const now = sharded(0);
      const run = await now.get(runId);
      // Five plain thresholds old: a plain run would be stale, a sharded one is not.
      expect(run && now.isStale(run)).toBe(false);
      await expect(now.markRunning(runId, 'execution-2')).rejects.toBeInstanceOf(ConflictError);
      // Past its own threshold it is.
      const later = ledgerAt(STALE_AFTER_MS * 6, { shardedStaleAfterMs: STALE_AFTER_MS * 10 });
      expect(run && later.isStale(run)).toBe(true);
      expect(await later.markRunning(runId, 'execution-2')).toMatchObject({ status: 'running', attempts: 2 });
    });

    it('lets exactly one of several concurrent workers take over a stale run', async () => {
      const runId = await orphanedRun(STALE_AFTER_MS * 2);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => ledgerAt().markRunning(runId)),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ConflictError);
      }
      expect(await ledgerAt().get(runId)).toMatchObject({ status: 'running', attempts: 2 });
    });

    it('never reopens a succeeded run, however old', async () => {
      const runId = await orphanedRun(STALE_AFTER_MS * 10);
      const ledger = ledgerAt();
      const run = await ledger.markRunning(runId);
      await ledger.markSucceeded(runId, { ...zeroStats }, runOutputKeys(run.runId));
      await expect(ledgerAt(STALE_AFTER_MS * 10).markRunning(runId)).rejects.toBeInstanceOf(ConflictError);
    });

    it('says which runs are stale', async () => {
      const ledger = ledgerAt();
      const stale = await ledger.get(await orphanedRun(STALE_AFTER_MS + 1_000));
      const fresh = await ledger.get(await orphanedRun(1_000));
      expect(stale && ledger.isStale(stale)).toBe(true);
      expect(fresh && ledger.isStale(fresh)).toBe(false);
      const { run: queued } = await ledger.create({
        runId: newRunId(),
        policy: 'chronological',
        trigger: 'http',
      });
      expect(ledger.isStale(queued)).toBe(false);
    });
  });

  describe('taking a stale run up again', () => {
    it('a redelivered PaymentsImported event resumes its stale run and finishes it', async () => {
      const importId = `import-${newRunId()}`;
      const runId = await orphanedRun(STALE_AFTER_MS + 5_000, derivedRunId('event', importId));
      const worker = createPaymentsImportedWorker(jobs.workerDeps({ ledger: ledgerAt() }));
      const result = await worker(paymentsImported(importId), lambdaContext('stale-resume', 900_000));
      expect(result).toMatchObject({ status: 'succeeded', runId });
      expect(await ledgerAt().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('GET /matching-runs/{runId} says which runs are stale, keeping the status the ledger holds', async () => {
      const QUEUED_STALE_AFTER_MS = 30_000;
      const service = jobs.service({ ledger: ledgerAt(0, { queuedStaleAfterMs: QUEUED_STALE_AFTER_MS }) });
      const queuedAt = async (ageMs: number) => {
        const runId = newRunId();
        await ledgerAt(-ageMs).create({ runId, policy: 'chronological', trigger: 'http' });
        return runId;
      };
      const view = async (runId: string) => {
        const { status, stale } = await service.describe(runId);
        return { status, stale };
      };
      expect(await view(await orphanedRun(STALE_AFTER_MS + 5_000))).toEqual({
        status: 'running',
        stale: true,
      });
      expect(await view(await orphanedRun(STALE_AFTER_MS - 5_000))).toEqual({
        status: 'running',
        stale: false,
      });
      expect(await view(await queuedAt(QUEUED_STALE_AFTER_MS + 5_000))).toEqual({
        status: 'queued',
        stale: true,
      });
      expect(await view(await queuedAt(1_000))).toEqual({ status: 'queued', stale: false });
      const failed = await orphanedRun(STALE_AFTER_MS * 10);
      await ledgerAt().markFailed(failed, 'boom');
      expect(await view(failed)).toEqual({ status: 'failed', stale: false });
    });

    it('a repeated POST with the same Idempotency-Key dispatches the stale run again', async () => {
      const key = `stale-${newRunId()}`;
      const runId = derivedRunId('http', key);
      const past = ledgerAt(-(STALE_AFTER_MS + 5_000));
      await past.create({ runId, policy: 'chronological', trigger: 'http', idempotencyKey: key });
      await past.markRunning(runId);
      const dispatched: string[] = [];
      const service = jobs.service({
        ledger: ledgerAt(),
        dispatcher: { dispatch: async (id) => void dispatched.push(id) },
      });
      const answer = await service.start({ idempotencyKey: key });
      expect(answer).toMatchObject({ runId, created: false, status: 'queued' });
      expect(dispatched).toEqual([runId]);
      expect(await ledgerAt().get(runId)).toMatchObject({ status: 'queued', attempts: 1 });
    });
  });
});

describe('the stale threshold', () => {
  it('defaults to longer than the worker can run, so a live worker is never taken over', async () => {
    const service = (await readYaml('serverless.yml')) as {
      functions: { matchingWorker: { timeout: number }; paymentsImportedWorker: { timeout: number } };
    };
    expect(loadConfig({}).RUN_STALE_AFTER_SECONDS).toBe(DEFAULT_RUN_STALE_AFTER_SECONDS);
    expect(DEFAULT_RUN_STALE_AFTER_SECONDS).toBeGreaterThan(service.functions.matchingWorker.timeout);
    expect(DEFAULT_RUN_STALE_AFTER_SECONDS).toBeGreaterThan(service.functions.paymentsImportedWorker.timeout);
  });

  it('is configurable with RUN_STALE_AFTER_SECONDS', () => {
    expect(loadConfig({ RUN_STALE_AFTER_SECONDS: '1200' }).RUN_STALE_AFTER_SECONDS).toBe(1200);
    expect(() => loadConfig({ RUN_STALE_AFTER_SECONDS: '0' })).toThrow(/RUN_STALE_AFTER_SECONDS/);
  });
});

const zeroStats = {
  accruals: 0,
  payments: 0,
  matched: 0,
  sameMonth: 0,
  oldest: 0,
  unmatched: 0,
  unpaid: 0,
  rejected: 0,
  reasons: reasonCounts([], []),
  durationMs: 0,
};
