import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { matchPayments } from '../../lib/matching/index.js';
import { once, shuffled, slowly, summarise } from './helpers.js';

function records(count: number, firstDay: number, salt: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: (i * 7919 + salt) % 100_003,
    date: new Date(Date.UTC(2024, 0, firstDay + ((i * 31 + salt) % 20))),
    month: `2024-0${1 + ((i * 13 + salt) % 3)}`,
    seq: i,
  }));
}

describe('streaming inputs', () => {
  const accruals = records(3000, 1, 1);
  const payments = records(3000, 3, 2);
  const byDateAndId = (a: { date: Date; id: number }, b: { date: Date; id: number }) =>
    a.date.getTime() - b.date.getTime() || a.id - b.id;

  it.each(['chronological', 'month-first'] as const)(
    '%s: an out-of-order stream is sorted, never mis-matched',
    async (policy) => {
      const expected = summarise(
        await matchPayments([...accruals].sort(byDateAndId), [...payments].sort(byDateAndId), { policy }),
      );
      const streamed = await matchPayments(slowly(shuffled(accruals, 7)), slowly(shuffled(payments, 8)), {
        policy,
      });
      expect(summarise(streamed)).toEqual(expected);
      expect(expected.matches.length).toBeGreaterThan(1000);
    },
  );

  it('a stream already in (date, id) order gives the same result as an unsorted one', async () => {
    const sorted = await matchPayments(
      once([...accruals].sort(byDateAndId)),
      once([...payments].sort(byDateAndId)),
    );
    expect(summarise(sorted)).toEqual(summarise(await matchPayments(accruals, payments)));
  });

  it('hands back each record itself, in runs far larger than one block of kept records', async () => {
    const size = 10_000;
    const side = (prefix: string, firstDay: number, salt: number) =>
      shuffled(
        Array.from({ length: size }, (_, i) => ({
          id: i,
          date: new Date(Date.UTC(2024, 0, firstDay + (i % 40))),
          month: `2024-0${1 + ((i * 7 + salt) % 3)}`,
          tag: `${prefix}${i}`,
        })),
        salt,
      );
    const outcome = await matchPayments(slowly(side('a', 1, 3)), slowly(side('p', 2, 4)));
    const seen = { a: [] as number[], p: [] as number[] };
    const check = (prefix: 'a' | 'p', record: { id: unknown; tag?: unknown }) => {
      expect(record.tag).toBe(`${prefix}${String(record.id)}`);
      seen[prefix].push(record.id as number);
    };
    for (const { payment, accrual } of outcome.matches()) {
      check('p', payment);
      check('a', accrual);
    }
    for (const payment of outcome.unmatchedPayments()) check('p', payment);
    for (const accrual of outcome.unpaidAccruals()) check('a', accrual);
    const all = Array.from({ length: size }, (_, i) => i);
    expect(seen.a.sort((x, y) => x - y)).toEqual(all);
    expect(seen.p.sort((x, y) => x - y)).toEqual(all);
    expect(outcome.stats.matched).toBeGreaterThan(size / 2);
  });

  it('reads each input exactly once', async () => {
    let pulls = 0;
    const counted = {
      [Symbol.asyncIterator]() {
        const inner = slowly(accruals)[Symbol.asyncIterator]();
        return {
          next: () => {
            pulls++;
            return inner.next();
          },
        };
      },
    };
    const outcome = await matchPayments(counted, payments);
    expect(pulls).toBe(accruals.length + 1);
    expect(outcome.stats.accruals).toBe(accruals.length);
  });

  it('does not count time spent waiting for input in durationMs', async () => {
    // A durationMs that counted the waits would be at least the waits (≥ 240 ms); the matcher's
    // own work on six records is a few milliseconds, so half the waits leaves a wide margin for a
    // loaded machine without depending on how the two clocks interleave.
    let waited = 0;
    async function* late<T>(items: readonly T[]) {
      for (const item of items) {
        const before = performance.now();
        await sleep(40);
        waited += performance.now() - before;
        yield item;
      }
    }
    const outcome = await matchPayments(late(accruals.slice(0, 3)), late(payments.slice(0, 3)));
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(outcome.stats.durationMs).toBeLessThan(waited / 2);
  });

  it('propagates an error thrown by an input', async () => {
    async function* broken() {
      yield accruals[0];
      throw new Error('cursor died');
    }
    await expect(matchPayments(broken(), payments)).rejects.toThrow('cursor died');
  });
});
