import type { MatchOutcome } from './outcome.js';
import { feedPartitioned } from './partition-groups.js';
import { feedPartitionStreams } from './partition-stream.js';
import { consumeAll, type RecordInput, Stopwatch } from './record-stream.js';
import { MatchSession, type PartitionSink } from './session.js';
import { DEFAULT_POLICY, type MatchOptions, type MatchStats, POLICIES, type Policy } from './types.js';

function policyOf(options: MatchOptions | undefined): Policy {
  const policy = options?.policy ?? DEFAULT_POLICY;
  if (!POLICIES.includes(policy)) throw new TypeError(`unknown matching policy ${JSON.stringify(policy)}`);
  return policy;
}

function partitionFieldOf(options: MatchOptions | undefined): string | undefined {
  const field = options?.partitionBy;
  if (field === undefined) return undefined;
  if (typeof field !== 'string' || field === '' || field.split('.').includes('')) {
    throw new TypeError(`invalid partition field ${JSON.stringify(field)}`);
  }
  return field;
}

/** Applies `options.limitationPeriod` (a TypeError for an invalid one, as for an unknown policy). */
function limitSession(session: MatchSession, options: MatchOptions | undefined): void {
  const period = options?.limitationPeriod;
  if (period === undefined) return;
  try {
    session.limit(period);
  } catch (error) {
    session.abandon();
    throw error;
  }
}

/**
 * Matches payments to accruals (SPEC §3) from two in-memory collections in any order.
 * Records that cannot take part are listed in `rejected()`, never dropped; the run never throws
 * because of data (only for invalid options).
 *
 * With `partitionBy`, records are grouped by that field here, whatever their input order.
 *
 * @example
 * const outcome = matchRecords(accruals, payments, { policy: 'month-first' });
 * for (const { payment, accrual, rule } of outcome.matches()) console.log(payment.id, accrual.id, rule);
 */
export function matchRecords(
  accruals: readonly unknown[],
  payments: readonly unknown[],
  options?: MatchOptions,
): MatchOutcome {
  const stopwatch = new Stopwatch();
  const policy = policyOf(options);
  const partitionBy = partitionFieldOf(options);
  const session = new MatchSession(policy, partitionBy, { accruals, payments });
  limitSession(session, options);
  if (partitionBy !== undefined) {
    feedPartitioned(session, accruals, payments, partitionBy);
  } else {
    session.beginPartition();
    session.acceptAccrualsOf(accruals, 0, accruals.length);
    session.acceptPaymentsOf(payments, 0, payments.length);
    session.endPartition();
  }
  return session.finish(stopwatch.totalMs());
}

/**
 * Matches payments to accruals (SPEC §3) reading each input once, as a stream (MongoDB cursors,
 * generators). Inputs sorted by `(date, id)` take a fast path; any other order is sorted in
 * memory, so order never changes the result. Two arrays are handled as {@link matchRecords} does.
 *
 * With `partitionBy`, streamed inputs must be sorted (at least grouped in ascending order) by that
 * field first, as a `(partition, date, id)` index returns them: each partition is matched as soon
 * as both inputs have passed it, so working memory is bounded by the largest partition. A record
 * whose partition comes back after it was processed is rejected as out of order.
 *
 * `stats.durationMs` counts the matcher's own work, not the time spent waiting for input.
 */
export async function matchPayments(
  accruals: RecordInput,
  payments: RecordInput,
  options?: MatchOptions,
): Promise<MatchOutcome> {
  // Whole collections in memory (e.g. files read by the command line) need no stream discipline.
  if (Array.isArray(accruals) && Array.isArray(payments)) return matchRecords(accruals, payments, options);
  const stopwatch = new Stopwatch();
  const policy = policyOf(options);
  const partitionBy = partitionFieldOf(options);
  // Arrays are read in index order, so read positions index straight into them.
  const session = new MatchSession(policy, partitionBy, {
    ...(Array.isArray(accruals) ? { accruals } : {}),
    ...(Array.isArray(payments) ? { payments } : {}),
  });
  limitSession(session, options);
  try {
    if (partitionBy !== undefined) {
      await feedPartitionStreams(session, accruals, payments, partitionBy, stopwatch);
    } else {
      session.beginPartition();
      if (Array.isArray(accruals)) session.acceptAccrualsOf(accruals, 0, accruals.length);
      else await consumeAll(accruals, stopwatch, (record, seq) => session.acceptAccrual(record, seq));
      if (Array.isArray(payments)) session.acceptPaymentsOf(payments, 0, payments.length);
      else await consumeAll(payments, stopwatch, (record, seq) => session.acceptPayment(record, seq));
      session.endPartition();
    }
  } catch (error) {
    session.abandon();
    throw error;
  }
  return session.finish(stopwatch.totalMs());
}

/** What {@link matchPaymentsByPartition} returns once every partition was handed on. */
export interface PartitionedRun {
  readonly policy: Policy;
  readonly partitionBy: string;
  /** The whole run's stats, as {@link matchPayments} reports them. */
  readonly stats: MatchStats;
  /** Most source records the matcher held at once: about the largest partition (tests, benchmarks). */
  readonly peakRecordsHeld: number;
}

/**
 * {@link matchPayments} with a partition field, one partition at a time: as each partition is
 * matched, its outputs go to `onPartition` (see {@link PartitionSink}; consume them before
 * returning) and its source records are released, so the records held are those of one partition
 * (plus records rejected while it was read), not the collection.
 *
 * Concatenating what `onPartition` receives gives exactly the outputs of {@link matchPayments} on
 * the same inputs: matches, unmatched payments and unpaid accruals in the same order; rejected
 * accruals and rejected payments each in the same order (a whole run lists all rejected accruals
 * before all rejected payments, so split them by `source` to rebuild that list). Inputs are read
 * as streams even when they are arrays. The time spent in `onPartition` is not in `durationMs`.
 */
export async function matchPaymentsByPartition(
  accruals: RecordInput,
  payments: RecordInput,
  options: MatchOptions & { readonly partitionBy: string },
  onPartition: PartitionSink,
): Promise<PartitionedRun> {
  const stopwatch = new Stopwatch();
  const policy = policyOf(options);
  const partitionBy = partitionFieldOf(options);
  if (partitionBy === undefined) throw new TypeError('a partition field is required');
  const session = new MatchSession(policy, partitionBy, undefined, (part) => {
    stopwatch.pause();
    try {
      onPartition(part);
    } finally {
      stopwatch.resume();
    }
  });
  try {
    limitSession(session, options);
    await feedPartitionStreams(session, accruals, payments, partitionBy, stopwatch);
  } catch (error) {
    session.abandon();
    throw error;
  }
  const { stats } = session.finish(stopwatch.totalMs());
  return { policy, partitionBy, stats, peakRecordsHeld: session.peakRecordsHeld };
}
