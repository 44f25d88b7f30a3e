import type { Document } from 'mongodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { loadConfig } from '../../lib/config.js';
import { ConflictError, NotFoundError, ServiceUnavailableError } from '../../lib/errors.js';
import { matchPayments, toMatchResult, unpaidAccrualsCsvChunks } from '../../lib/matching/index.js';
import type { WorkerDispatcher } from '../../lib/runs/dispatcher.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { newRunId, RunLedger } from '../../lib/runs/ledger.js';
import { isPartitionedOnly, RUN_OUTPUTS, type RunOutputKeys, runOutputKeys } from '../../lib/runs/outputs.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createMatchingWorker } from '../../lib/runs/workers/matching-worker.js';
import { createPaymentsImportedWorker } from '../../lib/runs/workers/payments-imported-worker.js';
import { lambdaContext } from '../http/request-events.js';
import { closedEndpoint, useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { demoInputs, jobHarness, workerContext } from '../support/job-harness.js';
import { readWorkbook } from '../support/workbook-reader.js';

// Assertions are on ledger items and S3 objects; the job's log lines are not under test here.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The matching job, the worker's event handling and the MatchingRuns service, in process, against
 * the DynamoDB and S3 emulators and an in-memory embedded store.
 */

const { store } = demoInputs({ accounts: 30, accruals: 120, payments: 110, seed: 3 });

describe('matching job and worker (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store });
  const { ledger, bucket, queuedRun, objectText, objectBytes } = jobs;

  describe('runMatchingJob', () => {
    it('matches, writes result.json last, and marks the run succeeded with the output keys', async () => {
      const runId = await queuedRun({ policy: 'month-first', partitionBy: 'account' });
      const results = bucket();
      const outcome = await runMatchingJob(runId, {
        store: store(),
        ledger: ledger(),
        bucket: results,
        now: () => new Date('2024-06-01T00:00:00Z'),
      });

      expect(outcome.status).toBe('succeeded');
      expect(results.uploaded).toEqual([
        'matches.csv',
        'unmatched-payments.csv',
        'unpaid-accruals.csv',
        'result.xlsx',
        'partitions.jsonl',
        'partition-index.jsonl',
        'result.json',
      ]);
      const run = await ledger().get(runId);
      expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(run?.outputs).toEqual(runOutputKeys(runId, 'account'));

      const sort = inputSort('account');
      const direct = await matchPayments(
        store().find<Document>('accrual', {}, { sort }),
        store().find<Document>('payment', {}, { sort }),
        {
          policy: 'month-first',
          partitionBy: 'account',
        },
      );
      const written = JSON.parse((await objectText(runOutputKeys(runId).resultJson)) ?? 'null');
      const expected = JSON.parse(
        JSON.stringify(toMatchResult(direct, { runId, generatedAt: '2024-06-01T00:00:00.000Z' })),
      );
      expect({ ...written, stats: { ...written.stats, durationMs: 0 } }).toEqual({
        ...expected,
        stats: { ...expected.stats, durationMs: 0 },
      });

      expect(await objectText(runOutputKeys(runId).unpaidAccrualsCsv)).toBe(
        [...unpaidAccrualsCsvChunks(direct)].join(''),
      );
      const workbook = readWorkbook((await objectBytes(runOutputKeys(runId).resultXlsx)) ?? new Uint8Array());
      expect(workbook.map((sheet) => [sheet.name, sheet.rows.length - 1])).toEqual([
        ['Summary', expect.any(Number)],
        ['Matches', written.matches.length],
        ['Unmatched payments', written.unmatchedPayments.length],
        ['Unpaid accruals', written.unpaidAccruals.length],
        ['Rejected', written.rejected.length],
      ]);
    });

    it('skips a run another invocation already claimed or finished', async () => {
      const runId = await queuedRun();
      await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: bucket() });
      const again = await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: bucket() });
      expect(again.status).toBe('skipped');
      expect((await ledger().get(runId))?.attempts).toBe(1);
    });

    it('skips an unknown run', async () => {
      expect(
        (await runMatchingJob(newRunId(), { store: store(), ledger: ledger(), bucket: bucket() })).status,
      ).toBe('skipped');
    });

    it('fails the run with the cause and deletes partial outputs when an upload fails, and a retry succeeds', async () => {
      const runId = await queuedRun();
      const failing = bucket();
      failing.failOn = 'result.json';
      const outcome = await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: failing });

      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/S3 is unavailable \(injected\)/),
      });
      // A run without a partition field: every output but the partition lookup's, result.json last.
      const written = RUN_OUTPUTS.filter((output) => !isPartitionedOnly(output.name));
      expect(failing.uploaded).toEqual(written.slice(0, -1).map((output) => output.file));
      const keys = runOutputKeys(runId);
      for (const key of Object.values(keys)) {
        expect(await objectText(key), key).toBeUndefined();
      }
      expect(await ledger().get(runId)).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/injected/),
      });

      const retry = await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: bucket() });
      expect(retry.status).toBe('succeeded');
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(await objectText(keys.resultJson)).toContain(runId);
    });

    it('deletes the partition lookup outputs too when a partitioned run fails at result.json', async () => {
      const runId = await queuedRun({ partitionBy: 'account' });
      const failing = bucket();
      failing.failOn = 'result.json';
      const outcome = await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: failing });
      expect(outcome.status).toBe('failed');
      expect(failing.uploaded).toEqual([
        'matches.csv',
        'unmatched-payments.csv',
        'unpaid-accruals.csv',
        'result.xlsx',
        'partitions.jsonl',
        'partition-index.jsonl',
      ]);
      expect(await jobs.outputsOf(runId)).toEqual([]);
    });

    it('does not start reading when the deadline is already within the safety margin', async () => {
      const runId = await queuedRun();
      const results = bucket();
      const outcome = await runMatchingJob(runId, {
        store: store(),
        ledger: ledger(),
        bucket: results,
        deadline: () => 10_000,
      });
      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/^timed out: less than 15 s/),
      });
      expect(results.uploaded).toEqual([]);
      expect(await ledger().get(runId)).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/^timed out/),
      });
    });

    it('stops between uploads when time runs short, leaving no outputs behind', async () => {
      const runId = await queuedRun();
      const results = bucket();
      const outcome = await runMatchingJob(runId, {
        store: store(),
        ledger: ledger(),
        bucket: results,
        // Time runs short once the second upload starts.
        deadline: () => (results.attempted.includes('unmatched-payments.csv') ? 2_000 : 600_000),
        safetyMarginMs: 5_000,
      });
      expect(outcome).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/^timed out: less than 5 s .* while writing outputs$/),
      });
      expect(results.uploaded).not.toContain('result.json');
      expect(await objectText(runOutputKeys(runId).matchesCsv)).toBeUndefined();
    });
  });

  describe('matching workers (matchingWorker and paymentsImportedWorker)', () => {
    const deps = jobs.workerDeps;

    it('runs a matching-run invocation from POST /matching-runs', async () => {
      const runId = await queuedRun();
      const result = await createMatchingWorker(deps())({ kind: 'matching-run', runId }, workerContext());
      expect(result).toMatchObject({ status: 'succeeded', runId });
    });

    it('makes one run of an event delivered three times at once, and records the delivery for idempotency', async () => {
      const importId = `import-${newRunId()}`;
      const worker = createPaymentsImportedWorker(deps());
      // Separate deliveries are separate invocations, each with its own request id.
      const results = await Promise.all(
        [1, 2, 3].map((n) =>
          worker(
            paymentsImported(importId, { policy: 'month-first' }),
            lambdaContext(`delivery-${n}`, 900_000),
          ),
        ),
      );
      const runId = derivedRunId('event', importId);
      expect(results.map((r) => ('runId' in r ? r.runId : undefined))).toEqual([runId, runId, runId]);
      expect(results.filter((r) => r.status === 'succeeded')).toHaveLength(1);
      expect(await ledger().get(runId)).toMatchObject({
        status: 'succeeded',
        trigger: 'event',
        policy: 'month-first',
        attempts: 1,
      });

      const later = await worker(paymentsImported(importId, { policy: 'month-first' }), workerContext());
      expect(later).toMatchObject({ runId });
      expect((await ledger().get(runId))?.attempts).toBe(1);

      expect(
        (await jobs.idempotencyRecords()).some(
          (item) => item.status === 'COMPLETED' && item.expiration > Date.now() / 1000,
        ),
      ).toBe(true);
    });

    it("lets Lambda's retry of a crashed PaymentsImported invocation take its run back at once", async () => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      // The first invocation claims the run, then hangs on its first read: as far as DynamoDB can
      // tell, it crashed there (its idempotency record stays in progress, its claim stays running).
      const hanging = deps({ store: () => new Promise<never>(() => undefined) });
      void createPaymentsImportedWorker(hanging)(paymentsImported(importId), lambdaContext('req-A', 900_000));
      await vi.waitFor(async () => expect((await ledger().get(runId))?.status).toBe('running'), {
        timeout: 5_000,
      });
      // Lambda's retry of that invocation keeps its request id.
      const retry = await createPaymentsImportedWorker(deps())(
        paymentsImported(importId),
        lambdaContext('req-A', 900_000),
      );
      expect(retry).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('discards, without a retry, a PaymentsImported event reusing an importId with another policy', async () => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      await ledger().create({ runId, trigger: 'event', policy: 'month-first' });
      const result = await createPaymentsImportedWorker(deps())(
        paymentsImported(importId, { policy: 'chronological' }),
        workerContext(),
      );
      expect(result).toMatchObject({ status: 'discarded' });
      expect(await ledger().get(runId)).toMatchObject({
        status: 'queued',
        policy: 'month-first',
        attempts: 0,
      });
    });

    it('discards, without a retry, a redelivered importId asking for another partitionBy after the run', async () => {
      const importId = `import-${newRunId()}`;
      const worker = createPaymentsImportedWorker(deps());
      expect(await worker(paymentsImported(importId), workerContext())).toMatchObject({
        status: 'succeeded',
      });
      const changed = await worker(paymentsImported(importId, { partitionBy: 'account' }), workerContext());
      expect(changed).toMatchObject({ status: 'discarded' });
      expect(await ledger().get(derivedRunId('event', importId))).toMatchObject({
        status: 'succeeded',
        attempts: 1,
      });
      expect((await ledger().get(derivedRunId('event', importId)))?.partitionBy).toBeUndefined();
    });

    it('answers a redelivery that spells the default policy differently as a duplicate, not a mismatch', async () => {
      const importId = `import-${newRunId()}`;
      const worker = createPaymentsImportedWorker(deps());
      expect(
        await worker(paymentsImported(importId, { policy: 'chronological' }), workerContext()),
      ).toMatchObject({ status: 'succeeded' });
      expect(await worker(paymentsImported(importId), workerContext())).toMatchObject({
        status: 'duplicate',
        runId: derivedRunId('event', importId),
      });
      expect(await ledger().get(derivedRunId('event', importId))).toMatchObject({ attempts: 1 });
    });

    it('records a run that failed on an outage, then throws so Lambda retries it; the retry succeeds', async () => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      const failing = bucket();
      failing.failOn = 'matches.csv';
      await expect(
        createPaymentsImportedWorker(deps({ bucket: failing }))(paymentsImported(importId), workerContext()),
      ).rejects.toThrow(/failed transiently/);
      expect(await ledger().get(runId)).toMatchObject({ status: 'failed', attempts: 1 });

      const retried = await createPaymentsImportedWorker(deps())(paymentsImported(importId), workerContext());
      expect(retried).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('returns a failed run as final when retries are off (serverless offline)', async () => {
      const runId = await queuedRun();
      const failing = bucket();
      failing.failOn = 'matches.csv';
      const result = await createMatchingWorker(deps({ bucket: failing, lambdaRetries: false }))(
        { kind: 'matching-run', runId },
        workerContext(),
      );
      expect(result).toMatchObject({ status: 'failed', transient: true });
    });

    it.each<[string, unknown]>([
      ['an array', []],
      ['an unknown detail-type', { ...paymentsImported('x'), 'detail-type': 'Other' }],
      ['an unknown source', { ...paymentsImported('x'), source: 'someone.else' }],
      ['an over-long importId', paymentsImported('x'.repeat(129))],
      ['an object as policy', paymentsImported('x', { policy: { $ne: null } })],
      [
        'a matching-run invocation (that goes to matchingWorker)',
        { kind: 'matching-run', runId: newRunId() },
      ],
    ])('paymentsImportedWorker discards %s without throwing', async (_case, event) => {
      const result = await createPaymentsImportedWorker(deps())(event, workerContext());
      expect(result.status).toBe('discarded');
    });

    it.each<[string, unknown]>([
      ['an array', []],
      ['a malformed runId', { kind: 'matching-run', runId: '../etc' }],
      ['a PaymentsImported event (that goes to paymentsImportedWorker)', paymentsImported('x')],
    ])('matchingWorker discards %s without throwing', async (_case, event) => {
      const result = await createMatchingWorker(deps())(event, workerContext());
      expect(result.status).toBe('discarded');
    });

    it('rethrows a failure it cannot record (so Lambda retries), unless told not to', async () => {
      const unreachable = new RunLedger(
        dynamoDocumentClient(loadConfig({ DYNAMODB_ENDPOINT: await closedEndpoint() })),
        'runs',
      );
      const event = paymentsImported(`import-${newRunId()}`);
      const persistenceStore = local().idempotencyStore();
      await expect(
        createPaymentsImportedWorker(deps({ ledger: unreachable, persistenceStore }))(event, workerContext()),
      ).rejects.toThrow();
      const quiet = await createPaymentsImportedWorker(deps({ ledger: unreachable, lambdaRetries: false }))(
        paymentsImported(`import-${newRunId()}`),
        workerContext(),
      );
      expect(quiet.status).toBe('discarded');
    });
  });

  describe('MatchingRuns (POST /matching-runs service)', () => {
    let dispatched: string[];
    let failDispatch: boolean;
    const dispatcher: WorkerDispatcher = {
      dispatch: async (runId) => {
        if (failDispatch) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        dispatched.push(runId);
      },
    };
    const service = () => jobs.service({ dispatcher, presignTtlSeconds: 120 });

    beforeEach(() => {
      dispatched = [];
      failDispatch = false;
    });

    it('starts a new run per request without an idempotency key', async () => {
      const [a, b] = await Promise.all([service().start({}), service().start({})]);
      expect(a?.runId).not.toBe(b?.runId);
      expect(dispatched.sort()).toEqual([a?.runId, b?.runId].sort());
      expect(await ledger().get(a?.runId ?? '')).toMatchObject({
        status: 'queued',
        policy: 'chronological',
        trigger: 'http',
      });
    });

    it('gives concurrent requests with one key one run, dispatched once', async () => {
      const key = `key-${newRunId()}`;
      const answers = await Promise.all([1, 2, 3].map(() => service().start({ idempotencyKey: key })));
      expect(new Set(answers.map((a) => a.runId))).toEqual(new Set([derivedRunId('http', key)]));
      expect(answers.filter((a) => a.created)).toHaveLength(1);
      expect(dispatched).toEqual([derivedRunId('http', key)]);
    });

    it('refuses a key reused with a different policy', async () => {
      const key = `key-${newRunId()}`;
      await service().start({ idempotencyKey: key });
      await expect(service().start({ idempotencyKey: key, policy: 'month-first' })).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it('marks the run failed and answers 503 when the worker cannot be started; the same key retries it', async () => {
      const key = `key-${newRunId()}`;
      failDispatch = true;
      await expect(service().start({ idempotencyKey: key })).rejects.toBeInstanceOf(ServiceUnavailableError);
      expect(await ledger().get(derivedRunId('http', key))).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/^could not start the worker/),
      });
      failDispatch = false;
      const retried = await service().start({ idempotencyKey: key });
      expect(retried.runId).toBe(derivedRunId('http', key));
      expect(dispatched).toEqual([retried.runId]);
    });

    it('answers a re-dispatch with the status the ledger holds: the run is queued again', async () => {
      const key = `key-${newRunId()}`;
      failDispatch = true;
      await expect(service().start({ idempotencyKey: key })).rejects.toBeInstanceOf(ServiceUnavailableError);
      failDispatch = false;
      const retried = await service().start({ idempotencyKey: key });
      const run = await ledger().get(retried.runId);
      expect(retried.status).toBe('queued');
      expect(run).toMatchObject({ status: 'queued', attempts: 0 });
      expect(run?.error).toBeUndefined();
    });

    it('dispatches concurrent repeats of a run whose dispatch failed only once', async () => {
      const key = `key-${newRunId()}`;
      failDispatch = true;
      await expect(service().start({ idempotencyKey: key })).rejects.toBeInstanceOf(ServiceUnavailableError);
      failDispatch = false;
      const answers = await Promise.all([1, 2, 3].map(() => service().start({ idempotencyKey: key })));
      expect(dispatched).toEqual([derivedRunId('http', key)]);
      expect(answers.map((answer) => answer.status)).toEqual(['queued', 'queued', 'queued']);
    });

    it('runs a run again on a repeated POST once it failed after a worker attempt', async () => {
      const key = `key-${newRunId()}`;
      const { runId } = await service().start({ idempotencyKey: key });
      await ledger().markRunning(runId, 'worker-1');
      await ledger().markFailed(runId, 'S3 is unavailable');
      const retried = await service().start({ idempotencyKey: key });
      expect(retried).toMatchObject({ runId, status: 'queued', created: false });
      expect(dispatched).toEqual([runId, runId]);
      expect(await ledger().get(runId)).toMatchObject({ status: 'queued', attempts: 1 });
    });

    it('does not mark a run failed when a dispatch that reported an error had started its worker', async () => {
      const key = `key-${newRunId()}`;
      const claimingThenFailing: WorkerDispatcher = {
        dispatch: async (runId) => {
          await ledger().markRunning(runId, 'worker-started-anyway');
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        },
      };
      const runs = jobs.service({ dispatcher: claimingThenFailing, presignTtlSeconds: 120 });
      await expect(runs.start({ idempotencyKey: key })).rejects.toBeInstanceOf(ServiceUnavailableError);
      const run = await ledger().get(derivedRunId('http', key));
      expect(run).toMatchObject({ status: 'running', attempts: 1 });
      expect(run?.error).toBeUndefined();
    });

    describe('a run left queued (its dispatch was lost, or failed and could not be recorded)', () => {
      const QUEUED_STALE_MS = 60_000;
      const ledgerAt = (offsetMs: number) =>
        local().ledger({
          queuedStaleAfterMs: QUEUED_STALE_MS,
          now: () => new Date(Date.now() + offsetMs),
        });
      const serviceWith = (runs: RunLedger) =>
        jobs.service({ ledger: runs, dispatcher, presignTtlSeconds: 120 });

      async function leftQueued(ageMs: number): Promise<string> {
        const key = `key-${newRunId()}`;
        await ledgerAt(-ageMs).create({
          runId: derivedRunId('http', key),
          policy: 'chronological',
          trigger: 'http',
          idempotencyKey: key,
        });
        return key;
      }

      it('is dispatched again by a repeated POST once it is older than the threshold', async () => {
        const key = await leftQueued(QUEUED_STALE_MS + 1_000);
        const answer = await serviceWith(ledgerAt(0)).start({ idempotencyKey: key });
        expect(answer).toMatchObject({ runId: derivedRunId('http', key), status: 'queued', created: false });
        expect(dispatched).toEqual([answer.runId]);
        // Requeued just now: an immediate repeat does not dispatch it a second time.
        await serviceWith(ledgerAt(0)).start({ idempotencyKey: key });
        expect(dispatched).toEqual([answer.runId]);
      });

      it('is not dispatched again while younger than the threshold (its worker may be on its way)', async () => {
        const key = await leftQueued(QUEUED_STALE_MS - 5_000);
        const answer = await serviceWith(ledgerAt(0)).start({ idempotencyKey: key });
        expect(answer).toMatchObject({ status: 'queued', created: false });
        expect(dispatched).toEqual([]);
      });
    });

    it('describes a run with its output keys, and presigned URLs only once it succeeded', async () => {
      const runId = await queuedRun();
      const queued = await service().describe(runId);
      const keys = runOutputKeys(runId);
      expect(queued).toMatchObject({ runId, status: 'queued' });
      expect(queued.outputs).toEqual({
        resultJson: { key: keys.resultJson },
        matchesCsv: { key: keys.matchesCsv },
        unmatchedPaymentsCsv: { key: keys.unmatchedPaymentsCsv },
        unpaidAccrualsCsv: { key: keys.unpaidAccrualsCsv },
        resultXlsx: { key: keys.resultXlsx },
      });
      await runMatchingJob(runId, { store: store(), ledger: ledger(), bucket: bucket() });
      const done = await service().describe(runId);
      expect(done.outputs?.resultJson.key).toBe(runOutputKeys(runId).resultJson);
      expect(new URL(done.outputs?.resultJson.url ?? '').searchParams.get('X-Amz-Expires')).toBe('120');
      expect(JSON.stringify(done)).not.toContain('idempotencyKey');
      for (const output of ['unpaidAccrualsCsv', 'resultXlsx'] as const) {
        expect(done.outputs?.[output]?.key).toBe(keys[output]);
        const url = done.outputs?.[output]?.url ?? '';
        expect(new URL(url).pathname.endsWith(keys[output])).toBe(true);
      }
    });

    it('presigns only the outputs of a run recorded before unpaid-accruals.csv and result.xlsx existed', async () => {
      const runId = await queuedRun();
      const { stats } = await runMatchingJob(runId, {
        store: store(),
        ledger: ledger(),
        bucket: bucket(),
      }).then((outcome) => (outcome.status === 'succeeded' ? outcome : expect.unreachable()));
      // A second run, recorded as the ledger recorded runs then: with three output keys.
      const old = await queuedRun();
      await ledger().markRunning(old);
      const { resultJson, matchesCsv, unmatchedPaymentsCsv } = runOutputKeys(runId);
      const legacyKeys = { resultJson, matchesCsv, unmatchedPaymentsCsv } as unknown as RunOutputKeys;
      await ledger().markSucceeded(old, stats, legacyKeys);

      const described = await service().describe(old);
      expect(Object.keys(described.outputs ?? {}).sort()).toEqual([
        'matchesCsv',
        'resultJson',
        'unmatchedPaymentsCsv',
      ]);
      const urls = Object.values(described.outputs ?? {}).map((output) => output.url ?? '');
      const downloaded = await Promise.all(urls.map(async (url) => (await fetch(url)).status));
      expect(downloaded).toEqual([200, 200, 200]);
    });

    it('reports an unknown run as not found', async () => {
      await expect(service().describe(newRunId())).rejects.toBeInstanceOf(NotFoundError);
    });
  });
});
