import type { Document } from 'mongodb';
import type { MatchStats } from '../lib/matching/types.js';
import { type MatchingRun, RunLedger } from '../lib/runs/ledger.js';
import type { RunOutputKeys } from '../lib/runs/outputs.js';
import { ResultsBucket } from '../lib/runs/results-bucket.js';
import type { DocumentStore, FindOptions } from '../lib/store/document-store.js';
import { PhaseClock } from './phase-clock.js';

/**
 * Wrappers around the job's three dependencies that time them from outside, so the end-to-end
 * run can be split into read / match / write without changing the job: reading = time spent
 * inside the store's cursors (file load, parse, sort and the per-document await), writing = time
 * inside `ResultsBucket.upload` (serialising the outputs and the multipart upload), ledger = the
 * DynamoDB transitions; matching is what remains of the job's wall time.
 */
export interface PhaseClocks {
  readonly read: PhaseClock;
  readonly write: PhaseClock;
  readonly ledger: PhaseClock;
}

export function newPhaseClocks(): PhaseClocks {
  return { read: new PhaseClock(), write: new PhaseClock(), ledger: new PhaseClock() };
}

function timedCursor<T>(source: AsyncIterable<T>, clock: PhaseClock): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const iterator = source[Symbol.asyncIterator]();
      return {
        next: () => clock.time(() => iterator.next()),
        return: async (value?: unknown) =>
          iterator.return ? iterator.return(value) : { done: true as const, value: undefined },
      };
    },
  };
}

/** A DocumentStore whose cursors count their time on `clock`. */
export class TimedStore implements DocumentStore {
  constructor(
    private readonly inner: DocumentStore,
    private readonly clock: PhaseClock,
  ) {}

  aggregate<T extends Document = Document>(
    collection: string,
    pipeline: readonly Document[],
  ): AsyncIterable<T> {
    return timedCursor(this.inner.aggregate<T>(collection, pipeline), this.clock);
  }

  find<T extends Document = Document>(collection: string, filter: Readonly<Document>, options?: FindOptions) {
    return timedCursor(this.inner.find<T>(collection, filter, options), this.clock);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A ResultsBucket whose uploads count their time (chunk production included) on `clock`. */
export class TimedBucket extends ResultsBucket {
  constructor(private readonly clock: PhaseClock) {
    super();
  }

  override upload(
    key: string,
    chunks: Iterable<string> | AsyncIterable<string>,
    contentType: string,
  ): Promise<void> {
    return this.clock.time(() => super.upload(key, chunks, contentType));
  }
}

/** A RunLedger whose transitions during the job count their time on `clock`. */
export class TimedLedger extends RunLedger {
  constructor(private readonly clock: PhaseClock) {
    super();
  }

  override markRunning(runId: string): Promise<MatchingRun> {
    return this.clock.time(() => super.markRunning(runId));
  }

  override markSucceeded(runId: string, stats: MatchStats, outputs: RunOutputKeys): Promise<MatchingRun> {
    return this.clock.time(() => super.markSucceeded(runId, stats, outputs));
  }

  override markFailed(runId: string, reason: string): Promise<MatchingRun> {
    return this.clock.time(() => super.markFailed(runId, reason));
  }
}
