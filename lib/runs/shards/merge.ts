import { EJSON } from 'bson';
import { ConflictError } from '../../errors.js';
import { logger as defaultLogger } from '../../logger.js';
import {
  type MatchStats,
  resultJsonFrame,
  UNMATCHED_PAYMENT_REASONS,
  UNPAID_ACCRUAL_REASONS,
} from '../../matching/index.js';
import type { ConcatPiece, ObjectRange } from '../concat.js';
import type { JobLogger, MatchingJobOutcome } from '../job-outcome.js';
import { describeFailure, type MatchingRun } from '../ledger.js';
import { discardOutputs } from '../output-bucket.js';
import { RUN_OUTPUTS, type ShardedRunOutputKeys, shardedRunOutputKeys } from '../outputs.js';
import type { ResultsBucket } from '../results-bucket.js';
import { settleUnrecordedSuccess } from '../unrecorded-success.js';
import {
  readPlan,
  SHARD_OUTPUT_NAMES,
  type ShardManifest,
  shardManifestKey,
  shardManifestSchema,
  shardPrefix,
} from './layout.js';
import type { ShardPlan } from './plan.js';
import type { ShardStepDeps } from './types.js';

/** Shard manifests read at once: small objects, many shards. */
const MANIFEST_READS_IN_FLIGHT = 16;

/** Some shards of the plan left no `shard.json`: they did not finish, and the run cannot be merged. */
export class ShardsMissingError extends Error {
  override readonly name = 'ShardsMissingError';

  constructor(
    readonly missing: readonly number[],
    readonly total: number,
  ) {
    const listed = missing.length > 20 ? `${missing.slice(0, 20).join(', ')}, …` : missing.join(', ');
    super(
      `${missing.length === 1 ? 'shard' : 'shards'} ${listed} of ${total} did not finish (no shard.json)`,
    );
  }
}

/** What the merge assembles the run's outputs from. */
interface Shards {
  readonly plan: ShardPlan;
  readonly manifests: readonly ShardManifest[];
}

/**
 * The merge step of a sharded run: reads `plan.json` and every shard's `shard.json`, sums the
 * shards' stats (`durationMs`: the run's wall time, from its `startedAt` to now), and writes the
 * run-level outputs at the usual keys, byte for byte what an unsharded run of the same data would
 * write (same `runId`, `generatedAt` now): matches.csv, unmatched-payments.csv, unpaid-accruals.csv
 * (the header once, then each shard's rows), `manifest.json` (every shard's key range and outputs,
 * its workbook and partition lookup files among them) and result.json last. The large parts are
 * copied inside S3 (lib/runs/concat.ts): only small pieces and 5 MiB top-ups pass through here.
 * Then records the run `succeeded` with those keys (only while it is still `running`).
 *
 * A retried merge of a run already succeeded returns its outcome; a run not `running` otherwise
 * is `skipped`. On failure (a shard missing: {@link ShardsMissingError}; S3; a malformed
 * manifest) the run-level outputs written so far are deleted, the run is recorded `failed` with a
 * one-line reason, and the error is thrown, so the state machine sees it (its fail step is then a
 * no-op: the first failure wins). A run is never `succeeded` with a shard missing.
 */
export async function mergeMatchingRun(runId: string, deps: ShardStepDeps): Promise<MatchingJobOutcome> {
  const log = deps.logger ?? defaultLogger;
  const run = await deps.ledger.get(runId);
  if (run?.status === 'succeeded' && run.stats !== undefined) {
    log.info('sharded run already merged', { runId });
    return { status: 'succeeded', runId, stats: run.stats };
  }
  if (run?.status !== 'running') {
    const reason = `run is ${run?.status ?? 'unknown'}; only a running run is merged`;
    log.info('sharded run not merged', { runId, reason });
    return { status: 'skipped', runId, reason };
  }
  const keys = shardedRunOutputKeys(runId);
  if (run.progress !== undefined) {
    // Best effort, as progress always is: the merge itself is guarded by markSucceeded's condition.
    await deps.ledger.recordProgress(run, { ...run.progress, phase: 'merging' }).catch((error: unknown) => {
      log.warn('progress of a sharded run not recorded', { runId, error });
    });
  }
  const now = deps.now?.() ?? new Date();
  const started = performance.now();
  let stats: MatchStats;
  try {
    const shards = await readShards(run, deps.bucket);
    stats = sumStats(
      shards.manifests.map((manifest) => manifest.stats),
      Math.max(0, now.getTime() - Date.parse(run.startedAt ?? now.toISOString())),
    );
    await writeOutputs(run, keys, shards, stats, now, deps.bucket);
  } catch (error) {
    await recordFailure(run, keys, error, deps, log);
    throw error;
  }
  const succeeded: MatchingJobOutcome = { status: 'succeeded', runId, stats };
  try {
    await deps.ledger.markSucceeded(runId, stats, keys);
  } catch (error) {
    const outcome = await settleUnrecordedSuccess({
      run,
      keys,
      ledger: deps.ledger,
      bucket: deps.bucket,
      log,
      error,
      succeeded,
    });
    if (outcome.status === 'failed') throw error;
    return outcome;
  }
  log.info('sharded run merged', { runId, stats, mergeMs: Math.round(performance.now() - started) });
  return succeeded;
}

/** Deletes the run-level outputs written so far and records the run failed (if it is still running). */
async function recordFailure(
  run: MatchingRun,
  keys: ShardedRunOutputKeys,
  error: unknown,
  deps: ShardStepDeps,
  log: JobLogger,
): Promise<void> {
  const { runId } = run;
  const reason = `merge failed: ${describeFailure(error)}`;
  log.error('sharded run failed', { runId, phase: 'merging', reason, error });
  await discardOutputs(deps.bucket, keys, log, runId);
  try {
    await deps.ledger.markFailed(runId, reason, ['running']);
  } catch (failError) {
    // Another step ended the run meanwhile: its outcome stands.
    if (!(failError instanceof ConflictError)) throw failError;
  }
}

/** The run's plan and every shard's manifest, in shard order; throws naming the shards that have none. */
async function readShards(run: MatchingRun, bucket: ResultsBucket): Promise<Shards> {
  const { runId } = run;
  const plan = await readPlan({ bucket }, runId);
  const manifests: Array<ShardManifest | undefined> = new Array(plan.shards.length);
  let next = 0;
  const reader = async () => {
    for (let shard = next++; shard < plan.shards.length; shard = next++) {
      const text = await bucket.read(shardManifestKey(runId, shard));
      manifests[shard] = text === undefined ? undefined : shardManifest(runId, shard, text);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MANIFEST_READS_IN_FLIGHT, plan.shards.length) }, reader));
  const missing = plan.shards.flatMap(({ shard }) => (manifests[shard] === undefined ? [shard] : []));
  if (missing.length > 0) throw new ShardsMissingError(missing, plan.shards.length);
  return { plan, manifests: manifests as ShardManifest[] };
}

/** A shard's manifest, checked: of this run and shard, naming outputs of this shard only. */
function shardManifest(runId: string, shard: number, text: Buffer): ShardManifest {
  const manifest = shardManifestSchema.parse(JSON.parse(text.toString('utf8')));
  if (manifest.runId !== runId || manifest.shard !== shard) {
    throw new Error(`shard.json of shard ${shard} is of run ${manifest.runId}, shard ${manifest.shard}`);
  }
  const prefix = shardPrefix(runId, shard);
  for (const name of SHARD_OUTPUT_NAMES) {
    if (!manifest.outputs[name].key.startsWith(prefix)) {
      throw new Error(`shard ${shard} lists its ${name} outside its prefix`);
    }
  }
  return manifest;
}

/** The shards' stats summed, in the matcher's field order (result.json compares byte for byte). */
export function sumStats(all: readonly MatchStats[], durationMs: number): MatchStats {
  const total = (pick: (stats: MatchStats) => number) => all.reduce((sum, stats) => sum + pick(stats), 0);
  return {
    accruals: total((stats) => stats.accruals),
    payments: total((stats) => stats.payments),
    matched: total((stats) => stats.matched),
    sameMonth: total((stats) => stats.sameMonth),
    oldest: total((stats) => stats.oldest),
    unmatched: total((stats) => stats.unmatched),
    unpaid: total((stats) => stats.unpaid),
    rejected: total((stats) => stats.rejected),
    reasons: {
      unmatchedPayments: Object.fromEntries(
        UNMATCHED_PAYMENT_REASONS.map((reason) => [
          reason,
          total((stats) => stats.reasons.unmatchedPayments[reason] ?? 0),
        ]),
      ) as MatchStats['reasons']['unmatchedPayments'],
      unpaidAccruals: Object.fromEntries(
        UNPAID_ACCRUAL_REASONS.map((reason) => [
          reason,
          total((stats) => stats.reasons.unpaidAccruals[reason] ?? 0),
        ]),
      ) as MatchStats['reasons']['unpaidAccruals'],
    },
    durationMs,
  };
}

const CONTENT_TYPES = Object.fromEntries(RUN_OUTPUTS.map(({ name, contentType }) => [name, contentType]));
const CSV_OUTPUTS = ['matchesCsv', 'unmatchedPaymentsCsv', 'unpaidAccrualsCsv'] as const;

/** Writes the run-level outputs in RUN_OUTPUTS order: the CSV tables, the manifest, result.json last. */
async function writeOutputs(
  run: MatchingRun,
  keys: ShardedRunOutputKeys,
  { plan, manifests }: Shards,
  stats: MatchStats,
  now: Date,
  bucket: ResultsBucket,
): Promise<void> {
  for (const name of CSV_OUTPUTS) {
    const first = (manifests[0] as ShardManifest).outputs[name];
    const pieces: ConcatPiece[] = [
      { key: first.key, start: 0, end: first.headerBytes },
      ...manifests.map(({ outputs }) => ({
        key: outputs[name].key,
        start: outputs[name].headerBytes,
        end: outputs[name].bytes,
      })),
    ];
    await bucket.concat(keys[name], pieces, CONTENT_TYPES[name] as string);
  }
  await bucket.upload(
    keys.manifest,
    [EJSON.stringify(runManifest(run, plan, manifests), { relaxed: true })],
    CONTENT_TYPES.manifest as string,
  );
  const frame = resultJsonFrame(
    run.policy,
    { runId: run.runId, generatedAt: now.toISOString() },
    stats,
    run.limitationPeriod,
  );
  const elements = (array: keyof ShardManifest['outputs']['resultJson']['elements']) =>
    manifests.map(({ outputs: { resultJson } }) => ({
      key: resultJson.key,
      start: resultJson.elements[array][0],
      end: resultJson.elements[array][1],
    }));
  const pieces: ConcatPiece[] = [
    { bytes: frame[0] },
    ...joined(elements('matches')),
    { bytes: frame[1] },
    ...joined(elements('unmatchedPayments')),
    { bytes: frame[2] },
    ...joined(elements('unpaidAccruals')),
    { bytes: frame[3] },
    ...joined([...elements('rejectedAccruals'), ...elements('rejectedPayments')]),
    { bytes: frame[4] },
  ];
  await bucket.concat(keys.resultJson, pieces, CONTENT_TYPES.resultJson as string);
}

/** JSON array elements of several ranges as one list: a comma between two non-empty ranges. */
function joined(ranges: readonly ObjectRange[]): ConcatPiece[] {
  const pieces: ConcatPiece[] = [];
  for (const range of ranges) {
    if (range.end === range.start) continue;
    if (pieces.length > 0) pieces.push({ bytes: ',' });
    pieces.push(range);
  }
  return pieces;
}

/**
 * `manifest.json`: the run's shards, each with its key range, its stats and counts, and the keys
 * and sizes of its outputs (the workbook and partition lookup files among them: a sharded run has
 * those per shard only).
 */
function runManifest(run: MatchingRun, plan: ShardPlan, manifests: readonly ShardManifest[]) {
  return {
    runId: run.runId,
    partitionBy: plan.partitionBy,
    shards: manifests.map((manifest, index) => {
      const { from, to } = plan.shards[index] ?? {};
      return {
        shard: manifest.shard,
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        stats: manifest.stats,
        ...(manifest.counts === undefined ? {} : { counts: manifest.counts }),
        manifest: shardManifestKey(run.runId, manifest.shard),
        outputs: Object.fromEntries(
          SHARD_OUTPUT_NAMES.map((name) => {
            const { key, bytes } = manifest.outputs[name];
            return [name, { key, bytes }];
          }),
        ),
      };
    }),
  };
}
