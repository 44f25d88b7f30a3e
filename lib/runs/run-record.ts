import * as z from 'zod';
import {
  type MatchStats,
  POLICIES,
  UNMATCHED_PAYMENT_REASONS,
  UNPAID_ACCRUAL_REASONS,
} from '../matching/types.js';
import { OUTPUTS_ADDED_LATER, RUN_OUTPUT_NAMES, type RunOutputName } from './outputs.js';

/**
 * The shape of a matching run, written once: the zod schemas below are the source, the types are
 * inferred from them, and the HTTP view (lib/runs/service.ts) is derived from the run. A new
 * field of the run record is one line here.
 */

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TRIGGERS = ['http', 'event'] as const;
/** What started the run: `POST /matching-runs` or a `PaymentsImported` event. */
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** A run's figures as the matcher reports them (`MatchStats`): what a shard records in `shard.json`. */
export const matchStatsSchema = z.object({
  accruals: z.number(),
  payments: z.number(),
  matched: z.number(),
  sameMonth: z.number(),
  oldest: z.number(),
  unmatched: z.number(),
  unpaid: z.number(),
  rejected: z.number(),
  reasons: z.object({
    unmatchedPayments: z.record(z.enum(UNMATCHED_PAYMENT_REASONS), z.number()),
    unpaidAccruals: z.record(z.enum(UNPAID_ACCRUAL_REASONS), z.number()),
  }),
  durationMs: z.number(),
});

/** A run's figures as the ledger stores them: `reasons` is absent only on runs that succeeded before reasons existed. */
export const runStatsSchema = matchStatsSchema.extend({ reasons: matchStatsSchema.shape.reasons.optional() });
export type RunStats = z.infer<typeof runStatsSchema>;

/** True only when `A` and `B` are assignable both ways. */
type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when MatchStats (lib/matching/types.ts) gains or loses a field the schema does not.
const _statsSchemaAgreesWithMatcher: Agree<z.infer<typeof matchStatsSchema>, MatchStats> = true;

const runId = z.string();

/** What the caller decides about a run besides its id; the ledger records it as given. */
const requestedFields = {
  policy: z.enum(POLICIES),
  partitionBy: z.string().optional(),
  /** The limitation period (SPEC §7), canonical (`P3Y`, see lib/runs/request.ts); absent: none. */
  limitationPeriod: z.string().optional(),
  trigger: z.enum(RUN_TRIGGERS),
  idempotencyKey: z.string().optional(),
  /** The import batch of an event-triggered run (`detail.importId` of PaymentsImported). */
  importId: z.string().optional(),
  /**
   * A sharded run (issue 12, only with `partitionBy`): `auto` or how many shards were asked for
   * (lib/runs/request.ts validates the limit). Such a run is planned, matched shard by shard and
   * merged by the state machine (lib/runs/shards/).
   */
  shards: z.union([z.literal('auto'), z.number().int().positive()]).optional(),
};

/**
 * What a running run is doing. For every run, `reading` lasts while either input still has
 * records to read and `matching` from the last record read until the outputs start, `writing`
 * until the last output is uploaded. A partitioned run matches each partition as soon as both
 * inputs have passed it, so most of its matching happens during `reading` (`partitionsDone`
 * counts it) and `matching` is only the last partition; a run without a partition field reads
 * everything, then matches it all in `matching`.
 *
 * A sharded run (`shards`) is `planning` while its key ranges are computed, `reading` while its
 * shards run (each reads, matches and writes its range), then `merging` while the run's outputs
 * are assembled from the shards'.
 */
export const RUN_PHASES = ['planning', 'reading', 'matching', 'writing', 'merging'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/**
 * The progress of a running run, refreshed by its worker (lib/runs/progress.ts): at each phase
 * change and at most every RUN_PROGRESS_INTERVAL_MS in between. Counts are of records read from
 * each collection (rejected ones included) and of partitions matched (those with at least one
 * valid record; always 0 without a partition field).
 */
export const runProgressSchema = z.object({
  phase: z.enum(RUN_PHASES),
  accrualsRead: z.number().int().nonnegative(),
  paymentsRead: z.number().int().nonnegative(),
  partitionsDone: z.number().int().nonnegative(),
  /**
   * A sharded run: how many shards its plan has, and how many have finished. The counts above are
   * then the sums the finished shards reported (each adds its own once, as it finishes).
   */
  shardsTotal: z.number().int().nonnegative().optional(),
  shardsDone: z.number().int().nonnegative().optional(),
});
export type RunProgress = z.infer<typeof runProgressSchema>;

/** The progress a run starts with when a worker claims it. */
export const INITIAL_PROGRESS: RunProgress = {
  phase: 'reading',
  accrualsRead: 0,
  paymentsRead: 0,
  partitionsDone: 0,
};

/** What the caller decides when recording a run; the ledger fills in the rest. */
export const newRunSchema = z.object({ runId, ...requestedFields });
export type NewMatchingRun = z.infer<typeof newRunSchema>;

type AddedLater = (typeof OUTPUTS_ADDED_LATER)[number];

/**
 * An object schema with one `value` per entry of RUN_OUTPUTS. The outputs a recorded run may lack
 * (OUTPUTS_ADDED_LATER: those added after the first release, and those only partitioned runs
 * write) are optional; a name this version does not know is dropped.
 */
export function perOutputSchema<T extends z.ZodType>(value: T) {
  const later: readonly RunOutputName[] = OUTPUTS_ADDED_LATER;
  return z.object(
    Object.fromEntries(
      RUN_OUTPUT_NAMES.map((name) => [name, later.includes(name) ? value.optional() : value]),
    ) as { [N in RunOutputName]: N extends AddedLater ? z.ZodOptional<T> : T },
  );
}

/** S3 keys of a run's outputs, one per entry of RUN_OUTPUTS (see {@link perOutputSchema}). */
export const runOutputKeysSchema = perOutputSchema(z.string());
export type RecordedOutputKeys = z.infer<typeof runOutputKeysSchema>;

/** One matching run as recorded in the run ledger (DynamoDB, key `runId`). */
export const matchingRunSchema = z.object({
  runId,
  status: z.enum(RUN_STATUSES),
  ...requestedFields,
  /** ISO 8601 UTC timestamps. */
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** How many times a worker started this run (retries of a failed run count). */
  attempts: z.number().int().nonnegative(),
  stats: runStatsSchema.optional(),
  /** Why the last attempt failed: one line, no stack trace. */
  error: z.string().optional(),
  outputs: runOutputKeysSchema.optional(),
  /** Only while `running`: see {@link runProgressSchema}. Removed when the run ends or is queued again. */
  progress: runProgressSchema.optional(),
  /**
   * Who holds (or last held) the claim: the Lambda request id of the worker invocation that marked
   * the run `running`. Lambda's retries of one asynchronous invocation reuse its request id, so a
   * retry of a worker that crashed may take its own claim back at once instead of waiting for it
   * to go stale. Internal: not part of the HTTP view.
   */
  owner: z.string().optional(),
});
export type MatchingRun = z.infer<typeof matchingRunSchema>;

/** A ledger item as a run; a malformed item is our bug, not the client's, so a plain Error (500). */
export function parseRun(item: unknown): MatchingRun {
  const parsed = matchingRunSchema.safeParse(item);
  if (!parsed.success) throw new Error(`run ledger item is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
