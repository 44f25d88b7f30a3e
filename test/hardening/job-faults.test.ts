import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EJSON } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  type MatchResult,
  matchesCsvChunks,
  matchPayments,
  toMatchResult,
  unmatchedPaymentsCsvChunks,
} from '../../lib/matching/index.js';
import type { WorkerDispatcher } from '../../lib/runs/dispatcher.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { newRunId } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createMatchingWorker } from '../../lib/runs/workers/matching-worker.js';
import { createPaymentsImportedWorker } from '../../lib/runs/workers/payments-imported-worker.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { lambdaContext } from '../http/request-events.js';
import { useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { type WatchedBucket, WatchedStore } from '../support/instrumented.js';
import { demoInputs, jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * Faults inside one matching run, in process against the real DynamoDB and S3 emulators (taken
 * down and brought back mid-run) and the embedded store: a worker close to its Lambda timeout, a
 * stuck read or upload, S3 going away in the middle of an upload, DynamoDB unreachable when the
 * worker starts, and an input file that is not a documents file.
 */

const { data, store: demoStore } = demoInputs({ accounts: 20, accruals: 80, payments: 70, seed: 21 });
const MARGIN_MS = 2_000;

/**
 * A Lambda clock that moves only when the test says so: plenty of time until `late()` holds, then
 * less than the margin. `lateSince` is when the job first read the late value; from then on it has
 * `MARGIN_MS` of real time before Lambda would kill it. Nothing depends on how fast this machine is.
 */
function steppedDeadline(late: () => boolean): { deadline: () => number; lateSince: () => number } {
  let since: number | undefined;
  return {
    deadline: () => {
      if (!late()) return 600_000;
      since ??= Date.now();
      return MARGIN_MS - 1;
    },
    lateSince: () => since ?? Number.NaN,
  };
}

async function elapsed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe('matching job faults (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store: demoStore });
  const { ledger, bucket, outputsOf, queuedRun, objectText } = jobs;

  describe('a worker close to its Lambda timeout', () => {
    it('stops a read that never answers, before the time limit, and records why', async () => {
      const runId = await queuedRun();
      const store = new WatchedStore(demoStore());
      store.delay = 'forever';
      const results = bucket();
      const clock = steppedDeadline(() => store.calls.length > 0);

      const outcome = await runMatchingJob(runId, {
        store,
        ledger: ledger(),
        bucket: results,
        deadline: clock.deadline,
        safetyMarginMs: MARGIN_MS,
      });
      const ended = Date.now();

      expect(outcome).toMatchObject({
        status: 'failed',
        transient: false,
        reason: 'timed out: less than 2 s of the Lambda time limit left while reading and matching inputs',
      });
      // Returned with time to spare: the run was recorded, not killed half-way.
      expect(ended - clock.lateSince()).toBeLessThan(MARGIN_MS);
      expect(results.attempted).toEqual([]);
      expect(await ledger().get(runId)).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/^timed out: .* while reading and matching inputs$/),
      });
      expect(await outputsOf(runId)).toEqual([]);
    });

    it('stops an upload that never finishes and deletes the outputs written before it', async () => {
      const runId = await queuedRun();
      const results = bucket();
      results.stallOn = 'unmatched-payments.csv';
      const clock = steppedDeadline(() => results.attempted.includes('unmatched-payments.csv'));
      const outcome = await runMatchingJob(runId, {
        store: demoStore(),
        ledger: ledger(),
        bucket: results,
        deadline: clock.deadline,
        safetyMarginMs: MARGIN_MS,
      });
      const ended = Date.now();
      expect(outcome).toMatchObject({
        status: 'failed',
        reason: 'timed out: less than 2 s of the Lambda time limit left while writing outputs',
      });
      // Noticed at the next deadline poll, then at most MARGIN_MS / 4 of grace for the stuck step.
      expect(ended - clock.lateSince()).toBeLessThan(MARGIN_MS);
      expect(results.attempted).toEqual(['matches.csv', 'unmatched-payments.csv']);
      expect(await outputsOf(runId)).toEqual([]);
      expect(await ledger().get(runId)).toMatchObject({ status: 'failed' });
    });

    it('ends the worker invocation cleanly (no throw, so no Lambda retry) with the run failed for that reason', async () => {
      const runId = await queuedRun();
      const store = new WatchedStore(demoStore());
      store.delay = 10; // 150 documents: well over the 300 ms left before the margin
      const worker = createMatchingWorker(
        jobs.workerDeps({ store: async () => store, safetyMarginMs: MARGIN_MS }),
      );
      const context = lambdaContext('near-timeout', MARGIN_MS + 300);
      const { value: result, ms } = await elapsed(worker({ kind: 'matching-run', runId }, context));
      expect(result).toMatchObject({ status: 'failed', runId, reason: expect.stringMatching(/^timed out/) });
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(1_000);
      expect(ms).toBeLessThan(MARGIN_MS);
      expect(await ledger().get(runId)).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/^timed out: less than 2 s of the Lambda time limit left/),
      });
      expect(await outputsOf(runId)).toEqual([]);
    });
  });

  describe('S3 failing in the middle of an upload', () => {
    it('fails the run with the cause, shows no result.json, and a retry of the same run writes complete outputs', async () => {
      const { emulators } = local();
      const runId = await queuedRun();
      const results = bucket();
      results.onBodyStart = { key: 'result.json', run: () => emulators.s3.down() };
      let outcome: Awaited<ReturnType<typeof runMatchingJob>>;
      try {
        outcome = await runMatchingJob(runId, { store: demoStore(), ledger: ledger(), bucket: results });
      } finally {
        await emulators.s3.up();
      }

      expect(outcome).toMatchObject({
        status: 'failed',
        transient: true,
        reason: expect.stringMatching(/S3 is unavailable \(E[A-Z]+\)/),
      });
      expect(await ledger().get(runId)).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: expect.stringMatching(/S3 is unavailable/),
      });
      const keys = runOutputKeys(runId);
      // The CSVs were written before the outage and could not be deleted during it; result.json,
      // written last, is what marks a complete set, and it is not there.
      expect(await outputsOf(runId)).not.toContain(keys.resultJson);
      const service = jobs.service();
      // The keys are shown (where the outputs go), but nothing links to the leftovers.
      const outputs = (await service.describe(runId)).outputs;
      expect(outputs.resultJson).toEqual({ key: keys.resultJson });
      expect(Object.values(outputs).every((output) => output.url === undefined)).toBe(true);

      const retry = await runMatchingJob(runId, {
        store: demoStore(),
        ledger: ledger(),
        bucket: bucket(),
        now: () => new Date('2024-07-01T00:00:00Z'),
      });
      expect(retry.status).toBe('succeeded');
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2, outputs: keys });
      expect(await outputsOf(runId)).toEqual(Object.values(keys).sort());

      const sort = inputSort(undefined);
      const direct = await matchPayments(
        demoStore().find<Document>('accrual', {}, { sort }),
        demoStore().find<Document>('payment', {}, { sort }),
      );
      const written = JSON.parse((await objectText(keys.resultJson)) ?? 'null') as MatchResult;
      const expected = JSON.parse(
        JSON.stringify(toMatchResult(direct, { runId, generatedAt: '2024-07-01T00:00:00.000Z' })),
      ) as MatchResult;
      expect({ ...written, stats: { ...written.stats, durationMs: 0 } }).toEqual({
        ...expected,
        stats: { ...expected.stats, durationMs: 0 },
      });
      expect(await objectText(keys.matchesCsv)).toBe([...matchesCsvChunks(direct)].join(''));
      expect(await objectText(keys.unmatchedPaymentsCsv)).toBe(
        [...unmatchedPaymentsCsvChunks(direct)].join(''),
      );
    });
  });

  describe('DynamoDB unavailable when the worker starts', () => {
    /** The worker function `kind` goes to: matchingWorker (http) or paymentsImportedWorker (event). */
    const workerWith = (
      kind: 'http' | 'event',
      store: WatchedStore,
      results: WatchedBucket,
    ): ReturnType<typeof createMatchingWorker> => {
      const deps = jobs.workerDeps({ bucket: results, store: async () => store });
      return kind === 'http' ? createMatchingWorker(deps) : createPaymentsImportedWorker(deps);
    };

    it.each([
      ['a matching-run invocation', 'http'],
      ['a PaymentsImported event', 'event'],
    ] as const)(
      'does not read, match or write anything for %s, and throws so Lambda retries',
      async (_, kind) => {
        const { emulators } = local();
        const importId = `import-${newRunId()}`;
        const runId = kind === 'http' ? await queuedRun() : derivedRunId('event', importId);
        const event = kind === 'http' ? { kind: 'matching-run', runId } : paymentsImported(importId);
        const store = new WatchedStore(demoStore());
        const results = bucket();
        await emulators.dynamodb.down();
        try {
          await expect(
            workerWith(kind, store, results)(event, lambdaContext('ddb-down', 900_000)),
          ).rejects.toThrow();
        } finally {
          await emulators.dynamodb.up();
        }
        expect(store.calls).toEqual([]);
        expect(results.attempted).toEqual([]);
        expect(await outputsOf(runId)).toEqual([]);
        const run = await ledger().get(runId);
        if (kind === 'http') expect(run).toMatchObject({ status: 'queued', attempts: 0 });
        else expect(run).toBeUndefined();
      },
    );

    it('answers POST /matching-runs with 503 and dispatches nothing', async () => {
      const { emulators } = local();
      const dispatched: string[] = [];
      const dispatcher: WorkerDispatcher = { dispatch: async (runId) => void dispatched.push(runId) };
      const service = jobs.service({ dispatcher });
      await emulators.dynamodb.down();
      try {
        await expect(service.start({})).rejects.toMatchObject({ status: 503, retryAfterSeconds: 5 });
      } finally {
        await emulators.dynamodb.up();
      }
      expect(dispatched).toEqual([]);
    });
  });

  describe('an input file that is not a documents file', () => {
    const dirs: string[] = [];
    afterAll(async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });

    it('fails the run with a reason naming the file and line, instead of guessing or skipping', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'corrupt-store-'));
      dirs.push(dir);
      const lines = data.payment.slice(0, 3).map((payment) => EJSON.stringify(payment, { relaxed: false }));
      await writeFile(
        path.join(dir, 'payment.ndjson'),
        `${[...lines, '["not", "a", "document"]'].join('\n')}\n`,
      );
      await writeFile(path.join(dir, 'accrual.json'), EJSON.stringify(data.accrual.slice(0, 3)));
      const runId = await queuedRun();
      const outcome = await runMatchingJob(runId, {
        store: new EmbeddedDocumentStore({ dataDir: dir }),
        ledger: ledger(),
        bucket: bucket(),
      });
      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/payment\.ndjson line 4: not a JSON object$/),
      });
      expect(await ledger().get(runId)).toMatchObject({ status: 'failed' });
      expect(await outputsOf(runId)).toEqual([]);
    });
  });
});
