import { RecordStore } from './columns.js';
import { formatSlot, ID_NUMBER, type IdKind, newIdSlot } from './ids.js';
import { canonicalLimitationPeriod, LimitationCutoff, limitationMonths } from './limitation.js';
import { newFieldsSlot, readRecordFields } from './normalise.js';
import { orderSide } from './order.js';
import { ColumnarOutcome, type MatchOutcome, type RejectedEntry, reasonCounts } from './outcome.js';
import { OutcomeSink } from './outcome-sink.js';
import { acquireScratch, type MatchScratch, releaseScratch } from './scratch.js';
import { REASON_NOTHING_ELIGIBLE, sweepChronological, sweepMonthFirst } from './sweep.js';
import type { MatchStats, Policy, RecordSource } from './types.js';

/**
 * Receives one partition's outputs as soon as it is matched (partition-at-a-time runs). The
 * outcome's record indices refer to that partition only, and its records are released once this
 * returns, so it must be consumed (serialised) before returning, never kept. A call may carry
 * only rejections (records read between partitions, or after the last one).
 */
export type PartitionSink = (part: MatchOutcome) => void;

/**
 * Where each record read sat in the caller's input (by read position), when the input was
 * reordered before being streamed: rejected records are then listed in the caller's order.
 */
export interface InputPositions {
  readonly accrual: Int32Array;
  readonly payment: Int32Array;
}

/** Records rejected between partitions are handed on in batches of this many. */
const REJECTED_BATCH = 1024;

/**
 * One matching run, fed one record at a time, partition by partition (the whole input is one
 * partition without a partition field). For each partition, in this order:
 *
 *     beginPartition · acceptAccrual per accrual · closeAccruals · acceptPayment per payment · endPartition
 *
 * and, at any time, `rejectRead` for a record the caller refuses (unusable or out-of-order
 * partition value). One set of ingest columns serves both sides: `closeAccruals` orders the
 * accruals into the sweep columns before the payments arrive; `endPartition` orders the payments
 * and sweeps. `finish` returns the outcome and frees the scratch space.
 *
 * Every record read is kept (outputs refer to records by read position): until the run finishes,
 * or — given `onPartition` — until its partition is handed on, so that only the partition being
 * collected is held.
 */
export class MatchSession {
  private readonly accruals = new RecordStore();
  private readonly payments = new RecordStore();
  private readonly scratch: MatchScratch = withoutLimit(acquireScratch());
  private sink = new OutcomeSink();
  private readonly fields = newFieldsSlot();
  private rejectedAccruals: RejectedEntry[] = [];
  private rejectedPayments: RejectedEntry[] = [];
  private collecting = false;
  private released = false;
  /** Outputs already handed to the partition sink (partition-at-a-time runs). */
  private readonly emitted = {
    matched: 0,
    sameMonth: 0,
    unmatched: 0,
    unpaid: 0,
    rejected: 0,
    unmatchedReasons: [0, 0, 0],
    unpaidReasons: [0, 0, 0],
  };
  /** The limitation period applied (canonical), see {@link limit}. */
  private limitationPeriod: string | undefined;
  private peakHeld = 0;

  constructor(
    private readonly policy: Policy,
    private readonly partitionBy: string | undefined,
    private readonly onPartition?: PartitionSink,
    private readonly inputPositions?: InputPositions,
  ) {}

  /** Most source records held at once so far: the run's memory bound in records (tests, benchmarks). */
  get peakRecordsHeld(): number {
    this.notePeak();
    return this.peakHeld;
  }

  private notePeak(): void {
    const held = this.accruals.held + this.payments.held;
    if (held > this.peakHeld) this.peakHeld = held;
  }

  /**
   * Applies a limitation period (SPEC §7) to the whole run: call before the first partition.
   * Throws a TypeError for a period that is not whole years and/or months.
   */
  limit(period: string): void {
    this.scratch.sweep.cutoff = new LimitationCutoff(limitationMonths(period));
    this.limitationPeriod = canonicalLimitationPeriod(period);
  }

  beginPartition(): void {
    this.collecting = true;
    this.scratch.batch.reset();
  }

  acceptAccrual(record: unknown): void {
    this.accept('accrual', this.accruals.keep(record), record);
  }

  acceptPayment(record: unknown): void {
    this.accept('payment', this.payments.keep(record), record);
  }

  /** Validates a record into the batch, or rejects it (a readable id still counts for duplicates). */
  private accept(source: RecordSource, seq: number, record: unknown): void {
    const fields = this.fields;
    const reason = readRecordFields(record, fields);
    if (reason === undefined) {
      this.scratch.batch.add(fields, seq);
      return;
    }
    if (fields.idValid) this.scratch.batch.addRejectedId(fields.id);
    this.reject(source, seq, record, reason);
  }

  /** Rejects a record the caller refused (unusable or out-of-order partition value). */
  rejectRead(source: RecordSource, record: unknown, reason: string): void {
    this.reject(source, (source === 'accrual' ? this.accruals : this.payments).keep(record), record, reason);
    // Between partitions nothing can be rejected later with an earlier read position, so a long
    // run of unusable records (say, thousands without the partition field) is handed on in batches.
    if (
      this.onPartition !== undefined &&
      !this.collecting &&
      this.rejectedAccruals.length + this.rejectedPayments.length >= REJECTED_BATCH
    ) {
      this.emit();
    }
  }

  private reject(source: RecordSource, seq: number, record: unknown, reason: string): void {
    const accrual = source === 'accrual';
    const positions = this.inputPositions;
    const position =
      positions === undefined ? seq : ((accrual ? positions.accrual : positions.payment)[seq] as number);
    (accrual ? this.rejectedAccruals : this.rejectedPayments).push({ source, position, record, reason });
  }

  /** Orders the partition's accruals into the sweep columns and groups them by month. */
  closeAccruals(): void {
    const { batch, order, sweep } = this.scratch;
    sweep.sizeAccruals(batch.length);
    const count = orderSide(batch, order, sweep.accrualOrder);
    this.rejectDuplicates('accrual');
    sweep.loadAccruals(batch, count, this.sink);
    batch.reset();
  }

  /** Orders the partition's payments, sweeps the partition and appends its outputs. */
  endPartition(): void {
    const { batch, order, sweep } = this.scratch;
    sweep.sizePayments(batch.length);
    const count = orderSide(batch, order, sweep.paymentOrder);
    this.rejectDuplicates('payment');
    sweep.loadPayments(batch, count, this.sink);
    this.collecting = false;
    const sink = this.sink;
    const { accrualCount, paymentCount } = sweep;
    const matchedBefore = sink.matchPayment.length;
    sink.sweep = sweep;
    if (paymentCount > 0 && accrualCount > 0) {
      sink.reserveMatches(Math.min(accrualCount, paymentCount));
      if (this.policy === 'month-first') sweepMonthFirst(sweep, sink);
      else sweepChronological(sweep, sink);
    } else {
      for (let p = 0; p < paymentCount; p++) sink.unmatched(p, REASON_NOTHING_ELIGIBLE);
    }
    sink.unpaid(accrualCount - (sink.matchPayment.length - matchedBefore));
    if (this.onPartition !== undefined) this.emit();
  }

  private rejectDuplicates(source: RecordSource): void {
    const { batch, order } = this.scratch;
    if (order.duplicates === 0) return;
    const records = source === 'accrual' ? this.accruals : this.payments;
    const id = newIdSlot();
    let other = 0;
    for (let pos = 0; pos < batch.length; pos++) {
      const kind = batch.kind[pos] as IdKind;
      if (kind === ID_NUMBER) {
        id.num = batch.num[pos] as number;
      } else {
        while ((batch.otherPos[other] as number) < pos) other++;
        id.str = batch.otherStr[other] as string;
      }
      if (!order.isDuplicate(batch, pos)) continue;
      id.kind = kind;
      const seq = batch.seq[pos] as number;
      this.reject(source, seq, records.at(seq), `duplicate id ${formatSlot(id)}`);
    }
  }

  /**
   * Partition-at-a-time runs: hands everything produced since the last call (one partition's
   * outputs, rejections) to `onPartition`, then releases its records and starts a fresh sink.
   * Rejections are in read order per source, and every later one was read later, so the
   * concatenation of what is handed on equals a whole run's `rejected()` split by source.
   */
  private emit(): void {
    const onPartition = this.onPartition as PartitionSink;
    const sink = this.sink;
    const rejected = [...inReadOrder(this.rejectedAccruals), ...inReadOrder(this.rejectedPayments)];
    this.rejectedAccruals = [];
    this.rejectedPayments = [];
    rebase(sink.matchPayment.view(), this.payments.base);
    rebase(sink.unmatchedPayments.view(), this.payments.base);
    rebase(sink.matchAccrual.view(), this.accruals.base);
    rebase(sink.unpaidAccruals.view(), this.accruals.base);
    const matched = sink.matchPayment.length;
    const part = this.outcomeOf(sink, rejected, {
      accruals: this.accruals.held,
      payments: this.payments.held,
      matched,
      sameMonth: sink.sameMonth,
      oldest: matched - sink.sameMonth,
      unmatched: sink.unmatchedPayments.length,
      unpaid: sink.unpaidAccruals.length,
      rejected: rejected.length,
      reasons: reasonCounts(sink.unmatchedReasonCounts, sink.unpaidReasonCounts),
      durationMs: 0,
    });
    const { emitted } = this;
    emitted.matched += matched;
    emitted.sameMonth += sink.sameMonth;
    emitted.unmatched += sink.unmatchedPayments.length;
    emitted.unpaid += sink.unpaidAccruals.length;
    emitted.rejected += rejected.length;
    addCounts(emitted.unmatchedReasons, sink.unmatchedReasonCounts);
    addCounts(emitted.unpaidReasons, sink.unpaidReasonCounts);
    this.notePeak();
    this.sink = new OutcomeSink();
    try {
      onPartition(part);
    } finally {
      this.accruals.release();
      this.payments.release();
    }
  }

  private outcomeOf(sink: OutcomeSink, rejected: RejectedEntry[], stats: MatchStats): ColumnarOutcome {
    return new ColumnarOutcome({
      policy: this.policy,
      partitionBy: this.partitionBy,
      limitationPeriod: this.limitationPeriod,
      accruals: this.accruals.snapshot(),
      payments: this.payments.snapshot(),
      matchPayment: sink.matchPayment.view(),
      matchAccrual: sink.matchAccrual.view(),
      matchRule: sink.matchRule.view(),
      matchPaymentDate: sink.matchPaymentDate.view(),
      matchAccrualDate: sink.matchAccrualDate.view(),
      unmatchedPayments: sink.unmatchedPayments.view(),
      unmatchedPaymentDates: sink.unmatchedPaymentDates.view(),
      unmatchedPaymentReasons: sink.unmatchedPaymentReasons.view(),
      unpaidAccruals: sink.unpaidAccruals.view(),
      unpaidAccrualDates: sink.unpaidAccrualDates.view(),
      unpaidAccrualReasons: sink.unpaidAccrualReasons.view(),
      dates: sink.dates.view(),
      rejected,
      stats,
    });
  }

  /** Gives the scratch space back when a run ends early (an input failed). */
  abandon(): void {
    this.releaseOnce();
  }

  private releaseOnce(): void {
    if (this.released) return;
    this.released = true;
    releaseScratch(this.scratch);
  }

  /**
   * Finishes the run; `durationMs` is the time the caller measured inside the matcher. In a
   * partition-at-a-time run, what is left (rejections after the last partition) is handed to
   * `onPartition` first, and the outcome returned has the whole run's stats but no records.
   */
  finish(durationMs: number): ColumnarOutcome {
    this.releaseOnce();
    if (this.onPartition !== undefined && this.rejectedAccruals.length + this.rejectedPayments.length > 0) {
      this.emit();
    }
    this.notePeak();
    const sink = this.sink;
    const { emitted } = this;
    const rejected = [...inReadOrder(this.rejectedAccruals), ...inReadOrder(this.rejectedPayments)];
    const matched = emitted.matched + sink.matchPayment.length;
    const sameMonth = emitted.sameMonth + sink.sameMonth;
    return this.outcomeOf(sink, rejected, {
      accruals: this.accruals.read,
      payments: this.payments.read,
      matched,
      sameMonth,
      oldest: matched - sameMonth,
      unmatched: emitted.unmatched + sink.unmatchedPayments.length,
      unpaid: emitted.unpaid + sink.unpaidAccruals.length,
      rejected: emitted.rejected + rejected.length,
      reasons: reasonCounts(
        addCounts([...emitted.unmatchedReasons], sink.unmatchedReasonCounts),
        addCounts([...emitted.unpaidReasons], sink.unpaidReasonCounts),
      ),
      durationMs,
    });
  }
}

/** Scratch is reused between runs: a run starts without the previous run's limitation period. */
function withoutLimit(scratch: MatchScratch): MatchScratch {
  scratch.sweep.cutoff = undefined;
  return scratch;
}

/** Adds `more` to `into` element-wise; returns `into`. */
function addCounts(into: number[], more: readonly number[]): number[] {
  for (let i = 0; i < more.length; i++) into[i] = (into[i] ?? 0) + (more[i] as number);
  return into;
}

/** Turns read positions into indices into the records held from read position `base`. */
function rebase(indices: Int32Array, base: number): void {
  if (base === 0) return;
  for (let i = 0; i < indices.length; i++) indices[i] = (indices[i] as number) - base;
}

/** Rejections are recorded as found; duplicates are found later, so restore read order. */
function inReadOrder(entries: RejectedEntry[]): RejectedEntry[] {
  for (let i = 1; i < entries.length; i++) {
    if ((entries[i] as RejectedEntry).position < (entries[i - 1] as RejectedEntry).position) {
      return entries.sort((a, b) => a.position - b.position);
    }
  }
  return entries;
}
