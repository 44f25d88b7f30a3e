import { describe, expect, it, vi } from 'vitest';
import { matchPayments } from '../../lib/matching/index.js';
import type { RunClaim } from '../../lib/runs/ledger.js';
import { type ProgressRecorder, ProgressReporter } from '../../lib/runs/progress.js';
import { RUN_PHASES, type RunProgress } from '../../lib/runs/run-record.js';

const claim: RunClaim = { runId: '01JDQ7ZK5X8M3V0R2T6Y9B4C1N', attempts: 1, owner: 'request-1' };

/** Records what would be written, when, and whether two writes were ever in flight at once. */
class RecordingLedger implements ProgressRecorder {
  /** Each write with the (simulated) time it was sent. */
  readonly writes: Array<{ at: number; progress: RunProgress }> = [];
  inFlight = 0;
  maxInFlight = 0;
  /** What the next writes answer: held, refused (claim lost), or an error. */
  answer: 'held' | 'refused' | 'error' = 'held';

  constructor(private readonly clock: { ms: number }) {}

  async recordProgress(held: RunClaim, progress: RunProgress): Promise<boolean> {
    expect(held).toEqual(claim);
    const at = this.clock.ms;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.answer === 'error') throw new Error('DynamoDB is unavailable');
      this.writes.push({ at, progress });
      return this.answer === 'held';
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * `count` records, the simulated clock moving `msPerRecord` before each one. Like a database
 * cursor's buffered batch, the records come without I/O (no turn of the event loop in between).
 */
async function* slowRecords(count: number, clock: { ms: number }, msPerRecord: number) {
  for (let i = 0; i < count; i++) {
    clock.ms += msPerRecord;
    yield i;
  }
}

async function drain(input: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of input);
}

describe('ProgressReporter', () => {
  it('writes a 10^6-record run that reads for 100 s at most 100 / 5 + 2 times, phase changes included', async () => {
    const clock = { ms: 0 };
    const ledger = new RecordingLedger(clock);
    const progress = new ProgressReporter(ledger, claim, { intervalMs: 5_000, now: () => clock.ms });
    // Reading 10^6 records takes 100 simulated seconds (0.1 ms each), as the worker reads them:
    // both collections in turn.
    await drain(progress.counted('accrualsRead', slowRecords(500_000, clock, 0.1)));
    await drain(progress.counted('paymentsRead', slowRecords(500_000, clock, 0.1)));
    clock.ms += 3_000;
    await progress.enter('writing');
    await progress.stop();

    const phases = ledger.writes.map((write) => write.progress.phase);
    expect(ledger.writes.length).toBeLessThanOrEqual(100 / 5 + 2);
    expect(ledger.writes.length).toBeGreaterThanOrEqual(100 / 5 - 1);
    // Phase changes are written when they happen, with the counts of that moment.
    expect(phases.slice(-2)).toEqual(['matching', 'writing']);
    expect(ledger.writes.at(-2)?.progress).toEqual({
      phase: 'matching',
      accrualsRead: 500_000,
      paymentsRead: 500_000,
      partitionsDone: 0,
    });
    // In between, never two writes closer than the interval, and never two at once.
    const periodic = ledger.writes.filter((write) => write.progress.phase === 'reading');
    for (let i = 1; i < periodic.length; i++) {
      expect((periodic[i]?.at ?? 0) - (periodic[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(5_000);
    }
    expect(ledger.maxInFlight).toBe(1);
  });

  it('reports counts that only grow and phases that only move forward', async () => {
    const clock = { ms: 0 };
    const ledger = new RecordingLedger(clock);
    const progress = new ProgressReporter(ledger, claim, { intervalMs: 10, now: () => clock.ms });
    await drain(progress.counted('accrualsRead', slowRecords(2_000, clock, 1)));
    await drain(progress.counted('paymentsRead', slowRecords(1_500, clock, 1)));
    await progress.enter('writing');
    await progress.enter('writing');
    await progress.stop();
    const written = ledger.writes.map((write) => write.progress);
    expect(written.length).toBeGreaterThan(100);
    for (let i = 1; i < written.length; i++) {
      const [before, after] = [written[i - 1] as RunProgress, written[i] as RunProgress];
      expect(RUN_PHASES.indexOf(after.phase)).toBeGreaterThanOrEqual(RUN_PHASES.indexOf(before.phase));
      expect(after.accrualsRead).toBeGreaterThanOrEqual(before.accrualsRead);
      expect(after.paymentsRead).toBeGreaterThanOrEqual(before.paymentsRead);
    }
    expect(written.filter((p) => p.phase === 'writing')).toHaveLength(1);
    expect(written.at(-1)).toEqual({
      phase: 'writing',
      accrualsRead: 2_000,
      paymentsRead: 1_500,
      partitionsDone: 0,
    });
  });

  it('counts partitions with valid records, not the calls that hand on only rejections', async () => {
    const progress = new ProgressReporter(new RecordingLedger({ ms: 0 }), claim, { intervalMs: 60_000 });
    const accrual = { id: 1, date: '2024-01-01T00:00:00Z', month: '2024-01' };
    progress.partitionDone(await matchPayments([accrual], []));
    progress.partitionDone(await matchPayments([{ id: 2 }], [{ date: 'not a date' }]));
    expect(progress.current.partitionsDone).toBe(1);
  });

  it('never fails the run when a write fails: it logs once and tries again at the next interval', async () => {
    const clock = { ms: 0 };
    const ledger = new RecordingLedger(clock);
    const logger = { info: vi.fn(), warn: vi.fn() };
    const progress = new ProgressReporter(ledger, claim, { intervalMs: 10, now: () => clock.ms, logger });
    ledger.answer = 'error';
    await drain(progress.counted('accrualsRead', slowRecords(200, clock, 1)));
    await expect(progress.enter('matching')).resolves.toBeUndefined();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    ledger.answer = 'held';
    await drain(progress.counted('paymentsRead', slowRecords(200, clock, 1)));
    await progress.stop();
    expect(ledger.writes.at(-1)?.progress.paymentsRead).toBeGreaterThan(150);
  });

  it('stops writing once the ledger refuses a write: the claim no longer holds the run', async () => {
    const clock = { ms: 0 };
    const ledger = new RecordingLedger(clock);
    const progress = new ProgressReporter(ledger, claim, { intervalMs: 10, now: () => clock.ms });
    ledger.answer = 'refused';
    await drain(progress.counted('accrualsRead', slowRecords(500, clock, 1)));
    await progress.enter('writing');
    expect(ledger.writes).toHaveLength(1);
  });

  it('writes nothing after stop', async () => {
    const clock = { ms: 0 };
    const ledger = new RecordingLedger(clock);
    const progress = new ProgressReporter(ledger, claim, { intervalMs: 10, now: () => clock.ms });
    await progress.stop();
    await drain(progress.counted('accrualsRead', slowRecords(100, clock, 1)));
    await progress.enter('writing');
    expect(ledger.writes).toEqual([]);
  });
});
