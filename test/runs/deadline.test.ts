import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEADLINE_POLL_MS,
  Deadline,
  DeadlineError,
  MAX_SETTLE_MS,
  untilAborted,
} from '../../lib/runs/deadline.js';

/**
 * The job's deadline on its own, on fake timers: `remaining` reads the fake clock the way
 * `context.getRemainingTimeInMillis` reads the real one, so every "how soon" below is exact.
 */

const MARGIN_MS = 4_000;

/** A Lambda invocation that ends `ms` from the fake now. */
function endingIn(ms: number): () => number {
  const end = Date.now() + ms;
  return () => end - Date.now();
}

/** A promise that never settles: a read or an upload that is stuck. */
const stuck = () => new Promise<never>(() => undefined);

let deadlines: Deadline[];
function deadline(remaining: (() => number) | undefined, marginMs = MARGIN_MS): Deadline {
  const made = new Deadline(remaining, marginMs);
  deadlines.push(made);
  return made;
}

beforeEach(() => {
  vi.useFakeTimers();
  deadlines = [];
});

afterEach(() => {
  for (const made of deadlines) made.stop();
  vi.useRealTimers();
});

describe('Deadline', () => {
  describe('aborting when less than the margin is left', () => {
    it('aborts at once when the invocation starts inside the margin, naming the phase "starting"', () => {
      const late = deadline(endingIn(MARGIN_MS - 1));
      expect(late.signal.aborted).toBe(true);
      expect(late.signal.reason).toBeInstanceOf(DeadlineError);
      expect(late.signal.reason.message).toBe(
        'timed out: less than 4 s of the Lambda time limit left while starting',
      );
    });

    it('aborts within one poll of crossing the margin while a step runs, and not before', () => {
      const running = deadline(endingIn(MARGIN_MS + 10_000));
      running.enter('reading and matching inputs');
      vi.advanceTimersByTime(10_000 - 1);
      expect(running.signal.aborted).toBe(false);
      vi.advanceTimersByTime(DEADLINE_POLL_MS + 1);
      expect(running.signal.aborted).toBe(true);
      expect(running.signal.reason).toMatchObject({
        name: 'DeadlineError',
        phase: 'reading and matching inputs',
        message: 'timed out: less than 4 s of the Lambda time limit left while reading and matching inputs',
      });
    });

    it('notices a deadline that jumps (whatever `remaining` reports) within one poll', () => {
      let remaining = 600_000;
      const jumping = deadline(() => remaining);
      vi.advanceTimersByTime(60_000);
      expect(jumping.signal.aborted).toBe(false);
      remaining = MARGIN_MS - 1;
      vi.advanceTimersByTime(DEADLINE_POLL_MS);
      expect(jumping.signal.aborted).toBe(true);
    });

    it('reads the deadline at a check between steps, without waiting for a poll', () => {
      let remaining = 600_000;
      const stepped = deadline(() => remaining);
      stepped.enter('writing outputs');
      remaining = MARGIN_MS - 1;
      expect(() => stepped.check()).toThrow(
        'timed out: less than 4 s of the Lambda time limit left while writing outputs',
      );
      expect(stepped.signal.aborted).toBe(true);
    });

    it('names the step that was running, not the one about to begin, when entering finds it late', () => {
      let remaining = 600_000;
      const stepped = deadline(() => remaining);
      stepped.enter('reading and matching inputs');
      remaining = 0;
      expect(() => stepped.enter('writing outputs')).toThrow(/while reading and matching inputs$/);
      expect(stepped.phase).toBe('reading and matching inputs');
    });

    it('rounds the margin to whole seconds in the reason', () => {
      expect(deadline(() => 0, 15_000).signal.reason.message).toMatch(/^timed out: less than 15 s /);
      expect(deadline(() => 0, 2_000).signal.reason.message).toMatch(/^timed out: less than 2 s /);
    });

    it('never aborts without a deadline, and keeps no timer', () => {
      const unlimited = deadline(undefined);
      unlimited.enter('reading and matching inputs');
      vi.advanceTimersByTime(24 * 3_600_000);
      expect(() => unlimited.check()).not.toThrow();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('stops polling once stopped', () => {
      const reads = vi.fn(() => 600_000);
      const stopped = deadline(reads);
      expect(vi.getTimerCount()).toBe(1);
      stopped.stop();
      const before = reads.mock.calls.length;
      vi.advanceTimersByTime(10 * DEADLINE_POLL_MS);
      expect(reads.mock.calls.length).toBe(before);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('race', () => {
    it('gives the work’s value while the deadline is far', async () => {
      await expect(deadline(endingIn(600_000)).race(Promise.resolve(42))).resolves.toBe(42);
    });

    it('gives the work’s own error when it fails first', async () => {
      await expect(deadline(endingIn(600_000)).race(Promise.reject(new Error('S3 down')))).rejects.toThrow(
        'S3 down',
      );
    });

    it('rejects with the DeadlineError when a stuck step outlives the deadline', async () => {
      const running = deadline(endingIn(MARGIN_MS + 1_000));
      running.enter('writing outputs');
      const raced = running.race(stuck());
      const settled = expect(raced).rejects.toMatchObject({
        name: 'DeadlineError',
        phase: 'writing outputs',
      });
      await vi.advanceTimersByTimeAsync(1_000 + DEADLINE_POLL_MS);
      await settled;
    });

    it('says the deadline, not the error it caused, is why a step failed', () => {
      const late = deadline(() => 0);
      expect(late.causeOf(new Error('aborted read'))).toBe(late.signal.reason);
      const early = deadline(endingIn(600_000));
      const own = new Error('S3 down');
      expect(early.causeOf(own)).toBe(own);
    });
  });

  describe('settle: waiting for a step still in flight after the abort', () => {
    it('waits at most a quarter of the margin for a stuck step', async () => {
      const late = deadline(() => 0);
      let done = false;
      void late.settle(stuck()).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(MARGIN_MS / 4 - 1);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
    });

    it(`waits at most ${MAX_SETTLE_MS} ms however large the margin`, async () => {
      const late = deadline(() => 0, 60_000);
      let done = false;
      void late.settle(stuck()).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(MAX_SETTLE_MS - 1);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
    });

    it('returns as soon as the step ends, failed or not, and leaves no timer behind', async () => {
      const late = deadline(() => 0);
      let end: (reason: Error) => void = () => undefined;
      const step = new Promise<never>((_, reject) => {
        end = reject;
      });
      let done = false;
      void late.settle(step).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(100);
      expect(done).toBe(false);
      end(new Error('upload aborted'));
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('does not wait when the deadline has not passed (the step failed on its own and is over)', async () => {
      const early = deadline(endingIn(600_000));
      early.stop();
      let done = false;
      void early.settle(stuck()).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toBe(true);
    });
  });

  describe('untilAborted', () => {
    it('passes every item through until the signal aborts, then throws its reason', async () => {
      const controller = new AbortController();
      const seen: number[] = [];
      const reading = (async () => {
        for await (const item of untilAborted([1, 2, 3, 4], controller.signal)) {
          seen.push(item);
          if (item === 2) controller.abort(new Error('deadline'));
        }
      })();
      await expect(reading).rejects.toThrow('deadline');
      expect(seen).toEqual([1, 2]);
    });

    it('throws at the end of a source that finished after the abort', async () => {
      const controller = new AbortController();
      controller.abort(new Error('deadline'));
      const empty = untilAborted([], controller.signal);
      await expect(empty[Symbol.asyncIterator]().next()).rejects.toThrow('deadline');
    });
  });
});
