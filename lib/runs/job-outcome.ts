import type { logger } from '../logger.js';
import type { RunStats } from './run-record.js';

/**
 * How a job invocation ended. `skipped`: another invocation owns the run, or it does not exist.
 * `stats` are as the ledger holds them (a run found already succeeded may predate `reasons`).
 */
export type MatchingJobOutcome =
  | { readonly status: 'succeeded'; readonly runId: string; readonly stats: RunStats }
  | {
      readonly status: 'failed';
      readonly runId: string;
      readonly reason: string;
      /** The cause was an outage (S3, DynamoDB, MongoDB unreachable): trying again later may succeed. */
      readonly transient: boolean;
    }
  | { readonly status: 'skipped'; readonly runId: string; readonly reason: string };

/** What the job logs through (the Powertools logger, or a test's). */
export type JobLogger = Pick<typeof logger, 'info' | 'warn' | 'error'>;
