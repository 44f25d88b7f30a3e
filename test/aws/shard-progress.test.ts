import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../lib/errors.js';
import { newRunId, RunConflictError } from '../../lib/runs/ledger.js';
import { useEmulators } from '../support/emulators.js';

/** Shard progress in the run ledger (issue 12), against the DynamoDB emulator. */
describe('RunLedger: progress of a sharded run', () => {
  const local = useEmulators();
  const ledger = () => local().ledger();

  async function plannedRun(shardsTotal: number): Promise<string> {
    const runId = newRunId();
    await ledger().create({
      runId,
      policy: 'chronological',
      trigger: 'http',
      partitionBy: 'account',
      shards: 'auto',
    });
    const run = await ledger().markRunning(runId, 'plan-1', {
      progress: { phase: 'planning', accrualsRead: 0, paymentsRead: 0, partitionsDone: 0 },
    });
    expect(run.progress?.phase).toBe('planning');
    expect(run.shards).toBe('auto');
    const progress = { phase: 'reading' as const, accrualsRead: 0, paymentsRead: 0, partitionsDone: 0 };
    expect(await ledger().recordProgress(run, { ...progress, shardsTotal, shardsDone: 0 })).toBe(true);
    return runId;
  }

  it('adds each shard once, however often it reports, whatever the order', async () => {
    const runId = await plannedRun(3);
    const counts = (n: number) => ({ accrualsRead: n, paymentsRead: 2 * n, partitionsDone: 3 * n });
    expect(await ledger().recordShardDone(runId, 2, counts(1))).toBe('counted');
    expect(await ledger().recordShardDone(runId, 0, counts(10))).toBe('counted');
    // A retried shard (its first attempt counted, then the answer was lost) adds nothing.
    expect(await ledger().recordShardDone(runId, 2, counts(1))).toBe('already counted');
    const racing = await Promise.all([
      ledger().recordShardDone(runId, 1, counts(100)),
      ledger().recordShardDone(runId, 1, counts(100)),
    ]);
    expect(racing.sort()).toEqual(['already counted', 'counted']);
    const run = await ledger().get(runId);
    expect(run?.progress).toEqual({
      phase: 'reading',
      accrualsRead: 111,
      paymentsRead: 222,
      partitionsDone: 333,
      shardsTotal: 3,
      shardsDone: 3,
    });
    // The marker is internal: not part of the run.
    expect(run).not.toHaveProperty('shardsCounted');
  });

  it('refuses a shard of a run that is not running, or has no shard plan', async () => {
    const failed = await plannedRun(2);
    await ledger().markFailed(failed, 'shard 1 failed');
    await expect(
      ledger().recordShardDone(failed, 0, { accrualsRead: 1, paymentsRead: 1, partitionsDone: 1 }),
    ).rejects.toThrow(RunConflictError);
    const unplanned = newRunId();
    await ledger().create({ runId: unplanned, policy: 'chronological', trigger: 'http' });
    await ledger().markRunning(unplanned);
    await expect(
      ledger().recordShardDone(unplanned, 0, { accrualsRead: 1, paymentsRead: 1, partitionsDone: 1 }),
    ).rejects.toThrow(/without a shard plan/);
    await expect(
      ledger().recordShardDone(newRunId(), 0, { accrualsRead: 1, paymentsRead: 1, partitionsDone: 1 }),
    ).rejects.toThrow(NotFoundError);
  });

  it('a run claimed again starts counting its shards afresh', async () => {
    const runId = await plannedRun(1);
    expect(
      await ledger().recordShardDone(runId, 0, { accrualsRead: 1, paymentsRead: 1, partitionsDone: 1 }),
    ).toBe('counted');
    await ledger().markFailed(runId, 'merge failed');
    const again = await ledger().markRunning(runId, 'plan-2');
    await ledger().recordProgress(again, {
      phase: 'reading',
      accrualsRead: 0,
      paymentsRead: 0,
      partitionsDone: 0,
      shardsTotal: 1,
      shardsDone: 0,
    });
    expect(
      await ledger().recordShardDone(runId, 0, { accrualsRead: 5, paymentsRead: 5, partitionsDone: 5 }),
    ).toBe('counted');
    expect((await ledger().get(runId))?.progress?.accrualsRead).toBe(5);
  });
});
