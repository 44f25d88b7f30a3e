import * as z from 'zod';
import {
  type MatchStats,
  POLICIES,
  UNMATCHED_PAYMENT_REASONS,
  UNPAID_ACCRUAL_REASONS,
} from '../matching/types.js';
import {
  type EveryRunOutputName,
  isPartitionedOnly,
  type PartitionedOnlyOutputName,
  RUN_OUTPUT_NAMES,
} from './outputs.js';

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

/** A run's figures, as the matcher reports them (`MatchStats`) and the ledger stores them. */
export const runStatsSchema = z.object({
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
export type RunStats = z.infer<typeof runStatsSchema>;

/** True only when `A` and `B` are assignable both ways. */
type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when MatchStats (lib/matching/types.ts) gains or loses a field the schema does not.
const _statsSchemaAgreesWithMatcher: Agree<RunStats, MatchStats> = true;

const runId = z.string();

/** What the caller decides about a run besides its id; the ledger records it as given. */
const requestedFields = {
  policy: z.enum(POLICIES),
  partitionBy: z.string().optional(),
  trigger: z.enum(RUN_TRIGGERS),
  idempotencyKey: z.string().optional(),
};

/** What the caller decides when recording a run; the ledger fills in the rest. */
export const newRunSchema = z.object({ runId, ...requestedFields });
export type NewMatchingRun = z.infer<typeof newRunSchema>;

/**
 * An object with one field per entry of RUN_OUTPUTS holding `value`: required for the outputs
 * every run writes, optional for those only partitioned runs write.
 */
export function runOutputsSchema<T extends z.ZodType>(value: T) {
  const shape = Object.fromEntries(
    RUN_OUTPUT_NAMES.map((name) => [name, isPartitionedOnly(name) ? value.optional() : value]),
  ) as { [K in EveryRunOutputName]: T } & { [K in PartitionedOnlyOutputName]: z.ZodOptional<T> };
  return z.object(shape);
}

/** S3 keys of a run's outputs, one per entry of RUN_OUTPUTS it writes. */
export const runOutputKeysSchema = runOutputsSchema(z.string());

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
