import type { MatchOutcome } from './outcome.js';
import { inOrder, partitionOrder } from './partition-order.js';
import { feedSession } from './partition-stream.js';
import { type RecordInput, Stopwatch } from './record-stream.js';
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
  if (period !== undefined) session.limit(period);
}

/**
 * Matches payments to accruals (SPEC §3), reading each input once, one record at a time: MongoDB
 * cursors, async or sync generators, arrays. Inputs sorted by `(date, id)` take a fast path; any
 * other order is sorted in memory, so order never changes the result. Records that cannot take
 * part are listed in `rejected()`, never dropped; the run never throws because of data (only for
 * invalid options, or when an input throws).
 *
 * With `partitionBy`, streamed inputs must be sorted (at least grouped in ascending order) by that
 * field first, as a `(partition, date, id)` index returns them: each partition is matched as soon
 * as both inputs have passed it, and a record whose partition comes back after it was processed
 * is rejected as out of order. Two arrays may be in any order: they are streamed in partition
 * order (see {@link partitionOrder}), and rejected records are still listed in array order.
 *
 * `stats.durationMs` counts the matcher's own work, not the time spent waiting for input.
 *
 * @example
 * const outcome = await matchPayments(accrualCursor, paymentCursor, { policy: 'month-first' });
 * for (const { payment, accrual, rule } of outcome.matches()) console.log(payment.id, accrual.id, rule);
 */
export async function matchPayments(
  accruals: RecordInput,
  payments: RecordInput,
  options?: MatchOptions,
): Promise<MatchOutcome> {
  const stopwatch = new Stopwatch();
  const policy = policyOf(options);
  const partitionBy = partitionFieldOf(options);
  if (partitionBy !== undefined && Array.isArray(accruals) && Array.isArray(payments)) {
    const accrualOrder = partitionOrder(accruals, partitionBy);
    const paymentOrder = partitionOrder(payments, partitionBy);
    const session = new MatchSession(policy, partitionBy, undefined, {
      accrual: accrualOrder,
      payment: paymentOrder,
    });
    return run(
      session,
      inOrder(accruals, accrualOrder),
      inOrder(payments, paymentOrder),
      partitionBy,
      stopwatch,
      options,
    );
  }
  return run(new MatchSession(policy, partitionBy), accruals, payments, partitionBy, stopwatch, options);
}

/** Feeds the session both inputs and finishes it; gives its scratch space back if an input fails. */
async function run(
  session: MatchSession,
  accruals: RecordInput,
  payments: RecordInput,
  partitionBy: string | undefined,
  stopwatch: Stopwatch,
  options: MatchOptions | undefined,
): Promise<MatchOutcome> {
  try {
    limitSession(session, options);
    await feedSession(session, accruals, payments, partitionBy, stopwatch);
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
 * before all rejected payments, so split them by `source` to rebuild that list), for inputs
 * grouped by partition: arrays are not regrouped here, they are streams like any other. The time
 * spent in `onPartition` is not in `durationMs`.
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
  const session = new MatchSession(policy, partitionBy, (part) => {
    stopwatch.pause();
    try {
      onPartition(part);
    } finally {
      stopwatch.resume();
    }
  });
  const { stats } = await run(session, accruals, payments, partitionBy, stopwatch, options);
  return { policy, partitionBy, stats, peakRecordsHeld: session.peakRecordsHeld };
}
