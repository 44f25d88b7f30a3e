import { describe, expect, it } from 'vitest';
import { untilAborted } from '../../lib/runs/deadline.js';
import { tapped } from '../../lib/runs/tapped.js';

/** What a MongoDB cursor's buffered batch looks like to the matcher: answers without a promise. */
function synchronousSource(items: readonly number[]): AsyncIterable<number> {
  let index = 0;
  const iterator = {
    next: () =>
      index < items.length ? { done: false, value: items[index++] } : { done: true, value: undefined },
  };
  return { [Symbol.asyncIterator]: () => iterator as unknown as AsyncIterator<number> };
}

describe('tapped inputs', () => {
  it('answers a synchronous source synchronously: no promise per record', () => {
    const seen: unknown[] = [];
    const iterator = tapped(synchronousSource([1, 2]), (step) => {
      seen.push(step.done ? 'end' : step.value);
      return undefined;
    })[Symbol.asyncIterator]();
    const first = iterator.next() as unknown;
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toEqual({ done: false, value: 1 });
    iterator.next();
    iterator.next();
    expect(seen).toEqual([1, 2, 'end']);
  });

  it('holds a step back until the tap’s promise settles', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const iterator = tapped(synchronousSource([1]), () => held)[Symbol.asyncIterator]();
    let answered = false;
    const answer = Promise.resolve(iterator.next()).then((step) => {
      answered = true;
      return step;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    release();
    await expect(answer).resolves.toEqual({ done: false, value: 1 });
  });

  it('reads asynchronous sources in order and passes their errors on', async () => {
    async function* source() {
      yield 1;
      yield 2;
      throw new Error('cursor failed');
    }
    const seen: number[] = [];
    const reading = (async () => {
      for await (const item of tapped(source(), () => undefined)) seen.push(item);
    })();
    await expect(reading).rejects.toThrow('cursor failed');
    expect(seen).toEqual([1, 2]);
  });

  it('stops a synchronous source at the abort with a rejected answer, not a throw', async () => {
    const controller = new AbortController();
    const iterator = untilAborted(synchronousSource([1, 2, 3]), controller.signal)[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 1 });
    controller.abort(new Error('deadline'));
    await expect(iterator.next()).rejects.toThrow('deadline');
  });
});
