import { describe, expect, it } from 'vitest';
import { reasonCounts } from '../../lib/matching/outcome.js';
import { newRunId } from '../../lib/runs/ledger.js';
import {
  isPartitionedOnly,
  isShardedOnly,
  OUTPUTS_ADDED_LATER,
  RUN_OUTPUT_NAMES,
  type RunOutputName,
  runOutputKeys,
  shardedRunOutputKeys,
} from '../../lib/runs/outputs.js';
import { type MatchingRun, parseRun } from '../../lib/runs/run-record.js';
import { toRunView } from '../../lib/runs/service.js';

/** A succeeded run with every field of the ledger item set. */
function fullRun(): MatchingRun {
  const runId = newRunId();
  return {
    runId,
    status: 'succeeded',
    policy: 'month-first',
    partitionBy: 'account',
    limitationPeriod: 'P3Y',
    trigger: 'event',
    idempotencyKey: 'import-1',
    importId: 'import-2024-06',
    createdAt: '2024-06-01T00:00:00.000Z',
    updatedAt: '2024-06-01T00:01:00.000Z',
    startedAt: '2024-06-01T00:00:01.000Z',
    finishedAt: '2024-06-01T00:01:00.000Z',
    attempts: 2,
    stats: {
      accruals: 3,
      payments: 2,
      matched: 2,
      sameMonth: 1,
      oldest: 1,
      unmatched: 0,
      unpaid: 1,
      rejected: 0,
      reasons: reasonCounts([], [0, 0, 1]),
      durationMs: 5,
    },
    error: 'an earlier attempt failed',
    outputs: runOutputKeys(runId, 'account'),
    progress: { phase: 'writing', accrualsRead: 3, paymentsRead: 2, partitionsDone: 1 },
    owner: 'request-1',
  };
}

describe('the HTTP view of a run', () => {
  it('shows every field of the ledger item but the idempotency key and the claim’s owner', () => {
    const run = fullRun();
    const view = toRunView(run, false);
    const { idempotencyKey: _key, owner: _owner, outputs: _outputs, ...shown } = run;
    expect(view).toEqual({ ...shown, stale: false, outputs: expect.any(Object) });
    expect(JSON.stringify(view)).not.toMatch(/import-1|request-1/);
  });

  it('lists every output with its key, and its URL only when given one', () => {
    const run = fullRun();
    const keys = runOutputKeys(run.runId, 'account');
    const urls = Object.fromEntries(
      RUN_OUTPUT_NAMES.map((name) => [name, `https://signed/${name}`]),
    ) as Record<RunOutputName, string>;
    // Every output but the manifest, which sharded runs alone write (the next test).
    const written = RUN_OUTPUT_NAMES.filter((name) => !isShardedOnly(name));
    expect(written).toHaveLength(RUN_OUTPUT_NAMES.length - 1);
    expect(toRunView(run, false).outputs).toEqual(
      Object.fromEntries(written.map((name) => [name, { key: keys[name] }])),
    );
    expect(toRunView(run, false, urls).outputs).toEqual(
      Object.fromEntries(written.map((name) => [name, { key: keys[name], url: urls[name] }])),
    );
  });

  it('lists the run-level outputs of a sharded run, its manifest among them, each with its URL', () => {
    const run = { ...fullRun(), outputs: shardedRunOutputKeys(newRunId()) };
    const keys = run.outputs;
    const names = [
      'matchesCsv',
      'unmatchedPaymentsCsv',
      'unpaidAccrualsCsv',
      'manifest',
      'resultJson',
    ] as const;
    expect(Object.keys(keys)).toEqual(names);
    const urls = Object.fromEntries(names.map((name) => [name, `https://signed/${name}`]));
    expect(toRunView(parseRun(run), false, urls).outputs).toEqual(
      Object.fromEntries(names.map((name) => [name, { key: keys[name], url: urls[name] }])),
    );
    expect(keys.manifest).toBe(`matching-runs/${run.outputs.resultJson.split('/')[1]}/manifest.json`);
  });

  it('lists only the outputs every run writes for a run without a partition field', () => {
    const { partitionBy: _field, ...run } = { ...fullRun(), outputs: runOutputKeys(newRunId()) };
    const names = Object.keys(toRunView(run, false).outputs);
    expect(names).toEqual(RUN_OUTPUT_NAMES.filter((name) => !isPartitionedOnly(name)));
    expect(names).toContain('resultJson');
    expect(names).not.toContain('partitionIndex');
  });

  it('shows where the run-level outputs will be for a sharded run that has recorded none yet', () => {
    const { outputs: _outputs, ...queued } = {
      ...fullRun(),
      status: 'queued' as const,
      shards: 'auto' as const,
    };
    const outputs = toRunView(queued, false).outputs;
    expect(Object.keys(outputs)).toEqual(Object.keys(shardedRunOutputKeys(queued.runId)));
    expect(outputs).toHaveProperty('manifest');
    expect(outputs).not.toHaveProperty('partitionIndex');
  });

  it('shows where the outputs will be for a run that has recorded none yet', () => {
    const { outputs: _outputs, ...queued } = { ...fullRun(), status: 'queued' as const };
    expect(toRunView(queued, true)).toMatchObject({
      stale: true,
      outputs: {
        resultJson: { key: runOutputKeys(queued.runId).resultJson },
        partitionIndex: { key: runOutputKeys(queued.runId, 'account').partitionIndex },
      },
    });
  });

  describe('a run recorded before unpaid-accruals.csv and result.xlsx existed', () => {
    function legacyRun(): MatchingRun {
      const run = fullRun();
      const { resultJson, matchesCsv, unmatchedPaymentsCsv } = runOutputKeys(run.runId);
      // As the ledger item was written then: three output keys.
      return parseRun(
        JSON.parse(JSON.stringify({ ...run, outputs: { resultJson, matchesCsv, unmatchedPaymentsCsv } })),
      );
    }

    it('still reads from the ledger, with the outputs it has', () => {
      const run = legacyRun();
      expect(Object.keys(run.outputs ?? {}).sort()).toEqual([
        'matchesCsv',
        'resultJson',
        'unmatchedPaymentsCsv',
      ]);
      expect(OUTPUTS_ADDED_LATER).toEqual([
        'unpaidAccrualsCsv',
        'resultXlsx',
        'partitionsJsonl',
        'partitionIndex',
        'manifest',
      ]);
    });

    it('is shown with only the outputs it recorded, each with its URL', () => {
      const run = legacyRun();
      const urls = {
        resultJson: 'https://signed/r',
        matchesCsv: 'https://signed/m',
        unmatchedPaymentsCsv: 'https://signed/u',
      };
      const view = toRunView(run, false, urls);
      expect(view.outputs).toEqual({
        resultJson: { key: run.outputs?.resultJson, url: urls.resultJson },
        matchesCsv: { key: run.outputs?.matchesCsv, url: urls.matchesCsv },
        unmatchedPaymentsCsv: { key: run.outputs?.unmatchedPaymentsCsv, url: urls.unmatchedPaymentsCsv },
      });
    });

    it('is read and shown without stats.reasons when it succeeded before reasons existed', () => {
      const run = fullRun();
      const { reasons: _absent, ...stats } = run.stats ?? expect.fail('fullRun has stats');
      const older = parseRun(JSON.parse(JSON.stringify({ ...run, stats })));
      expect(older.stats).toEqual(stats);
      expect(toRunView(older, false).stats).not.toHaveProperty('reasons');
    });

    it('is not read when its stats lack a figure every run records', () => {
      const { matched: _dropped, ...stats } = fullRun().stats ?? expect.fail('fullRun has stats');
      expect(() => parseRun({ ...fullRun(), stats })).toThrow(/matched/);
    });

    it('is not read when an output every run has is missing', () => {
      const { resultJson: _dropped, ...keys } = runOutputKeys(newRunId());
      expect(() => parseRun({ ...fullRun(), outputs: keys })).toThrow(/resultJson/);
    });
  });
});
