import { isOutage } from '../aws/aws-errors.js';
import type { JobLogger, MatchingJobOutcome } from './job-outcome.js';
import { describeFailure, type MatchingRun, RunConflictError, type RunLedger } from './ledger.js';
import { discardOutputs, type OutputBucket } from './output-bucket.js';
import type { AnyRunOutputKeys } from './outputs.js';

/**
 * `markSucceeded` failed after all outputs were written. Its write may have landed (only the
 * answer was lost), so the run is read back before anything is deleted:
 * - succeeded: the write landed; the job succeeded.
 * - still `running` with our claim (same attempt): the write did not land. The run is marked
 *   failed first, so a late write can no longer make it succeeded, and only then are the outputs
 *   removed.
 * - claimed by another worker since (taken over as stale): its outputs and ledger item are left alone.
 * - unreadable: nothing is deleted and the error is thrown; the invocation's retry takes the run back.
 */
export async function settleUnrecordedSuccess(args: {
  readonly run: MatchingRun;
  readonly keys: AnyRunOutputKeys;
  readonly error: unknown;
  readonly succeeded: MatchingJobOutcome;
  readonly ledger: RunLedger;
  readonly bucket: OutputBucket;
  readonly log: JobLogger;
}): Promise<MatchingJobOutcome> {
  const { run, keys, error, succeeded, ledger, bucket, log } = args;
  const { runId } = run;
  const reason = describeFailure(error);
  let current: MatchingRun | undefined;
  try {
    current = await ledger.get(runId);
  } catch (readError) {
    log.error('matching run outputs are complete but the outcome could not be recorded', {
      runId,
      reason,
      error: readError,
    });
    throw error;
  }
  if (current?.status === 'succeeded') {
    log.info('matching run succeeded (recorded, though the answer was lost)', { runId, reason });
    return succeeded;
  }
  if (current?.status !== 'running' || current.attempts !== run.attempts) {
    log.warn('matching run was taken over while its success was being recorded', {
      runId,
      status: current?.status,
      reason,
    });
    return {
      status: 'skipped',
      runId,
      reason: `run is ${current?.status ?? 'gone'}; another attempt owns it`,
    };
  }
  log.error('matching run failed', { runId, phase: 'recording success', reason, error });
  try {
    await ledger.markFailed(runId, reason);
  } catch (failError) {
    // The late write may have landed after all, between the read and markFailed: the refusal
    // carries the run as DynamoDB found it.
    if (failError instanceof RunConflictError && failError.run.status === 'succeeded') return succeeded;
    throw failError;
  }
  await discardOutputs(bucket, keys, log, runId);
  return { status: 'failed', runId, reason, transient: isOutage(error) };
}
