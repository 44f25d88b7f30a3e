import { RecordStore } from './columns.js';
import { formatSlot, ID_NUMBER, type IdKind, type IdSlot, newIdSlot } from './ids.js';
import { canonicalLimitationPeriod, LimitationCutoff, limitationMonths } from './limitation.js';
import { integerMonthKey, NO_MONTH, yearMonthTextKey } from './months.js';
import { newFieldsSlot, readRecordFields } from './normalise.js';
import { orderSide } from './order.js';
import { ColumnarOutcome, type MatchOutcome, type RejectedEntry, reasonCounts } from './outcome.js';
import { OutcomeSink } from './outcome-sink.js';
import { acquireScratch, type MatchScratch, releaseScratch } from './scratch.js';
import type { SideBatch } from './side-batch.js';
import { REASON_NOTHING_ELIGIBLE, sweepChronological, sweepMonthFirst } from './sweep.js';
import type { MatchStats, Policy, RecordSource } from './types.js';

/** One source's valid records of a partitioned input array, grouped by partition rank. */
export interface PartitionRows {
  readonly source: RecordSource;
  /** Rows of partition `r` are `rows[start[r]..start[r + 1])`, in read order. */
  readonly start: Int32Array;
  readonly rows: Int32Array;
  /** Per partition rank, indices into the whole batch's rejected ids. */
  readonly rejectedIds: ReadonlyMap<number, readonly number[]>;
}

/**
 * Receives one partition's outputs as soon as it is matched (partition-at-a-time runs). The
 * outcome's record indices refer to that partition only, and its records are released once this
 * returns, so it must be consumed (serialised) before returning, never kept. A call may carry
 * only rejections (records read between partitions, or after the last one).
 */
export type PartitionSink = (part: MatchOutcome) => void;

/** Records rejected before any partition is collected are handed on in batches of this many. */
const REJECTED_BATCH = 1024;

const COLLECTING_ACCRUALS = 0;
const COLLECTING_PAYMENTS = 1;
const BETWEEN_PARTITIONS = 2;

/**
 * One matching run. Records arrive grouped by partition (the whole input is one partition when
 * no partition field is used): `beginPartition`, `acceptAccrual` for each accrual of the
 * partition, `acceptPayment` for each payment, `endPartition`. The accruals of a partition are
 * ordered as soon as its first payment arrives, so one set of ingest columns serves both sources;
 * the partition is swept when it ends. `finish` returns the outcome and frees the scratch space.
 */
export class MatchSession {
  private readonly accruals: RecordStore;
  private readonly payments: RecordStore;
  private readonly scratch: MatchScratch = withoutLimit(acquireScratch());
  private sink = new OutcomeSink();
  private readonly fields = newFieldsSlot();
  private rejectedAccruals: RejectedEntry[] = [];
  private rejectedPayments: RejectedEntry[] = [];
  private accrualsRead = 0;
  private paymentsRead = 0;
  private state = BETWEEN_PARTITIONS;
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

  /**
   * `inputs` are the input arrays when the caller has them: read positions then index into them
   * and nothing is copied. Otherwise every record read is kept by the session: until the run
   * finishes, or — given `onPartition` (streamed inputs only) — until its partition is handed to
   * `onPartition`, so only the partition being collected is held.
   */
  constructor(
    private readonly policy: Policy,
    private readonly partitionBy: string | undefined,
    inputs?: { readonly accruals?: readonly unknown[]; readonly payments?: readonly unknown[] },
    private readonly onPartition?: PartitionSink,
  ) {
    if (onPartition !== undefined && (inputs?.accruals !== undefined || inputs?.payments !== undefined)) {
      throw new Error('partition-at-a-time runs read streamed inputs only');
    }
    this.accruals = new RecordStore(inputs?.accruals);
    this.payments = new RecordStore(inputs?.payments);
  }

  /**
   * Most source records held at once so far (kept streamed records, or the input arrays' lengths):
   * the run's memory bound in records. For tests and benchmarks.
   */
  get peakRecordsHeld(): number {
    this.notePeak();
    return this.peakHeld;
  }

  private notePeak(): void {
    const held = this.accruals.records.length + this.payments.records.length;
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
    this.state = COLLECTING_ACCRUALS;
    this.scratch.batch.reset();
  }

  acceptAccrual(record: unknown, seq: number): void {
    if (this.state !== COLLECTING_ACCRUALS)
      throw new Error('accruals of a partition must precede its payments');
    this.accrualsRead++;
    this.accruals.keep(record);
    this.readOne(this.scratch.batch, 'accrual', record, seq);
  }

  acceptPayment(record: unknown, seq: number): void {
    if (this.state !== COLLECTING_PAYMENTS) this.closeAccruals();
    this.paymentsRead++;
    this.payments.keep(record);
    this.readOne(this.scratch.batch, 'payment', record, seq);
  }

  /**
   * The bulk form of {@link acceptAccrual} for the input array given to the session: accepts
   * `records[from..to)`, read at their index.
   */
  acceptAccrualsOf(records: readonly unknown[], from: number, to: number): void {
    if (this.state !== COLLECTING_ACCRUALS)
      throw new Error('accruals of a partition must precede its payments');
    this.accrualsRead += this.readInto(
      this.scratch.batch,
      'accrual',
      this.inputArray('accrual', records),
      from,
      to,
    );
  }

  /** The bulk form of {@link acceptPayment}; see {@link acceptAccrualsOf}. */
  acceptPaymentsOf(records: readonly unknown[], from: number, to: number): void {
    if (this.state !== COLLECTING_PAYMENTS) this.closeAccruals();
    this.paymentsRead += this.readInto(
      this.scratch.batch,
      'payment',
      this.inputArray('payment', records),
      from,
      to,
    );
  }

  /**
   * Partitioned input arrays, step 1: reads the fields of every record that has a partition
   * (`groupOf[i] >= 0`) in input order — which is memory order, far faster than visiting records
   * partition by partition — and groups the valid ones by the rank of their partition.
   */
  readPartitioned(
    source: RecordSource,
    records: readonly unknown[],
    groupOf: Int32Array,
    rankOfGroup: Int32Array,
  ): PartitionRows {
    const whole = source === 'accrual' ? this.scratch.wholeAccruals : this.scratch.wholePayments;
    whole.reset();
    const read = this.readInto(whole, source, this.inputArray(source, records), 0, records.length, groupOf);
    if (source === 'accrual') this.accrualsRead += read;
    else this.paymentsRead += read;
    const partitions = rankOfGroup.length;
    const start = new Int32Array(partitions + 1);
    const rankOfRow = new Int32Array(whole.length);
    for (let row = 0; row < whole.length; row++) {
      const rank = rankOfGroup[groupOf[whole.seq[row] as number] as number] as number;
      rankOfRow[row] = rank;
      start[rank + 1] = (start[rank + 1] as number) + 1;
    }
    for (let r = 0; r < partitions; r++) start[r + 1] = (start[r + 1] as number) + (start[r] as number);
    const cursor = start.slice(0, partitions);
    const rows = new Int32Array(whole.length);
    for (let row = 0; row < whole.length; row++) {
      const rank = rankOfRow[row] as number;
      rows[cursor[rank] as number] = row;
      cursor[rank] = (cursor[rank] as number) + 1;
    }
    const rejectedIds = new Map<number, number[]>();
    whole.rejectedSeqs.forEach((seq, j) => {
      const rank = rankOfGroup[groupOf[seq] as number] as number;
      const list = rejectedIds.get(rank);
      if (list === undefined) rejectedIds.set(rank, [j]);
      else list.push(j);
    });
    return { source, start, rows, rejectedIds };
  }

  /** Partitioned input arrays, step 2: accepts the records of one partition read in step 1. */
  acceptPartitionRows(rows: PartitionRows, rank: number): void {
    if (rows.source === 'accrual' && this.state !== COLLECTING_ACCRUALS) {
      throw new Error('accruals of a partition must precede its payments');
    }
    if (rows.source === 'payment' && this.state !== COLLECTING_PAYMENTS) this.closeAccruals();
    const whole = rows.source === 'accrual' ? this.scratch.wholeAccruals : this.scratch.wholePayments;
    const batch = this.scratch.batch;
    const from = rows.start[rank] as number;
    const to = rows.start[rank + 1] as number;
    batch.reserve(to - from);
    for (let k = from; k < to; k++) batch.appendRow(whole, rows.rows[k] as number);
    for (const j of rows.rejectedIds.get(rank) ?? []) {
      batch.addRejectedId(whole.rejectedIds[j] as IdSlot, whole.rejectedSeqs[j] as number);
    }
  }

  private inputArray(source: RecordSource, records: readonly unknown[]): readonly unknown[] {
    const store = source === 'accrual' ? this.accruals : this.payments;
    if (records !== store.records) throw new Error('bulk input must be the input array given to the session');
    return records;
  }

  /** Validates one record into `batch`, or rejects it (remembering a readable id for duplicates). */
  private readOne(batch: SideBatch, source: RecordSource, record: unknown, seq: number): void {
    const fields = this.fields;
    const reason = readRecordFields(record, fields);
    if (reason === undefined) {
      batch.add(fields, seq);
      return;
    }
    if (fields.idValid) batch.addRejectedId(fields.id, seq);
    (source === 'accrual' ? this.rejectedAccruals : this.rejectedPayments).push({
      source,
      seq,
      record,
      reason,
    });
  }

  /**
   * Reads `records[from..to)` into `batch` (skipping records whose `skip` entry is negative) and
   * returns how many it read. One tight loop handles the common record shape (number id, Date,
   * `YYYY-MM` or integer month) by writing straight into the columns; anything else takes
   * {@link readOne}. On inputs scattered in memory this loop is bound by memory latency, and the
   * less work it does per record the more records the CPU keeps in flight.
   */
  private readInto(
    batch: SideBatch,
    source: RecordSource,
    records: readonly unknown[],
    from: number,
    to: number,
    skip?: Int32Array,
  ): number {
    batch.reserve(to - from);
    const { kind, num, date, month, seq } = batch;
    let pos = batch.length;
    let read = 0;
    for (let i = from; i < to; i++) {
      if (skip !== undefined && (skip[i] as number) < 0) continue;
      read++;
      const record = records[i];
      if (typeof record === 'object' && record !== null) {
        const fields = record as { id?: unknown; date?: unknown; month?: unknown };
        const id = fields.id;
        const value = fields.date;
        if (typeof id === 'number' && id - id === 0 && value instanceof Date) {
          const m = fields.month;
          const ms = value.getTime();
          const key =
            typeof m === 'string' ? yearMonthTextKey(m) : typeof m === 'number' ? integerMonthKey(m) : 0;
          if (key !== NO_MONTH && !Number.isNaN(ms) && !Array.isArray(record)) {
            kind[pos] = ID_NUMBER;
            num[pos] = id === 0 ? 0 : id;
            date[pos] = ms;
            month[pos] = key;
            seq[pos] = i;
            pos++;
            continue;
          }
        }
      }
      batch.length = pos;
      this.readOne(batch, source, record, i);
      pos = batch.length;
    }
    batch.length = pos;
    return read;
  }

  /** Rejects a record read outside any partition (unusable or out-of-order partition value). */
  rejectRead(source: RecordSource, record: unknown, seq: number, reason: string): void {
    if (source === 'accrual') {
      this.accrualsRead++;
      this.accruals.keep(record);
      this.rejectedAccruals.push({ source, seq, record, reason });
    } else {
      this.paymentsRead++;
      this.payments.keep(record);
      this.rejectedPayments.push({ source, seq, record, reason });
    }
    // Between partitions nothing can be rejected later with an earlier read position, so a long
    // run of unusable records (say, thousands without the partition field) is handed on in batches.
    if (
      this.onPartition !== undefined &&
      this.state === BETWEEN_PARTITIONS &&
      this.rejectedAccruals.length + this.rejectedPayments.length >= REJECTED_BATCH
    ) {
      this.emit();
    }
  }

  endPartition(): void {
    if (this.state !== COLLECTING_PAYMENTS) this.closeAccruals();
    this.closePayments();
    this.state = BETWEEN_PARTITIONS;
    const s = this.scratch.sweep;
    const sink = this.sink;
    const accrualCount = s.accrualCount;
    const matchedBefore = sink.matchPayment.length;
    sink.sweep = s;
    if (s.paymentCount > 0 && accrualCount > 0) {
      sink.matchPayment.reserve(Math.min(accrualCount, s.paymentCount));
      sink.matchAccrual.reserve(Math.min(accrualCount, s.paymentCount));
      sink.matchRule.reserve(Math.min(accrualCount, s.paymentCount));
      sink.matchPaymentDate.reserve(Math.min(accrualCount, s.paymentCount));
      sink.matchAccrualDate.reserve(Math.min(accrualCount, s.paymentCount));
      if (this.policy === 'month-first') sweepMonthFirst(s, sink);
      else sweepChronological(s, sink);
    } else {
      for (let p = 0; p < s.paymentCount; p++) sink.unmatched(p, REASON_NOTHING_ELIGIBLE);
    }
    sink.unpaid(accrualCount - (sink.matchPayment.length - matchedBefore));
    if (this.onPartition !== undefined) this.emit();
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
      accruals: this.accruals.records.length,
      payments: this.payments.records.length,
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
      accruals: this.accruals.records,
      payments: this.payments.records,
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

  /** Orders the partition's accruals into the sweep columns and groups them by month. */
  private closeAccruals(): void {
    if (this.state !== COLLECTING_ACCRUALS) throw new Error('no partition is being collected');
    const { batch, order, sweep: s } = this.scratch;
    s.sizeAccruals(batch.length);
    const count = orderSide(batch, order, s.accrualOrder);
    this.rejectDuplicates('accrual');
    s.loadAccruals(batch, count, this.sink);
    this.state = COLLECTING_PAYMENTS;
    batch.reset();
  }

  /** Orders the partition's payments into the sweep columns with their accrual month index. */
  private closePayments(): void {
    const { batch, order, sweep: s } = this.scratch;
    s.sizePayments(batch.length);
    const count = orderSide(batch, order, s.paymentOrder);
    this.rejectDuplicates('payment');
    s.loadPayments(batch, count, this.sink);
  }

  private rejectDuplicates(source: RecordSource): void {
    const { batch, order } = this.scratch;
    if (order.duplicates === 0) return;
    const records = source === 'accrual' ? this.accruals : this.payments;
    const rejected = source === 'accrual' ? this.rejectedAccruals : this.rejectedPayments;
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
      rejected.push({
        source,
        seq: batch.seq[pos] as number,
        record: records.at(batch.seq[pos] as number),
        reason: `duplicate id ${formatSlot(id)}`,
      });
    }
  }

  /** Gives the scratch space back when a run ends early (an input failed). */
  abandon(): void {
    this.releaseOnce();
  }

  private releaseOnce(): void {
    if (this.released) return;
    this.released = true;
    this.scratch.batch.reset();
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
      accruals: this.accrualsRead,
      payments: this.paymentsRead,
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
    if ((entries[i] as RejectedEntry).seq < (entries[i - 1] as RejectedEntry).seq) {
      return entries.sort((a, b) => a.seq - b.seq);
    }
  }
  return entries;
}
