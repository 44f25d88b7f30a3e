import * as z from 'zod';
import { config } from '../config.js';
import { canonicalLimitationPeriod, limitationPeriodProblem } from '../matching/index.js';
import { DEFAULT_POLICY, POLICIES, type Policy } from '../matching/types.js';

/**
 * The fields a matching run is asked for, shared by `POST /matching-runs` (lib/http/schemas.ts)
 * and the `PaymentsImported` event (lib/runs/workers/events.ts), and how two requests for one run
 * are compared (an Idempotency-Key or an importId seen before).
 */

/** A matching policy name (SPEC §3). */
export const policySchema = z.enum(POLICIES, { error: `must be one of ${POLICIES.join(', ')}` });

/** Fields that cannot partition a run: matching orders by them, so every partition would be one date or one record. */
export const UNPARTITIONABLE_FIELDS: readonly string[] = ['date', 'id', '_id'];

/**
 * A partition field name: a plain top-level field, so it cannot be a `$` operator, a dotted path
 * into another document or anything longer than a sane identifier; and not `date`, `id` or `_id`
 * (a payment can only pay an earlier accrual, and ids are unique: no partition could match).
 * (The command line and `matchPayments` also accept dotted paths; requests and events do not.)
 */
export const partitionFieldSchema = z
  .string({ error: 'must be a string' })
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]{0,63}$/,
    'must be a field name: a letter or _, then up to 63 letters, digits or _',
  )
  .refine((field) => !UNPARTITIONABLE_FIELDS.includes(field), {
    error: 'must not be date, id or _id (matching orders by them, so nothing could match)',
  });

/**
 * A limitation period (SPEC §7): an ISO 8601 duration of whole years and/or months, more than
 * zero and at most a century, parsed to its canonical spelling (`P36M` → `P3Y`), so that equal
 * periods written differently are one run and one idempotency fingerprint.
 */
export const limitationPeriodSchema = z
  .string({ error: 'must be a string' })
  .superRefine((text, ctx) => {
    const problem = limitationPeriodProblem(text);
    if (problem !== undefined) ctx.addIssue(problem);
  })
  .transform((text) => canonicalLimitationPeriod(text));

/**
 * How many shards a partitioned run is split into (issue 12): `auto` (the plan decides from the
 * collections' estimated size, SHARD_AUTO_THRESHOLD_RECORDS and SHARD_RECORDS) or a number from 1
 * to MAX_SHARDS (read when a request is parsed, so the limit is the deployed configuration's).
 */
export const shardsSchema = z
  .union([z.literal('auto'), z.number().int()], {
    error: 'must be "auto" or an integer',
  })
  .superRefine((shards, ctx) => {
    const max = config().MAX_SHARDS;
    if (shards !== 'auto' && (shards < 1 || shards > max))
      ctx.addIssue(`must be "auto" or an integer from 1 to ${max}`);
  });

export type Shards = z.infer<typeof shardsSchema>;

/** Why `shards` needs `partitionBy`: said in the 400 and in the rejected event's reason. */
export const SHARDS_NEED_PARTITION =
  'requires partitionBy: only partitioned matching can be sharded (global matching is sequential and runs in one Lambda)';

/**
 * Refuses `shards` without `partitionBy`, on the field `shards`. Applied to the object schemas of
 * `POST /matching-runs` and of the PaymentsImported detail.
 */
export function refuseShardsWithoutPartition(
  fields: { readonly shards?: Shards | undefined; readonly partitionBy?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (fields.shards !== undefined && fields.partitionBy === undefined)
    ctx.addIssue({ code: 'custom', path: ['shards'], message: SHARDS_NEED_PARTITION });
}

/** What decides a run's result, once defaults are applied and the period is canonical; and `shards`, which does not. */
export interface RunRequest {
  readonly policy: Policy;
  readonly partitionBy?: string;
  readonly limitationPeriod?: string;
  /**
   * How the run is executed, not what it computes (a sharded run's outputs equal an unsharded
   * one's): not compared by {@link requestDifferences}, so a reused Idempotency-Key or importId
   * with another `shards` is the recorded run, run as it was first asked.
   */
  readonly shards?: Shards;
}

/** The fields of {@link RunRequest} that make a run's identity, in the order conflicts name them (not `shards`). */
const REQUEST_FIELDS = ['policy', 'partitionBy', 'limitationPeriod'] as const;

/**
 * `asked` with the default policy filled in and the period canonical (a period that is not one
 * throws a TypeError: validate requests with the schemas above first). Absent optional fields are
 * left out, never `undefined`.
 */
export function runRequest(asked: {
  readonly policy?: Policy | undefined;
  readonly partitionBy?: string | undefined;
  readonly limitationPeriod?: string | undefined;
  readonly shards?: Shards | undefined;
}): RunRequest {
  return {
    policy: asked.policy ?? DEFAULT_POLICY,
    ...(asked.partitionBy === undefined ? {} : { partitionBy: asked.partitionBy }),
    ...(asked.limitationPeriod === undefined
      ? {}
      : { limitationPeriod: canonicalLimitationPeriod(asked.limitationPeriod) }),
    ...(asked.shards === undefined ? {} : { shards: asked.shards }),
  };
}

/**
 * The fields in which a recorded run differs from a request for it (a reused Idempotency-Key or
 * importId): empty when the request asks for that very run.
 *
 * @example
 * ```ts
 * requestDifferences(run, runRequest({ limitationPeriod: 'P36M' })); // [] when run has P3Y
 * ```
 */
export function requestDifferences(recorded: RunRequest, asked: RunRequest): string[] {
  return REQUEST_FIELDS.filter((field) => recorded[field] !== asked[field]);
}

/** A request's fields for a log line or a conflict message: `policy chronological, partitionBy (none), limitationPeriod P3Y`. */
export function describeRequest(request: RunRequest): string {
  return REQUEST_FIELDS.map((field) => `${field} ${request[field] ?? '(none)'}`).join(', ');
}
