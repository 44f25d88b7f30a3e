import { compareSlots, copySlot, formatSlot, type IdSlot, newIdSlot } from './ids.js';
import { isRecordObject, notAnObjectReason } from './normalise.js';
import { partitionPath, readPartitionInto } from './partition-values.js';
import { type RecordInput, RecordStream, type Stopwatch } from './record-stream.js';
import type { MatchSession } from './session.js';
import type { RecordSource } from './types.js';

/**
 * Feeds `session` from two inputs, one record at a time, partition by partition. Both inputs
 * arrive sorted by `(partition, date, id)`, so they are merged by partition value like two sorted
 * runs: a partition is matched as soon as both inputs have moved past it, and its scratch space is
 * reused for the next one, so working memory is bounded by the largest partition. Without a
 * partition field every record belongs to one partition, the whole input.
 *
 * Order inside a partition is not trusted (the session sorts when needed), but partitions must
 * arrive in ascending BSON order. A record whose partition value is lower than the partition being
 * collected cannot be matched any more (its partition is finished, possibly empty) and is rejected
 * as `out of order: partition … already processed` rather than mis-matched.
 */
export async function feedSession(
  session: MatchSession,
  accrualInput: RecordInput,
  paymentInput: RecordInput,
  partitionBy: string | undefined,
  stopwatch: Stopwatch,
): Promise<void> {
  const accruals = new PartitionCursor(
    'accrual',
    new RecordStream(accrualInput, stopwatch),
    session,
    partitionBy,
  );
  const payments = new PartitionCursor(
    'payment',
    new RecordStream(paymentInput, stopwatch),
    session,
    partitionBy,
  );
  // Awaiting only real promises keeps synchronous inputs free of microtasks.
  let pending = accruals.collect(undefined);
  if (pending !== undefined) await pending;
  pending = payments.collect(undefined);
  if (pending !== undefined) await pending;
  const current = newIdSlot();
  while (accruals.hasHead || payments.hasHead) {
    const lowest =
      !payments.hasHead ||
      (accruals.hasHead && compareSlots(accruals.headPartition, payments.headPartition) <= 0)
        ? accruals.headPartition
        : payments.headPartition;
    copySlot(lowest, current);
    session.beginPartition();
    pending = accruals.collect(current);
    if (pending !== undefined) await pending;
    session.closeAccruals();
    pending = payments.collect(current);
    if (pending !== undefined) await pending;
    session.endPartition();
  }
}

/** Reads a record's partition value into `slot`; returns why it has none that can be used. */
type PartitionReader = (record: unknown, slot: IdSlot) => string | undefined;

function partitionReader(partitionBy: string | undefined): PartitionReader {
  // Without a field every slot keeps its initial value: one partition, and field problems
  // (a record that is not an object, too) are the session's to report.
  if (partitionBy === undefined) return () => undefined;
  const path = partitionPath(partitionBy);
  return (record, slot) =>
    isRecordObject(record) ? readPartitionInto(record, path, partitionBy, slot) : notAnObjectReason(record);
}

/**
 * One input read partition by partition. `collect(current)` hands the session every record of
 * partition `current` (starting with the one already read ahead, if it belongs there) and stops
 * at the first record of a later partition, which it keeps as the new head.
 */
class PartitionCursor {
  readonly headPartition = newIdSlot();
  hasHead = false;
  private headRecord: unknown;
  private current: IdSlot | undefined;
  private readonly slot = newIdSlot();
  private readonly readPartition: PartitionReader;
  private readonly accept: (record: unknown) => void;
  private readonly visit = (record: unknown): boolean => {
    const reason = this.readPartition(record, this.slot);
    if (reason !== undefined) {
      this.session.rejectRead(this.source, record, reason);
      return false;
    }
    const order = this.current === undefined ? 1 : compareSlots(this.slot, this.current);
    if (order === 0) {
      this.accept(record);
      return false;
    }
    if (order < 0) {
      const reason = `out of order: partition ${formatSlot(this.slot)} already processed`;
      this.session.rejectRead(this.source, record, reason);
      return false;
    }
    copySlot(this.slot, this.headPartition);
    this.headRecord = record;
    this.hasHead = true;
    return true;
  };

  constructor(
    private readonly source: RecordSource,
    private readonly stream: RecordStream,
    private readonly session: MatchSession,
    partitionBy: string | undefined,
  ) {
    this.readPartition = partitionReader(partitionBy);
    this.accept =
      source === 'accrual'
        ? (record) => session.acceptAccrual(record)
        : (record) => session.acceptPayment(record);
  }

  /**
   * Accepts the records of partition `current` (none when undefined: just find the first head).
   * Runs synchronously while the input does; returns a promise only after an asynchronous step.
   */
  collect(current: IdSlot | undefined): Promise<void> | undefined {
    this.current = current;
    if (this.hasHead) {
      if (current === undefined || compareSlots(this.headPartition, current) !== 0) return undefined;
      this.hasHead = false;
      this.accept(this.headRecord);
      this.headRecord = undefined;
    }
    if (this.stream.done) return undefined;
    return this.stream.pullUntil(this.visit);
  }
}
