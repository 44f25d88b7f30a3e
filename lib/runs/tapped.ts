/**
 * Re-hands the records of `source` as they come, calling `tap` with each step (records and the
 * end) before handing it on. Unlike an async generator it adds no promise per record: while the
 * source answers synchronously (a MongoDB cursor's buffered batch, see lib/store/mongo-store.ts
 * `BufferedCursor`; the embedded store), so does this, which keeps the matcher's read loop free
 * of a microtask per record (about twice the CPU of the whole run otherwise). A `tap` that
 * returns a promise holds the step back until it settles; one that throws ends the read with
 * that error.
 */
export function tapped<T>(
  source: AsyncIterable<T> | Iterable<T>,
  tap: (step: IteratorResult<T>) => Promise<void> | undefined,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const iterator: Iterator<T> | AsyncIterator<T> =
        Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
      const pass = (step: IteratorResult<T>): IteratorResult<T> | Promise<IteratorResult<T>> => {
        const held = tap(step);
        return held === undefined ? step : held.then(() => step);
      };
      const passThrough = {
        next(): IteratorResult<T> | Promise<IteratorResult<T>> {
          try {
            const step = iterator.next() as IteratorResult<T> | Promise<IteratorResult<T>>;
            return step instanceof Promise ? step.then(pass) : pass(step);
          } catch (error) {
            // As an async iterator does: a failure is a rejected answer, not a throw from next().
            return Promise.reject(error);
          }
        },
        async return(): Promise<IteratorResult<T>> {
          return (await iterator.return?.()) ?? { done: true, value: undefined };
        },
      };
      // `next` may answer without a promise, which the AsyncIterator type does not spell out.
      return passThrough as unknown as AsyncIterator<T>;
    },
  };
}
