import { tapped } from './tapped.js';

/**
 * How often the deadline is read while a step is stuck. Reading it again (rather than setting one
 * timer from the first reading) keeps the deadline a function: whatever it reports, the job
 * notices within this long.
 */
export const DEADLINE_POLL_MS = 250;

/** Longest wait, after the deadline passed, for a stuck step to end before outputs are deleted. */
export const MAX_SETTLE_MS = 2_000;

/** The abort reason once the deadline is near; its message becomes the run's failure reason. */
export class DeadlineError extends Error {
  constructor(
    readonly phase: string,
    marginMs: number,
  ) {
    super(
      `timed out: less than ${Math.round(marginMs / 1000)} s of the Lambda time limit left while ${phase}`,
    );
    this.name = 'DeadlineError';
  }
}

/**
 * The Lambda time limit as one job sees it. `signal` aborts, with a {@link DeadlineError} naming
 * the phase the job was in, once the time left (`remaining`, i.e. `getRemainingTimeInMillis`)
 * falls below `marginMs`: read at every {@link check} between steps and every
 * {@link DEADLINE_POLL_MS} while a step runs, so that a step which never ends is noticed too.
 * Without `remaining` there is no deadline. {@link stop} it when the job is over.
 *
 * @example
 * ```ts
 * const deadline = new Deadline(() => context.getRemainingTimeInMillis(), 15_000);
 * try {
 *   deadline.enter('reading');
 *   await deadline.race(read(untilAborted(cursor, deadline.signal)));
 * } finally {
 *   deadline.stop();
 * }
 * ```
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #remaining: (() => number) | undefined;
  readonly #marginMs: number;
  #phase = 'starting';
  #timer: NodeJS.Timeout | undefined;

  constructor(remaining: (() => number) | undefined, marginMs: number) {
    this.#remaining = remaining;
    this.#marginMs = marginMs;
    this.#poll();
  }

  /** Aborted once the deadline is near; its reason is the {@link DeadlineError}. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** What the job is doing, for the failure reason and the logs. */
  get phase(): string {
    return this.#phase;
  }

  /** Checks the deadline (the step before ends), then names the step that begins. */
  enter(phase: string): void {
    this.check();
    this.#phase = phase;
  }

  /** Throws the {@link DeadlineError} once less than the margin is left. */
  check(): void {
    if (this.#remaining !== undefined && this.#remaining() < this.#marginMs) this.#abort();
    this.signal.throwIfAborted();
  }

  /**
   * `work`, or a rejection with the {@link DeadlineError} as soon as the deadline passes,
   * whichever comes first. An abort cannot interrupt an await: without this race, a step stuck
   * on a read or an S3 request that never answers would hang until Lambda kills the invocation.
   */
  race<T>(work: Promise<T>): Promise<T> {
    const { signal } = this;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Why a step failed: the deadline if it passed, else `error`. */
  causeOf(error: unknown): unknown {
    return this.signal.aborted ? this.signal.reason : error;
  }

  /**
   * Once the deadline passed, gives `work` (a step that may still be in flight) a moment to end:
   * until it settles, at most a quarter of the margin and {@link MAX_SETTLE_MS}. An upload that
   * finishes late then cannot put an object back after the clean-up that follows. Returns at once
   * when the deadline has not passed (the step failed on its own and is over).
   */
  async settle(work: Promise<unknown>): Promise<void> {
    if (!this.signal.aborted) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.min(MAX_SETTLE_MS, this.#marginMs / 4));
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops reading the deadline. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  readonly #poll = (): void => {
    if (this.#remaining === undefined) return;
    const spare = this.#remaining() - this.#marginMs;
    if (spare < 0) {
      this.#abort();
      return;
    }
    this.#timer = setTimeout(this.#poll, Math.min(DEADLINE_POLL_MS, spare));
    this.#timer.unref();
  };

  #abort(): void {
    this.#controller.abort(new DeadlineError(this.#phase, this.#marginMs));
  }
}

/** Re-yields `source`, throwing once `signal` is aborted: stops reading inputs and feeding uploads. */
export function untilAborted<T>(
  source: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal,
): AsyncIterable<T> {
  return tapped(source, () => {
    signal.throwIfAborted();
    return undefined;
  });
}
