import { compareSlots, copySlot, formatSlot, type IdSlot, newIdSlot } from './ids.js';
import { isRecordObject, notAnObjectReason } from './normalise.js';
import { partitionPath, readPartitionInto } from './partition-values.js';
import { type RecordInput, RecordStream, type Stopwatch } from './record-stream.js';
import type { MatchSession } from './session.js';
import type { RecordSource } from './types.js';

/**
 * Streaming partitioning for {@link matchPayments}: both inputs arrive sorted by
 * `(partition, date, id)`, so they are merged by partition value like two sorted runs. A
 * partition is matched as soon as both inputs have moved past it, and its scratch space is
 * reused for the next one, so working memory is bounded by the largest partition.
 *
 * Order inside a partition is not trusted (the session sorts when needed), but partitions must
 * arrive in ascending BSON order. A record whose partition value is lower than the partition being
 * collected cannot be matched any more (its partition is finished, possibly empty) and is rejected
 * as `out of order: partition … already processed` rather than mis-matched.
 */
export async function feedPartitionStreams(
  session: MatchSession,
  accrualInput: RecordInput,
  paymentInput: RecordInput,
  field: string,
  stopwatch: Stopwatch,
): Promise<void> {
  const path = partitionPath(field);
  const accruals = new PartitionCursor(
    'accrual',
    new RecordStream(accrualInput, stopwatch),
    session,
    path,
    field,
  );
  const payments = new PartitionCursor(
    'payment',
    new RecordStream(paymentInput, stopwatch),
    session,
    path,
    field,
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
    pending = payments.collect(current);
    if (pending !== undefined) await pending;
    session.endPartition();
  }
}

/**
 * One input read partition by partition. `collect(current)` hands the session every record of
 * partition `current` (starting with the one already read ahead, if it belongs there) and stops
 * at the first record of a later partition, which it keeps as the new head.
 */
class PartitionCursor {
  readonly headPartition = newIdSlot();
  private headRecord: unknown;
  private headSeq = -1;
  hasHead = false;
  private current: IdSlot | undefined;
  private readonly slot = newIdSlot();
  private readonly visit: (record: unknown, seq: number) => boolean;

  constructor(
    private readonly source: RecordSource,
    private readonly stream: RecordStream,
    private readonly session: MatchSession,
    path: readonly string[],
    field: string,
  ) {
    this.visit = (record, seq) => {
      const slot = this.slot;
      const reason = isRecordObject(record)
        ? readPartitionInto(record, path, field, slot)
        : notAnObjectReason(record);
      if (reason !== undefined) {
        this.session.rejectRead(this.source, record, seq, reason);
        return false;
      }
      const order = this.current === undefined ? 1 : compareSlots(slot, this.current);
      if (order === 0) {
        this.accept(record, seq);
        return false;
      }
      if (order < 0) {
        this.session.rejectRead(
          this.source,
          record,
          seq,
          `out of order: partition ${formatSlot(slot)} already processed`,
        );
        return false;
      }
      copySlot(slot, this.headPartition);
      this.headRecord = record;
      this.headSeq = seq;
      this.hasHead = true;
      return true;
    };
  }

  private accept(record: unknown, seq: number): void {
    if (this.source === 'accrual') this.session.acceptAccrual(record, seq);
    else this.session.acceptPayment(record, seq);
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
      this.accept(this.headRecord, this.headSeq);
      this.headRecord = undefined;
    }
    if (this.stream.done) return undefined;
    return this.stream.pullUntil(this.visit);
  }
}
