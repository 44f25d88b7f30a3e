/**
 * Pulling records from sync or async iterables without paying for promises when the source is
 * synchronous, and timing only the matcher's own work (not the wait for the next record).
 */

/** A collection as the matcher reads it: a MongoDB cursor, an async or sync generator, an array. */
export type RecordInput = AsyncIterable<unknown> | Iterable<unknown>;

/** Accumulates elapsed time while running; paused while waiting on an input. */
export class Stopwatch {
  private elapsed = 0;
  private startedAt = performance.now();

  pause(): void {
    this.elapsed += performance.now() - this.startedAt;
  }

  resume(): void {
    this.startedAt = performance.now();
  }

  /** Total running time so far, in whole milliseconds (call while running). */
  totalMs(): number {
    return Math.round(this.elapsed + (performance.now() - this.startedAt));
  }
}

function isAsyncIterable(input: RecordInput): input is AsyncIterable<unknown> {
  return typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

type Step = IteratorResult<unknown> | Promise<IteratorResult<unknown>>;

function isThenable(step: Step): step is Promise<IteratorResult<unknown>> {
  return typeof (step as Partial<Promise<unknown>>).then === 'function';
}

/** One input consumed exactly once, record by record. */
export class RecordStream {
  private readonly iterator: Iterator<unknown> | AsyncIterator<unknown>;
  done = false;

  constructor(
    input: RecordInput,
    private readonly stopwatch: Stopwatch,
  ) {
    this.iterator = isAsyncIterable(input) ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  }

  /**
   * Calls `visit` with each next record until it returns true or the input ends. Runs
   * synchronously while the input does; returns a promise only after an asynchronous step.
   */
  pullUntil(visit: (record: unknown) => boolean): Promise<void> | undefined {
    for (;;) {
      const step = this.iterator.next() as Step;
      if (isThenable(step)) return this.pullUntilAsync(step, visit);
      if (this.visitStep(step, visit)) return undefined;
    }
  }

  private async pullUntilAsync(first: Step, visit: (record: unknown) => boolean): Promise<void> {
    let step = first;
    for (;;) {
      let result: IteratorResult<unknown>;
      if (isThenable(step)) {
        this.stopwatch.pause();
        try {
          result = await step;
        } finally {
          this.stopwatch.resume();
        }
      } else {
        result = step;
      }
      if (this.visitStep(result, visit)) return;
      step = this.iterator.next() as Step;
    }
  }

  private visitStep(step: IteratorResult<unknown>, visit: (record: unknown) => boolean): boolean {
    if (step.done) {
      this.done = true;
      return true;
    }
    return visit(step.value);
  }
}
