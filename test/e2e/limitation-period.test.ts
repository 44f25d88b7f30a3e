import type { Document } from 'mongodb';
import { describe, expect, it, vi } from 'vitest';
import { ConflictError } from '../../lib/errors.js';
import { type MatchOptions, matchPayments, toMatchResult } from '../../lib/matching/index.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { newRunId } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createPaymentsImportedWorker } from '../../lib/runs/workers/payments-imported-worker.js';
import type { DocumentStore } from '../../lib/store/document-store.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { demoInputs, jobHarness, workerContext } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The limitation period (SPEC §7) from the request to result.json: the job, the PaymentsImported
 * worker and the POST /matching-runs service, against the DynamoDB and S3 emulators.
 */

const inputs = demoInputs({ accounts: 20, accruals: 200, payments: 180, seed: 4 });

/** The result document a direct run of the matcher on `store` gives, as JSON, with `durationMs` zeroed. */
async function expectedResult(
  store: DocumentStore,
  runId: string,
  generatedAt: string,
  options: MatchOptions,
) {
  const sort = inputSort(options.partitionBy);
  const outcome = await matchPayments(
    store.find<Document>('accrual', {}, { sort }),
    store.find<Document>('payment', {}, { sort }),
    options,
  );
  const result = JSON.parse(JSON.stringify(toMatchResult(outcome, { runId, generatedAt })));
  return { ...result, stats: { ...result.stats, durationMs: 0 } };
}

describe('the limitation period of a run (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store: inputs.store });
  const { ledger, queuedRun, objectText } = jobs;

  async function resultOf(runId: string) {
    const written = JSON.parse((await objectText(runOutputKeys(runId).resultJson)) ?? 'null');
    return { ...written, stats: { ...written.stats, durationMs: 0 } };
  }

  /**
   * Debts of one account, one of them older than three years at the payments: without a period
   * the month-less payment pays the oldest debt; with P3Y that one is time-barred and the payment
   * takes the next.
   */
  const account = (records: Array<[number, string, string]>) =>
    records.map(([id, date, month]) => ({ id, date: new Date(date), month, account: '7800000000001' }));
  const barred = {
    accrual: account([
      [1, '2020-01-10T00:00:00Z', '2019-12'],
      [2, '2023-01-10T00:00:00Z', '2022-12'],
    ]),
    payment: account([
      [1, '2024-06-01T00:00:00Z', '2024-05'],
      [2, '2024-07-01T00:00:00Z', '2024-06'],
    ]),
  };
  const barredStore = () =>
    new EmbeddedDocumentStore({
      collections: { accrual: [...barred.accrual], payment: [...barred.payment] },
    });

  it.each([
    ['whole (in memory)', undefined],
    ['partitioned (spilled to files)', 'account'],
  ])('applies it to a %s run and writes it into result.json', async (_case, partitionBy) => {
    const runId = await queuedRun({ limitationPeriod: 'P3Y', ...(partitionBy ? { partitionBy } : {}) });
    const generatedAt = '2024-06-01T00:00:00.000Z';
    const outcome = await runMatchingJob(runId, {
      store: barredStore(),
      ledger: ledger(),
      bucket: jobs.bucket(),
      now: () => new Date(generatedAt),
    });
    expect(outcome.status).toBe('succeeded');

    const written = await resultOf(runId);
    expect(written.limitationPeriod).toBe('P3Y');
    expect(written).toEqual(
      await expectedResult(barredStore(), runId, generatedAt, {
        limitationPeriod: 'P3Y',
        ...(partitionBy ? { partitionBy } : {}),
      }),
    );
    // Without the period, payment 1 pays the 2020 debt; with it, that debt is time-barred.
    expect(
      written.matches.map((m: { payment: { id: number }; accrual: { id: number } }) => [
        m.payment.id,
        m.accrual.id,
      ]),
    ).toEqual([[1, 2]]);
    expect(written.unmatchedPayments).toMatchObject([{ id: 2, reason: 'earlier-accruals-paid' }]);
    expect(written.unpaidAccruals).toMatchObject([{ id: 1, reason: 'time-barred' }]);
    const unlimited = await expectedResult(
      barredStore(),
      runId,
      generatedAt,
      partitionBy ? { partitionBy } : {},
    );
    expect(unlimited.limitationPeriod).toBeUndefined();
    expect(unlimited.stats.matched).toBe(2);
  });

  it('applies it to demo data partitioned by account exactly as the matcher does', async () => {
    const runId = await queuedRun({ limitationPeriod: 'P1M', partitionBy: 'account' });
    const generatedAt = '2024-06-01T00:00:00.000Z';
    await runMatchingJob(runId, {
      store: inputs.store(),
      ledger: ledger(),
      bucket: jobs.bucket(),
      now: () => new Date(generatedAt),
    });
    const written = await resultOf(runId);
    expect(written).toEqual(
      await expectedResult(inputs.store(), runId, generatedAt, {
        limitationPeriod: 'P1M',
        partitionBy: 'account',
      }),
    );
    expect(written.stats.reasons.unpaidAccruals['time-barred']).toBeGreaterThan(0);
  });

  it('writes no limitationPeriod into result.json for a run without one', async () => {
    const runId = await queuedRun({ partitionBy: 'account' });
    await runMatchingJob(runId, { store: inputs.store(), ledger: ledger(), bucket: jobs.bucket() });
    expect(Object.keys(await resultOf(runId))).not.toContain('limitationPeriod');
  });

  describe('POST /matching-runs (the service)', () => {
    const service = () => jobs.service();

    it('records the period canonically, and takes another spelling of it under the same key as the same run', async () => {
      const key = `key-${newRunId()}`;
      const first = await service().start({ idempotencyKey: key, limitationPeriod: 'P36M' });
      expect(await ledger().get(first.runId)).toMatchObject({ limitationPeriod: 'P3Y', trigger: 'http' });
      const again = await service().start({ idempotencyKey: key, limitationPeriod: 'P3Y' });
      expect(again).toMatchObject({ runId: first.runId, created: false });
    });

    it.each([
      ['another period', { limitationPeriod: 'P2Y' }],
      ['no period', {}],
    ])('refuses the key reused with %s (409, naming the field)', async (_case, request) => {
      const key = `key-${newRunId()}`;
      await service().start({ idempotencyKey: key, limitationPeriod: 'P3Y' });
      const error = await service()
        .start({ idempotencyKey: key, ...request })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as Error).message).toMatch(/different limitationPeriod$/);
    });

    it('names every field that differs', async () => {
      const key = `key-${newRunId()}`;
      await service().start({ idempotencyKey: key });
      await expect(
        service().start({ idempotencyKey: key, policy: 'month-first', limitationPeriod: 'P1Y' }),
      ).rejects.toThrow(/different policy and limitationPeriod$/);
    });
  });

  describe('PaymentsImported (the worker)', () => {
    const worker = () => createPaymentsImportedWorker(jobs.workerDeps());

    it('records the period canonically with the import id, and writes it into result.json', async () => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      const answer = await worker()(
        paymentsImported(importId, { limitationPeriod: 'P24M' }),
        workerContext(),
      );
      expect(answer).toMatchObject({ status: 'succeeded', runId });
      expect(await ledger().get(runId)).toMatchObject({
        status: 'succeeded',
        trigger: 'event',
        importId,
        limitationPeriod: 'P2Y',
      });
      expect((await resultOf(runId)).limitationPeriod).toBe('P2Y');
    });

    it('answers a redelivery that spells the period differently as a duplicate', async () => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      await worker()(paymentsImported(importId, { limitationPeriod: 'P3Y' }), workerContext());
      const again = await worker()(paymentsImported(importId, { limitationPeriod: 'P36M' }), workerContext());
      expect(again).toMatchObject({ status: 'duplicate', runId });
      expect(await ledger().get(runId)).toMatchObject({ attempts: 1, limitationPeriod: 'P3Y' });
    });

    it.each([
      ['another period', { limitationPeriod: 'P1Y' }],
      ['no period', {}],
    ])('discards a redelivery asking for %s, naming both requests', async (_case, detail) => {
      const importId = `import-${newRunId()}`;
      const runId = derivedRunId('event', importId);
      await worker()(paymentsImported(importId, { limitationPeriod: 'P3Y' }), workerContext());
      const again = await worker()(paymentsImported(importId, detail), workerContext());
      expect(again).toMatchObject({
        status: 'discarded',
        reason: expect.stringMatching(
          new RegExp(
            `^importId ${importId} was already used with policy chronological, partitionBy \\(none\\), limitationPeriod P3Y; ` +
              `this event asks for policy chronological, partitionBy \\(none\\), limitationPeriod ${
                'limitationPeriod' in detail ? 'P1Y' : '\\(none\\)'
              }$`,
          ),
        ),
      });
      expect(await ledger().get(runId)).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        limitationPeriod: 'P3Y',
      });
    });

    it.each([
      ['zero', 'P0Y', /must be longer than zero/],
      ['negative', '-P1Y', /must be an ISO 8601 duration/],
      ['in days', 'P30D', /must be an ISO 8601 duration/],
      ['absurdly long', 'P1000Y', /must be at most 100 years/],
      ['not a string', 3, /must be a string/],
    ])(
      'discards an event whose period is %s, with the reason, and records no run',
      async (_case, period, reason) => {
        const importId = `import-${newRunId()}`;
        const answer = await worker()(
          paymentsImported(importId, { limitationPeriod: period }),
          workerContext(),
        );
        expect(answer).toMatchObject({ status: 'discarded' });
        expect('reason' in answer ? answer.reason : '').toMatch(/detail\.limitationPeriod: /);
        expect('reason' in answer ? answer.reason : '').toMatch(reason);
        expect(await ledger().get(derivedRunId('event', importId))).toBeUndefined();
      },
    );
  });
});
