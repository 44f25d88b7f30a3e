import { DEFAULT_RUN_PROGRESS_INTERVAL_MS } from '../config.js';
import type { MatchOutcome } from '../matching/index.js';
import type { JobLogger } from './job-outcome.js';
import type { RunClaim } from './ledger.js';
import { INITIAL_PROGRESS, type RunPhase, type RunProgress } from './run-record.js';
import { tapped } from './tapped.js';

/** Where progress goes: the run ledger (`RunLedger.recordProgress`). */
export interface ProgressRecorder {
  /** Writes `progress` if `claim` still holds the run; false once it does not. */
  recordProgress(claim: RunClaim, progress: RunProgress): Promise<boolean>;
}

export interface ProgressOptions {
  /** At most one periodic write per this many milliseconds (phase changes are written at once). */
  readonly intervalMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
  readonly logger?: Pick<JobLogger, 'warn' | 'info'>;
}

/** The input collections a run reads, by the progress field that counts them. */
export type ProgressInput = 'accrualsRead' | 'paymentsRead';

/**
 * The progress of one claimed run (SPEC §9), as its job reports it: records read per collection,
 * partitions matched and the phase (see `RUN_PHASES` in lib/runs/run-record.ts for what each
 * means). `markRunning` already wrote the initial progress (`reading`, nothing read).
 *
 * Writes are bounded whatever the size of the run: one per phase change, written at once and
 * awaited (so a phase is visible before the work it names starts), and in between at most one
 * every `intervalMs`, checked as records arrive (no timer: a run that reads nothing writes
 * nothing). A 10^6-record run that takes two minutes writes about 2 + 120 / 5 times. Writes go
 * out one at a time, each with the counts as they are when it is sent, so a slow write can delay
 * the next but never land after it with older counts.
 *
 * A progress write never fails the run: an error is logged and the next write tries again. Each
 * write is conditional on the run still being `running` under this claim (`attempts`, `owner`),
 * so it cannot reopen a run that ended nor touch another worker's claim; once it is refused, this
 * reporter stops writing.
 *
 * @example
 * ```ts
 * const progress = new ProgressReporter(ledger, claimedRun, { intervalMs: 5_000 });
 * const accruals = progress.counted('accrualsRead', cursor);
 * …
 * await progress.enter('writing');
 * await progress.stop();
 * ```
 */
export class ProgressReporter {
  readonly #recorder: ProgressRecorder;
  readonly #claim: RunClaim;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #logger: Pick<JobLogger, 'warn' | 'info'> | undefined;
  readonly #progress: { -readonly [K in keyof RunProgress]: RunProgress[K] } = { ...INITIAL_PROGRESS };
  readonly #inputsDone = new Set<ProgressInput>();
  #lastWriteAt: number;
  /** Writes sent or waiting; periodic writes are skipped while one is. */
  #writing = 0;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #failures = 0;

  constructor(recorder: ProgressRecorder, claim: RunClaim, options: ProgressOptions = {}) {
    this.#recorder = recorder;
    this.#claim = { runId: claim.runId, attempts: claim.attempts, owner: claim.owner };
    this.#intervalMs = options.intervalMs ?? DEFAULT_RUN_PROGRESS_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    // The claim wrote the initial progress: the first periodic write is one interval later.
    this.#lastWriteAt = this.#now();
  }

  /** The progress as it stands (what the next write will send). */
  get current(): RunProgress {
    return { ...this.#progress };
  }

  /**
   * Re-yields `input`, counting each record into `field`. Once every counted input has ended
   * (both collections read), the run enters `matching`.
   */
  counted<T>(field: ProgressInput, input: AsyncIterable<T>): AsyncIterable<T> {
    return tapped(input, (step) => {
      if (step.done) {
        this.#inputsDone.add(field);
        return this.#inputsDone.size === 2 ? this.enter('matching') : undefined;
      }
      this.#progress[field]++;
      return this.#due() ? turnOfTheEventLoop() : undefined;
    });
  }

  /**
   * Counts a partition's outputs handed on by the matcher (`matchPaymentsByPartition`'s sink).
   * Calls that carry only rejected records (read between partitions) are not partitions.
   */
  partitionDone(part: MatchOutcome): void {
    if (!isPartition(part)) return;
    this.#progress.partitionsDone++;
    this.#due();
  }

  /** Enters `phase` (phases only move forward) and writes the progress at once; resolves once written. */
  enter(phase: RunPhase): Promise<void> {
    if (this.#stopped || this.#progress.phase === phase) return this.#chain;
    this.#progress.phase = phase;
    return this.#write();
  }

  /** Stops writing; resolves once the write in flight, if any, is over. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#chain;
  }

  /**
   * Whether a write is due (an interval has passed since the last one); starts it unless one is
   * still in flight. The caller then lets the event loop turn: an input that yields its records
   * without I/O (the embedded store, a cursor's buffered batch) would otherwise starve the write
   * (and any timer) until it ends.
   */
  #due(): boolean {
    if (this.#stopped || this.#now() - this.#lastWriteAt < this.#intervalMs) return false;
    if (this.#writing === 0) void this.#write();
    return true;
  }

  #write(): Promise<void> {
    this.#lastWriteAt = this.#now();
    this.#writing++;
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#send();
      } finally {
        this.#writing--;
      }
    });
    return this.#chain;
  }

  /** One write of the current progress; never rejects. */
  async #send(): Promise<void> {
    if (this.#stopped) return;
    try {
      const held = await this.#recorder.recordProgress(this.#claim, this.current);
      if (!held) {
        this.#stopped = true;
        this.#logger?.info('matching run progress not recorded: the run is no longer held by this claim', {
          runId: this.#claim.runId,
        });
      }
    } catch (error) {
      this.#failures++;
      // One line per run is enough to see that progress is not being recorded.
      if (this.#failures === 1) {
        this.#logger?.warn('matching run progress could not be recorded; the run goes on', {
          runId: this.#claim.runId,
          error,
        });
      }
    }
  }
}

/**
 * Whether a part the matcher handed on (`matchPaymentsByPartition`'s sink) is a partition: one
 * with a valid record. Parts that carry only rejected records (read between partitions) are not.
 */
export function isPartition(part: MatchOutcome): boolean {
  const { matched, unmatched, unpaid } = part.stats;
  return matched + unmatched + unpaid > 0;
}

/** Resolves after the event loop has turned once (pending I/O and timers get their turn). */
function turnOfTheEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
