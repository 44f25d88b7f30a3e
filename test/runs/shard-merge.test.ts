import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { describe, expect, it, vi } from 'vitest';
import { s3Client } from '../../lib/aws/clients.js';
import {
  jsonElements,
  type MatchOutcome,
  type MatchStats,
  matchPayments,
  matchPaymentsByPartition,
  type Policy,
  resultJsonFrame,
} from '../../lib/matching/index.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import {
  RUN_OUTPUTS,
  RUN_OUTPUTS_PREFIX,
  runOutputKeys,
  shardedRunOutputKeys,
} from '../../lib/runs/outputs.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { failShardedRun, mergeMatchingRun, type ShardStepDeps } from '../../lib/runs/shards/index.js';
import { planKey, shardManifestKey, shardPrefix } from '../../lib/runs/shards/layout.js';
import { ShardsMissingError, sumStats } from '../../lib/runs/shards/merge.js';
import { SpilledOutputs } from '../../lib/runs/spill.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { useEmulators } from '../support/emulators.js';
import { demoInputs, jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The merge and fail steps of sharded runs (lib/runs/shards/), against the DynamoDB and S3
 * emulators. Shard outputs are written as the contract (notes/shards-contract.md) says, with the
 * matcher's own output functions over each shard's partitions; the merged outputs are compared
 * with those of an unsharded run of the same data, written by the matching job.
 */

const { data } = demoInputs({ accounts: 40, accruals: 160, payments: 150, seed: 7 });
// Records whose partition value is unusable or sorts before every string: shard 0 takes them.
const accruals: Document[] = [...data.accrual, { id: 990_001, month: '2024-03', amount: 100 }];
const payments: Document[] = [
  ...data.payment,
  { id: 990_002, account: 12345, date: '2024-03-05T00:00:00Z', amount: 50 },
  { id: 990_003, account: null, date: '2024-03-06T00:00:00Z', amount: 70 },
];
const store = () =>
  new EmbeddedDocumentStore({ collections: { accrual: [...accruals], payment: [...payments] } });

const policy: Policy = 'month-first';
const partitionBy = 'account';
const limitationPeriod = 'P3Y';
const NOW = new Date('2024-07-01T12:00:00.000Z');

/** Key ranges over the accounts: shard 0 unbounded below, the last unbounded above, one shard empty. */
function keyRanges(): Array<{ from?: string; to?: string }> {
  const accounts = [
    ...new Set(accruals.map((record) => record.account).filter((value) => typeof value === 'string')),
  ]
    .map(String)
    .sort();
  const cut = (fraction: number) => accounts[Math.floor(accounts.length * fraction)] as string;
  return [{ to: cut(0.3) }, { from: cut(0.3), to: cut(0.7) }, { from: cut(0.7), to: '9' }, { from: '9' }];
}

function inShard(record: Document, range: { from?: string; to?: string }): boolean {
  const value = record[partitionBy];
  if (typeof value !== 'string') return range.from === undefined;
  return (range.from === undefined || value >= range.from) && (range.to === undefined || value < range.to);
}

async function text(
  chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
): Promise<Buffer> {
  const buffers: Buffer[] = [];
  for await (const chunk of chunks)
    buffers.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(buffers);
}

const byteLength = (items: Iterable<unknown>) => Buffer.byteLength([...jsonElements(items)].join(''));

/** Writes shard `shard`'s outputs and then its shard.json, as the shard step does. */
async function writeShard(
  bucket: ResultsBucket,
  runId: string,
  shard: number,
  range: { from?: string; to?: string },
) {
  const shardStore = new EmbeddedDocumentStore({
    collections: {
      accrual: accruals.filter((record) => inShard(record, range)),
      payment: payments.filter((record) => inShard(record, range)),
    },
  });
  const sort = inputSort(partitionBy);
  const read = (collection: string) => shardStore.find<Document>(collection, {}, { sort });
  const options = { policy, partitionBy, limitationPeriod };
  const spilled = await SpilledOutputs.create(policy, partitionBy, limitationPeriod);
  const { stats } = await matchPaymentsByPartition(read('accrual'), read('payment'), options, spilled.add);
  spilled.close(stats);
  // The same shard in memory, for the byte ranges of result.json's arrays.
  const whole: MatchOutcome = await matchPayments(read('accrual'), read('payment'), options);
  const meta = { runId, generatedAt: NOW.toISOString() };
  const prefix = shardPrefix(runId, shard);
  const outputs: Record<string, { key: string; bytes: number; headerBytes?: number }> = {};
  try {
    for (const { name, file, contentType } of RUN_OUTPUTS) {
      const render = spilled[name as keyof SpilledOutputs];
      if (name === 'manifest' || typeof render !== 'function') continue;
      const bytes = await text(
        (render as unknown as (m: typeof meta) => Iterable<string>).call(spilled, meta),
      );
      await bucket.upload(`${prefix}${file}`, [bytes], contentType);
      outputs[name] = { key: `${prefix}${file}`, bytes: bytes.length };
      if (file.endsWith('.csv')) outputs[name] = { ...outputs[name], headerBytes: bytes.indexOf('\n') + 1 };
      if (name === 'resultJson') {
        const frame = resultJsonFrame(policy, meta, stats, limitationPeriod);
        const rejected = [...whole.rejected()];
        const lengths = [
          byteLength(whole.matches()),
          byteLength(whole.unmatchedPayments()),
          byteLength(whole.unpaidAccruals()),
        ];
        const ranges: Array<[number, number]> = [];
        let at = 0;
        lengths.forEach((length, index) => {
          at += Buffer.byteLength(frame[index] as string);
          ranges.push([at, at + length]);
          at += length;
        });
        at += Buffer.byteLength(frame[3]);
        const accrualBytes = byteLength(rejected.filter((entry) => entry.source === 'accrual'));
        const paymentBytes = byteLength(rejected.filter((entry) => entry.source === 'payment'));
        const comma = accrualBytes > 0 && paymentBytes > 0 ? 1 : 0;
        const [matches, unmatchedPayments, unpaidAccruals] = ranges;
        outputs.resultJson = {
          ...outputs.resultJson,
          elements: {
            matches,
            unmatchedPayments,
            unpaidAccruals,
            rejectedAccruals: [at, at + accrualBytes],
            rejectedPayments: [at + accrualBytes + comma, at + accrualBytes + comma + paymentBytes],
          },
        } as never;
        expect(at + accrualBytes + comma + paymentBytes + Buffer.byteLength(frame[4])).toBe(bytes.length);
      }
    }
  } finally {
    await spilled.dispose();
  }
  const manifest = {
    runId,
    shard,
    stats,
    counts: { accrualsRead: stats.accruals, paymentsRead: stats.payments, partitionsDone: 0 },
    outputs,
  };
  await bucket.upload(shardManifestKey(runId, shard), [JSON.stringify(manifest)], 'application/json');
  return stats;
}

describe('sharded runs: merge and fail steps (against the emulators)', () => {
  const local = useEmulators();
  // Runs are claimed 90 s before NOW: the merged run's durationMs.
  const jobs = jobHarness(local, { store, ledger: { now: () => new Date(NOW.getTime() - 90_000) } });
  const { ledger, queuedRun, objectBytes, outputsOf } = jobs;
  const resultsBucket = () => new ResultsBucket(s3Client(local().cfg), local().emulators.bucket);
  const deps = (): ShardStepDeps => ({
    store: store(),
    ledger: ledger(),
    bucket: resultsBucket(),
    now: () => NOW,
  });

  /** A running run with its plan and (unless left out) every shard written. */
  async function shardedRun(options: { skip?: readonly number[] } = {}) {
    const runId = await queuedRun({ policy, partitionBy, limitationPeriod });
    await ledger().markRunning(runId, 'plan-execution');
    const bucket = resultsBucket();
    const ranges = keyRanges();
    const plan = {
      runId,
      partitionBy,
      estimatedRecords: accruals.length + payments.length,
      shards: ranges.map((range, shard) => ({ shard, ...range })),
    };
    await bucket.upload(planKey(runId), [JSON.stringify(plan)], 'application/json');
    const stats: MatchStats[] = [];
    for (const [shard, range] of ranges.entries()) {
      if (options.skip?.includes(shard)) continue;
      stats.push(await writeShard(bucket, runId, shard, range));
    }
    return { runId, ranges, stats };
  }

  const runLevel = async (runId: string) =>
    (await outputsOf(runId)).filter((key) => !key.includes('/shards/') && !key.endsWith('/plan.json'));

  it('writes byte for byte what an unsharded run writes, the manifest, and records the run succeeded', async () => {
    const reference = await queuedRun({ policy, partitionBy, limitationPeriod });
    const unsharded = await runMatchingJob(reference, {
      store: store(),
      ledger: ledger(),
      bucket: resultsBucket(),
      now: () => NOW,
    });
    expect(unsharded.status).toBe('succeeded');

    const { runId, ranges, stats } = await shardedRun();
    const before = await ledger().get(runId);
    const outcome = await mergeMatchingRun(runId, deps());
    expect(outcome.status).toBe('succeeded');

    const keys = shardedRunOutputKeys(runId);
    const expected = runOutputKeys(reference, partitionBy);
    for (const name of ['matchesCsv', 'unmatchedPaymentsCsv', 'unpaidAccrualsCsv'] as const) {
      const written = Buffer.from((await objectBytes(keys[name])) ?? []);
      expect(written.length, name).toBeGreaterThan(200);
      expect(written.equals(Buffer.from((await objectBytes(expected[name])) ?? [])), name).toBe(true);
    }
    // result.json: the same bytes but for the run's id and the run's duration (a measurement).
    const normalise = (bytes: Uint8Array | undefined, id: string) =>
      Buffer.from(bytes ?? [])
        .toString('utf8')
        .replace(`"runId":"${id}"`, '"runId":"…"')
        .replace(/"durationMs":\d+/, '"durationMs":0');
    const merged = normalise(await objectBytes(keys.resultJson), runId);
    expect(merged).toBe(normalise(await objectBytes(expected.resultJson), reference));
    const document = JSON.parse(merged);
    expect(document.matches.length).toBeGreaterThan(50);
    expect(document.rejected.map((entry: { source: string }) => entry.source)).toContain('payment');

    const run = await ledger().get(runId);
    const durationMs = NOW.getTime() - Date.parse(before?.startedAt ?? '');
    expect(durationMs).toBe(90_000);
    expect(run).toMatchObject({ status: 'succeeded', outputs: keys });
    const { durationMs: _ours, ...summed } = run?.stats ?? ({} as MatchStats);
    const { durationMs: _theirs, ...unshardedStats } =
      (await ledger().get(reference))?.stats ?? ({} as MatchStats);
    expect(summed).toEqual(unshardedStats);
    expect(run?.stats?.durationMs).toBe(durationMs);
    expect(JSON.parse(Buffer.from((await objectBytes(keys.resultJson)) ?? []).toString()).stats).toEqual(
      run?.stats,
    );
    expect(sumStats(stats, durationMs)).toEqual(run?.stats);

    // No run-level workbook or partition lookup: those stay per shard, listed in the manifest.
    expect(await runLevel(runId)).toEqual(Object.values(keys).sort());
    const manifest = JSON.parse(Buffer.from((await objectBytes(keys.manifest)) ?? []).toString());
    expect(manifest.runId).toBe(runId);
    expect(
      manifest.shards.map((shard: { shard: number; from?: string; to?: string }) => [
        shard.shard,
        shard.from,
        shard.to,
      ]),
    ).toEqual(ranges.map((range, shard) => [shard, range.from, range.to]));
    for (const shard of manifest.shards) {
      expect(Object.keys(shard.outputs)).toEqual([
        'matchesCsv',
        'unmatchedPaymentsCsv',
        'unpaidAccrualsCsv',
        'resultXlsx',
        'partitionsJsonl',
        'partitionIndex',
        'resultJson',
      ]);
      expect(shard.outputs.resultXlsx.key).toBe(`${shardPrefix(runId, shard.shard)}result.xlsx`);
      expect((await objectBytes(shard.outputs.partitionIndex.key))?.length).toBe(
        shard.outputs.partitionIndex.bytes,
      );
    }

    // A retried merge (its answer lost) finds the run merged; the outputs are untouched.
    await expect(mergeMatchingRun(runId, deps())).resolves.toEqual(outcome);
  });

  it('never records a run succeeded with a shard missing: it fails, naming the shards, with no run-level outputs', async () => {
    const { runId } = await shardedRun({ skip: [1, 3] });
    const error = await mergeMatchingRun(runId, deps()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ShardsMissingError);
    expect((error as ShardsMissingError).missing).toEqual([1, 3]);
    const run = await ledger().get(runId);
    expect(run?.status).toBe('failed');
    expect(run?.error).toBe(
      'merge failed: ShardsMissingError: shards 1, 3 of 4 did not finish (no shard.json)',
    );
    expect(run?.outputs).toBeUndefined();
    expect(await runLevel(runId)).toEqual([]);
    // The fail step the state machine runs next changes nothing: the first failure wins.
    await expect(
      failShardedRun({ runId, error: { Error: 'ShardsMissingError', Cause: 'x' } }, deps()),
    ).resolves.toMatchObject({
      status: 'skipped',
    });
    expect((await ledger().get(runId))?.error).toBe(run?.error);
  });

  it('fail step: names the shard, keeps no stack, deletes run-level outputs; only the first failure counts', async () => {
    const { runId } = await shardedRun({ skip: [2, 3] });
    // A run-level output left by an interrupted merge.
    const client = s3Client(local().cfg);
    await client.send(
      new PutObjectCommand({
        Bucket: local().emulators.bucket,
        Key: shardedRunOutputKeys(runId).matchesCsv,
        Body: 'partial',
      }),
    );
    const cause = JSON.stringify({
      errorType: 'TypeError',
      errorMessage: 'boom',
      stackTrace: ['TypeError: boom', '    at shard (/var/task/index.mjs:1:2)'],
    });
    const first = await failShardedRun(
      { runId, shard: 2, error: { Error: 'TypeError', Cause: cause } },
      deps(),
    );
    expect(first).toEqual({
      status: 'failed',
      runId,
      reason: 'shard 2 of 4 failed: TypeError: boom',
      transient: false,
    });
    expect(await ledger().get(runId)).toMatchObject({
      status: 'failed',
      error: 'shard 2 of 4 failed: TypeError: boom',
    });
    expect(await runLevel(runId)).toEqual([]);
    // The shards' own outputs stay (the bucket's lifecycle rule removes them).
    expect((await outputsOf(runId)).filter((key) => key.includes('/shards/0000/'))).toHaveLength(8);

    const later = await failShardedRun({ runId, shard: 3, error: { Error: 'States.Timeout' } }, deps());
    expect(later.status).toBe('skipped');
    const again = await failShardedRun(
      { runId, shard: 2, error: { Error: 'TypeError', Cause: cause } },
      deps(),
    );
    expect(again.status).toBe('skipped');
    expect((await ledger().get(runId))?.error).toBe('shard 2 of 4 failed: TypeError: boom');
    // Nor can a late merge make it succeeded.
    await expect(mergeMatchingRun(runId, deps())).resolves.toMatchObject({ status: 'skipped' });
    expect((await ledger().get(runId))?.status).toBe('failed');
  });

  it('fail step without a shard (plan or merge failed) records the cause as it is', async () => {
    const runId = await queuedRun({ policy, partitionBy });
    await ledger().markRunning(runId, 'plan-execution');
    const outcome = await failShardedRun(
      { runId, error: { Error: 'ServiceUnavailableError', Cause: 'MongoDB is unavailable' } },
      deps(),
    );
    expect(outcome).toMatchObject({ status: 'failed', reason: 'MongoDB is unavailable' });
    // A run that is not running (queued, never claimed) is left alone.
    const queued = await queuedRun({ policy, partitionBy });
    await expect(failShardedRun({ runId: queued, error: {} }, deps())).resolves.toMatchObject({
      status: 'skipped',
    });
    expect((await ledger().get(queued))?.status).toBe('queued');
    expect(RUN_OUTPUTS_PREFIX).toBe('matching-runs/');
  });
});
