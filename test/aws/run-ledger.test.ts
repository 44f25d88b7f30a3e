import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lib/aws/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { reasonCounts } from '../../lib/matching/outcome.js';
import type { MatchStats } from '../../lib/matching/types.js';
import { MAX_FAILURE_REASON_LENGTH } from '../../lib/runs/failure-reason.js';
import { type NewMatchingRun, newRunId, RunConflictError, RunLedger } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { useEmulators } from '../support/emulators.js';

const stats: MatchStats = {
  accruals: 7,
  payments: 5,
  matched: 5,
  sameMonth: 1,
  oldest: 4,
  unmatched: 0,
  unpaid: 2,
  rejected: 0,
  reasons: reasonCounts([], [0, 0, 2]),
  durationMs: 3,
};

describe('RunLedger (against the DynamoDB emulator)', () => {
  const local = useEmulators();
  const ledger = () => local().ledger();

  async function queuedRun(overrides: Partial<NewMatchingRun> = {}) {
    const { run } = await ledger().create({
      runId: newRunId(),
      policy: 'chronological',
      trigger: 'http',
      ...overrides,
    });
    return run;
  }

  async function failedRun() {
    const run = await queuedRun();
    await ledger().markRunning(run.runId);
    return ledger().markFailed(run.runId, 'S3 is unavailable');
  }

  async function succeededRun() {
    const run = await queuedRun();
    await ledger().markRunning(run.runId);
    return ledger().markSucceeded(run.runId, stats, runOutputKeys(run.runId));
  }

  describe('create', () => {
    it('records a new run as queued with no attempts yet', async () => {
      const runId = newRunId();
      const before = Date.now();
      const { run, created } = await ledger().create({ runId, policy: 'month-first', trigger: 'event' });

      expect(created).toBe(true);
      expect(run).toMatchObject({
        runId,
        status: 'queued',
        policy: 'month-first',
        trigger: 'event',
        attempts: 0,
      });
      expect(Date.parse(run.createdAt)).toBeGreaterThanOrEqual(before - 1);
      expect(run.updatedAt).toBe(run.createdAt);
      expect(await ledger().get(runId)).toEqual(run);
    });

    it('stores the optional partition field and idempotency key, and omits them when absent', async () => {
      const withOptions = await queuedRun({ partitionBy: 'account', idempotencyKey: 'key-1' });
      const without = await queuedRun();

      expect(await ledger().get(withOptions.runId)).toMatchObject({
        partitionBy: 'account',
        idempotencyKey: 'key-1',
      });
      const stored = await ledger().get(without.runId);
      expect(stored).toBeDefined();
      expect(Object.keys(stored ?? {})).not.toContain('partitionBy');
      expect(Object.keys(stored ?? {})).not.toContain('idempotencyKey');
    });

    it('returns the existing run unchanged when the run id was already recorded', async () => {
      const first = await queuedRun({ policy: 'chronological' });
      const again = await ledger().create({ runId: first.runId, policy: 'month-first', trigger: 'event' });

      expect(again.created).toBe(false);
      expect(again.run).toEqual(first);
    });

    it('gives exactly one `created: true` when the same run is created concurrently', async () => {
      const runId = newRunId();
      const results = await Promise.all(
        Array.from({ length: 5 }, () => ledger().create({ runId, policy: 'chronological', trigger: 'http' })),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.run.createdAt)).size).toBe(1);
    });

    it.each(['', 'run-1', '../../etc/passwd', newRunId().toLowerCase()])(
      'rejects the run id %j',
      async (runId) => {
        await expect(
          ledger().create({ runId, policy: 'chronological', trigger: 'http' }),
        ).rejects.toBeInstanceOf(ValidationError);
      },
    );
  });

  describe('get', () => {
    it.each([
      ['an unknown run id', newRunId()],
      ['a string that is not a run id', 'not-a-run'],
    ])('returns undefined for %s', async (_label, runId) => {
      expect(await ledger().get(runId)).toBeUndefined();
    });
  });

  describe('lifecycle', () => {
    it('goes queued → running → succeeded, recording attempts, stats, outputs and timestamps', async () => {
      const run = await queuedRun();

      const running = await ledger().markRunning(run.runId);
      expect(running).toMatchObject({ status: 'running', attempts: 1 });
      expect(running.startedAt).toBeDefined();

      const outputs = runOutputKeys(run.runId);
      const succeeded = await ledger().markSucceeded(run.runId, stats, outputs);
      expect(succeeded).toMatchObject({ status: 'succeeded', attempts: 1, stats, outputs });
      expect(succeeded.finishedAt).toBeDefined();
      expect(succeeded.error).toBeUndefined();
      expect(await ledger().get(run.runId)).toEqual(succeeded);
    });

    it('lets a failed run be retried: running again, one more attempt, the old error cleared', async () => {
      const failed = await failedRun();
      expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: 'S3 is unavailable' });
      expect(failed.finishedAt).toBeDefined();

      const retried = await ledger().markRunning(failed.runId);
      expect(retried).toMatchObject({ status: 'running', attempts: 2 });
      expect(retried.error).toBeUndefined();
      expect(retried.finishedAt).toBeUndefined();

      const succeeded = await ledger().markSucceeded(failed.runId, stats, runOutputKeys(failed.runId));
      expect(succeeded).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('can fail a run that never started (the worker could not be invoked)', async () => {
      const run = await queuedRun();
      expect(await ledger().markFailed(run.runId, 'worker invocation failed')).toMatchObject({
        status: 'failed',
        attempts: 0,
        error: 'worker invocation failed',
      });
    });

    it('lets exactly one of several concurrent workers start a run', async () => {
      const run = await queuedRun();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => ledger().markRunning(run.runId)),
      );

      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ConflictError);
      }
      expect(await ledger().get(run.runId)).toMatchObject({ status: 'running', attempts: 1 });
    });
  });

  describe('refused transitions', () => {
    const transitions = {
      markRunning: (l: RunLedger, runId: string) => l.markRunning(runId),
      markSucceeded: (l: RunLedger, runId: string) => l.markSucceeded(runId, stats, runOutputKeys(runId)),
      markFailed: (l: RunLedger, runId: string) => l.markFailed(runId, 'late failure'),
    };
    const setups = {
      queued: () => queuedRun(),
      running: async () => ledger().markRunning((await queuedRun()).runId),
      succeeded: succeededRun,
      failed: failedRun,
    };

    it.each([
      ['running', 'markRunning'],
      ['succeeded', 'markRunning'],
      ['succeeded', 'markFailed'],
      ['queued', 'markSucceeded'],
      ['failed', 'markSucceeded'],
    ] as const)('a %s run refuses %s with a ConflictError and stays as it was', async (from, transition) => {
      const run = await setups[from]();
      const error = await transitions[transition](ledger(), run.runId).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).message).toContain(from);
      expect(await ledger().get(run.runId)).toEqual(run);
    });

    it('a succeeded run refuses markSucceeded with other outputs', async () => {
      const run = await succeededRun();
      const other = runOutputKeys(newRunId());
      const error = await ledger()
        .markSucceeded(run.runId, stats, other)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect(await ledger().get(run.runId)).toEqual(run);
    });

    it.each(Object.keys(transitions) as (keyof typeof transitions)[])(
      '%s of an unknown run is a NotFoundError and creates nothing',
      async (transition) => {
        const runId = newRunId();
        await expect(transitions[transition](ledger(), runId)).rejects.toBeInstanceOf(NotFoundError);
        expect(await ledger().get(runId)).toBeUndefined();
      },
    );
  });

  describe('repeated transitions (an SDK retry of a write whose answer was lost)', () => {
    it('returns the succeeded run unchanged when it is marked succeeded again with the same outputs', async () => {
      const run = await succeededRun();
      const again = await ledger().markSucceeded(
        run.runId,
        { ...stats, matched: 0 },
        runOutputKeys(run.runId),
      );
      expect(again).toEqual(run);
      expect(await ledger().get(run.runId)).toEqual(run);
    });

    it('returns the failed run unchanged, with its first reason, when it is marked failed again', async () => {
      const run = await failedRun();
      const again = await ledger().markFailed(run.runId, 'a later reason');
      expect(again).toEqual(run);
      expect(await ledger().get(run.runId)).toMatchObject({ status: 'failed', error: 'S3 is unavailable' });
    });
  });

  describe('the owner of a claim', () => {
    it('records the invocation that claimed the run', async () => {
      const run = await queuedRun();
      expect(await ledger().markRunning(run.runId, 'request-1')).toMatchObject({
        status: 'running',
        owner: 'request-1',
      });
    });

    it('lets the same invocation claim its own running run again (a Lambda retry after a crash)', async () => {
      const run = await queuedRun();
      const first = await ledger().markRunning(run.runId, 'request-1');
      const again = await ledger().markRunning(run.runId, 'request-1');
      expect(again).toMatchObject({ status: 'running', owner: 'request-1', attempts: 2 });
      expect(String(again.startedAt) >= String(first.startedAt)).toBe(true);
    });

    it.each([
      ['another invocation', 'request-2'],
      ['a claim without an owner', undefined],
    ])('refuses a fresh running run to %s', async (_case, owner) => {
      const run = await queuedRun();
      const claimed = await ledger().markRunning(run.runId, 'request-1');
      await expect(ledger().markRunning(run.runId, owner)).rejects.toBeInstanceOf(ConflictError);
      expect(await ledger().get(run.runId)).toEqual(claimed);
    });

    it('forgets the previous owner when a claim names none', async () => {
      const run = await queuedRun();
      await ledger().markRunning(run.runId, 'request-1');
      await ledger().markFailed(run.runId, 'S3 is unavailable');
      const reclaimed = await ledger().markRunning(run.runId);
      expect(reclaimed.owner).toBeUndefined();
      await expect(ledger().markRunning(run.runId, 'request-1')).rejects.toBeInstanceOf(ConflictError);
    });
  });

  describe('requeue', () => {
    it('puts a failed run back to queued, clearing the failure, when it is as the caller read it', async () => {
      const failed = await ledger().markFailed((await queuedRun()).runId, 'could not start the worker');
      const { run, requeued } = await ledger().requeue(failed);
      expect(requeued).toBe(true);
      expect(run).toMatchObject({ runId: failed.runId, status: 'queued', attempts: 0 });
      expect(run.error).toBeUndefined();
      expect(run.finishedAt).toBeUndefined();
      expect(await ledger().get(failed.runId)).toEqual(run);
    });

    it('changes nothing and returns the current run when the run changed since it was read', async () => {
      const seen = await queuedRun();
      const running = await ledger().markRunning(seen.runId, 'request-1');
      const { run, requeued } = await ledger().requeue(seen);
      expect(requeued).toBe(false);
      expect(run).toEqual(running);
    });

    it('lets exactly one of several concurrent requeues of the same reading win', async () => {
      const failed = await ledger().markFailed((await queuedRun()).runId, 'could not start the worker');
      const results = await Promise.all(Array.from({ length: 4 }, () => ledger().requeue(failed)));
      expect(results.filter((result) => result.requeued)).toHaveLength(1);
    });
  });

  describe('a refused write (the item comes with the refusal: no second read)', () => {
    const clients: Array<{ destroy(): void }> = [];
    afterAll(() => {
      for (const client of clients) client.destroy();
    });

    /** A ledger on a client of its own that records every DynamoDB operation it sends. */
    function watchedLedger(): { ledger: RunLedger; sent: string[] } {
      const client = createDynamoClient({
        region: 'us-east-1',
        endpoint: local().emulators.dynamodbEndpoint,
      });
      clients.push(client);
      const sent: string[] = [];
      client.middlewareStack.add(
        (next, context) => async (args) => {
          sent.push(String(context.commandName));
          return next(args);
        },
        { step: 'initialize', name: 'recordOperations' },
      );
      const documents = DynamoDBDocumentClient.from(client, {
        marshallOptions: { removeUndefinedValues: true },
      });
      return { ledger: new RunLedger(documents, local().emulators.tables.runs), sent };
    }

    it('refuses a transition with the run as DynamoDB found it, from one write', async () => {
      const running = await ledger().markRunning((await queuedRun()).runId, 'request-1');
      const { ledger: watched, sent } = watchedLedger();
      const error = await watched.markRunning(running.runId, 'request-2').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RunConflictError);
      expect((error as RunConflictError).run).toEqual(running);
      expect(sent).toEqual(['UpdateItemCommand']);
    });

    it('answers a repeated transition (already done) from one write', async () => {
      const failed = await failedRun();
      const { ledger: watched, sent } = watchedLedger();
      expect(await watched.markFailed(failed.runId, 'a later reason')).toEqual(failed);
      expect(sent).toEqual(['UpdateItemCommand']);
    });

    it('answers a create of an existing run id from one write', async () => {
      const first = await queuedRun();
      const { ledger: watched, sent } = watchedLedger();
      expect(await watched.create({ runId: first.runId, policy: 'month-first', trigger: 'event' })).toEqual({
        run: first,
        created: false,
      });
      expect(sent).toEqual(['PutItemCommand']);
    });

    it('answers a requeue that lost the race from one write', async () => {
      const seen = await queuedRun();
      const running = await ledger().markRunning(seen.runId, 'request-1');
      const { ledger: watched, sent } = watchedLedger();
      expect(await watched.requeue(seen)).toEqual({ run: running, requeued: false });
      expect(sent).toEqual(['UpdateItemCommand']);
    });

    it('reads once more only for a run that does not exist, to say so', async () => {
      const { ledger: watched, sent } = watchedLedger();
      await expect(watched.markRunning(newRunId())).rejects.toBeInstanceOf(NotFoundError);
      expect(sent).toEqual(['UpdateItemCommand', 'GetItemCommand']);
    });
  });

  describe('a run stuck in the queue', () => {
    const ledgerAt = (offsetMs: number) =>
      local().ledger({
        queuedStaleAfterMs: 60_000,
        now: () => new Date(Date.now() + offsetMs),
      });

    it('is a queued run not updated for longer than the threshold', async () => {
      const { run } = await ledgerAt(-61_000).create({
        runId: newRunId(),
        policy: 'chronological',
        trigger: 'http',
      });
      const { run: fresh } = await ledgerAt(-59_000).create({
        runId: newRunId(),
        policy: 'chronological',
        trigger: 'http',
      });
      expect(ledgerAt(0).isStuckInQueue(run)).toBe(true);
      expect(ledgerAt(0).isStuckInQueue(fresh)).toBe(false);
      const running = await ledgerAt(-61_000).markRunning(run.runId);
      expect(ledgerAt(0).isStuckInQueue(running)).toBe(false);
    });
  });

  describe('the fields a run is asked for', () => {
    it('stores the limitation period and the import id, and keeps the list index key out of the run', async () => {
      const run = await queuedRun({ trigger: 'event', limitationPeriod: 'P3Y', importId: 'import-7' });
      const stored = await ledger().get(run.runId);
      expect(stored).toEqual(run);
      expect(stored).toMatchObject({ limitationPeriod: 'P3Y', importId: 'import-7' });
      expect(Object.keys(stored ?? {})).not.toContain('listKey');
    });
  });

  describe('progress', () => {
    const progress = { phase: 'matching', accrualsRead: 10, paymentsRead: 7, partitionsDone: 2 } as const;
    const started = { phase: 'reading', accrualsRead: 0, paymentsRead: 0, partitionsDone: 0 };

    it('starts at reading with nothing read when a worker claims the run', async () => {
      const running = await ledger().markRunning((await queuedRun()).runId, 'request-1');
      expect(running.progress).toEqual(started);
      expect(await ledger().get(running.runId)).toMatchObject({ progress: started });
    });

    it('records progress for the claim that holds the run, and the time of the update', async () => {
      const running = await ledger().markRunning((await queuedRun()).runId, 'request-1');
      const later = local().ledger({ now: () => new Date(Date.parse(running.updatedAt) + 5_000) });
      expect(await later.recordProgress(running, progress)).toBe(true);
      const stored = await ledger().get(running.runId);
      expect(stored).toMatchObject({ status: 'running', progress });
      expect(Date.parse(stored?.updatedAt ?? '')).toBe(Date.parse(running.updatedAt) + 5_000);
    });

    it('works for a claim without an owner', async () => {
      const running = await ledger().markRunning((await queuedRun()).runId);
      expect(await ledger().recordProgress(running, progress)).toBe(true);
      expect(await ledger().recordProgress({ ...running, owner: 'someone' }, progress)).toBe(false);
    });

    it.each<[string, (runId: string) => Promise<unknown>]>([
      ['succeeded', (runId) => ledger().markSucceeded(runId, stats, runOutputKeys(runId))],
      ['failed', (runId) => ledger().markFailed(runId, 'S3 is unavailable')],
    ])(
      'is removed when the run %s, and a late write cannot bring it back or reopen the run',
      async (status, end) => {
        const running = await ledger().markRunning((await queuedRun()).runId, 'request-1');
        await ledger().recordProgress(running, progress);
        await end(running.runId);
        const ended = await ledger().get(running.runId);
        expect(ended).toMatchObject({ status });
        expect(ended?.progress).toBeUndefined();
        expect(await ledger().recordProgress(running, progress)).toBe(false);
        expect(await ledger().get(running.runId)).toEqual(ended);
      },
    );

    it('refuses a write from an earlier claim once the run was claimed again, even by the same owner', async () => {
      const failed = await failedRun();
      const stale = { ...failed, attempts: 1, owner: undefined };
      const again = await ledger().markRunning(failed.runId, 'request-2');
      expect(again.attempts).toBe(2);
      expect(await ledger().recordProgress(stale, progress)).toBe(false);
      expect(await ledger().recordProgress({ ...again, owner: 'request-3' }, progress)).toBe(false);
      expect(await ledger().get(failed.runId)).toMatchObject({ status: 'running', progress: started });
    });

    it('is removed when a run is queued again', async () => {
      const running = await ledger().markRunning((await queuedRun()).runId, 'request-1');
      await ledger().recordProgress(running, progress);
      const failed = await ledger().markFailed(running.runId, 'boom');
      const { run } = await ledger().requeue(failed);
      expect(run.status).toBe('queued');
      expect(run.progress).toBeUndefined();
    });

    it('answers false for something that is not a run id, without asking DynamoDB', async () => {
      expect(await ledger().recordProgress({ runId: '../x', attempts: 1 }, progress)).toBe(false);
    });
  });

  describe('failure reasons', () => {
    it('stores one line without the stack trace', async () => {
      const run = await queuedRun();
      const error = new Error('boom\nsecond line');
      const reason = `${error.stack ?? ''}`;
      const failed = await ledger().markFailed(run.runId, reason);

      expect(failed.error).toBe('Error: boom second line');
      expect(failed.error).not.toMatch(/\bat\s|\.ts:\d+/);
    });

    it(`truncates a long reason to ${MAX_FAILURE_REASON_LENGTH} characters`, async () => {
      const run = await queuedRun();
      const failed = await ledger().markFailed(run.runId, 'x'.repeat(10_000));
      expect(failed.error).toHaveLength(MAX_FAILURE_REASON_LENGTH);
      expect(failed.error?.endsWith('…')).toBe(true);
    });
  });
});
