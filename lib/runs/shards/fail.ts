import { ConflictError, NotFoundError } from '../../errors.js';
import { logger as defaultLogger } from '../../logger.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import { sanitizeFailureReason } from '../ledger.js';
import { discardOutputs } from '../output-bucket.js';
import { shardedRunOutputKeys } from '../outputs.js';
import { readPlan } from './layout.js';
import type { FailInput, ShardStepDeps } from './types.js';

/**
 * The fail step of a sharded run (the state machine's Catch of a shard, of the plan or of the
 * merge): records the run `failed` with a one-line reason, naming the shard when a shard failed
 * (`shard 3 of 8 failed: <cause>`), only while the run is still `running`: the first failure wins,
 * a later one (another shard, the Catch after a merge that already recorded its failure, a retry
 * of this step) changes nothing and is `skipped`. Then deletes any run-level outputs. The shards'
 * own outputs stay (they are not linked from anything once the run failed; the bucket's lifecycle
 * rule removes them, and a retry of the run overwrites them), as does `plan.json`.
 */
export async function failShardedRun(input: FailInput, deps: ShardStepDeps): Promise<MatchingJobOutcome> {
  const log = deps.logger ?? defaultLogger;
  const { runId, shard } = input;
  const reason = sanitizeFailureReason(
    shard === undefined
      ? cause(input)
      : `shard ${shard} of ${await shardCount(runId, deps)} failed: ${cause(input)}`,
  );
  const skipped = (why: string): MatchingJobOutcome => {
    log.info('sharded run not failed: no longer running', { runId, reason, why });
    return { status: 'skipped', runId, reason: why };
  };
  const current = await deps.ledger.get(runId);
  if (current?.status !== 'running') return skipped(`run is ${current?.status ?? 'unknown'}`);
  try {
    // markFailed answers a run already failed with that run: another failure won meanwhile.
    const failed = await deps.ledger.markFailed(runId, reason, ['running']);
    if (failed.error !== reason) return skipped(`run already failed: ${failed.error}`);
  } catch (error) {
    if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
    return skipped(error.message);
  }
  log.error('sharded run failed', { runId, shard, reason });
  await discardOutputs(deps.bucket, shardedRunOutputKeys(runId), log, runId);
  return { status: 'failed', runId, reason, transient: false };
}

/**
 * The caught error as one line: Step Functions' `Cause`, else its `Error` name. A Lambda task's
 * `Cause` is the function's error as JSON (`errorType`, `errorMessage`, `stackTrace`): only the
 * type and message are kept, never the stack.
 */
function cause({ error }: FailInput): string {
  const text = error?.Cause?.trim() || error?.Error?.trim();
  if (text === undefined || text === '') return 'unknown failure';
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      const { errorType, errorMessage } = parsed as { errorType?: unknown; errorMessage?: unknown };
      return typeof errorType === 'string' ? `${errorType}: ${String(errorMessage)}` : String(errorMessage);
    }
  } catch {
    // Not JSON: the message itself.
  }
  return text;
}

/** How many shards the plan has, or `?` when it cannot be read (the reason is still recorded). */
async function shardCount(runId: string, deps: ShardStepDeps): Promise<number | '?'> {
  try {
    return (await readPlan(deps, runId)).shards.length;
  } catch {
    return '?';
  }
}
