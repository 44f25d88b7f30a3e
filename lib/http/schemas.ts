import * as z from 'zod';
import { Account } from '../account.js';
import { ValidationError } from '../errors.js';
import {
  limitationPeriodSchema,
  partitionFieldSchema,
  policySchema,
  refuseShardsWithoutPartition,
  shardsSchema,
} from '../runs/request.js';
import { runIdSchema } from '../runs/run-id.js';
import { decodeRunCursor } from '../runs/run-index.js';
import { RUN_STATUSES, RUN_TRIGGERS } from '../runs/run-record.js';
import { DEFAULT_ACTIONS_PAGE_LIMIT, MAX_ACTIONS_PAGE_LIMIT, parseActionsCursor } from '../summary/index.js';

/**
 * Request schemas of the HTTP routes. Everything a request contributes to a query is a string,
 * number or enum produced here; `$`-prefixed values are refused outright, so not even a string
 * that looks like an operator or a field path reaches the database.
 */

/**
 * An account number (Account.parseNumber: exactly 13 code points) that is not `$`-prefixed and
 * holds no control characters (a NUL or a line break in a URL is an attack or a bug, never a number).
 */
export function accountNumberSchema(field: string) {
  return z.string({ error: 'must be a string' }).superRefine((value, ctx) => {
    if (value.startsWith('$')) {
      ctx.addIssue("must not start with '$'");
      return;
    }
    if (/\p{Cc}/u.test(value)) {
      ctx.addIssue('must not contain control characters');
      return;
    }
    refineWith((number) => Account.parseNumber(number, field))(value, ctx);
  });
}

/** A zod refinement that reports the reason of the ValidationError `parse` throws, as the field's issue. */
function refineWith(parse: (value: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx): void => {
    try {
      parse(value);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      ctx.addIssue(error.reason);
    }
  };
}

/** Messages for object-level issues: the wrong type, or keys the route does not accept. */
export function objectIssueMessage(issue: { code?: string }): string | undefined {
  if (issue.code === 'unrecognized_keys') return 'is not an accepted field';
  if (issue.code === 'invalid_type') return 'must be a JSON object';
  return undefined;
}

/** The query of a route that takes no parameters: any parameter is refused, as on the other routes. */
const noQueryParameters = z.strictObject({}, { error: objectIssueMessage });

/** A page size as sent in a query string: decimal digits only (no `1e2`, signs or blanks), 1..`max`. */
function pageLimitSchema(max: number, defaultLimit: number) {
  const message = `must be an integer from 1 to ${max}`;
  return z
    .string()
    .regex(/^[0-9]{1,7}$/, message)
    .transform(Number)
    .pipe(z.number().int().min(1, message).max(max, message))
    .default(defaultLimit);
}

const limitSchema = pageLimitSchema(MAX_ACTIONS_PAGE_LIMIT, DEFAULT_ACTIONS_PAGE_LIMIT);

export const getAccountActionsRequest = {
  path: z.object({ number: accountNumberSchema('number') }),
  query: noQueryParameters,
};

/** Unknown query parameters are refused (a misspelt `limt` would otherwise silently give 100). */
export const listAccountActionsRequest = {
  query: z.strictObject(
    {
      limit: limitSchema,
      // The previous page's last number as stored (see actionsPagePipeline): any string, bounded.
      after: z.string({ error: 'must be a string' }).superRefine(refineWith(parseActionsCursor)).optional(),
    },
    { error: objectIssueMessage },
  ),
};

/** `Idempotency-Key`: 1-128 visible ASCII characters (no spaces or control characters). */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7E]{1,128}$/, 'must be 1 to 128 visible ASCII characters');

export const createMatchingRunRequest = {
  query: noQueryParameters,
  headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
  /** No body at all means the defaults, as `{}` does. */
  body: z
    .strictObject(
      {
        policy: policySchema.optional(),
        partitionBy: partitionFieldSchema.optional(),
        limitationPeriod: limitationPeriodSchema.optional(),
        shards: shardsSchema.optional(),
      },
      { error: objectIssueMessage },
    )
    .superRefine(refuseShardsWithoutPartition)
    .optional()
    .transform((body) => body ?? {}),
};

export const getMatchingRunRequest = {
  path: z.object({ runId: runIdSchema }),
  query: noQueryParameters,
};

/** Runs per page of `GET /matching-runs`: 20 unless asked, at most 100. */
export const DEFAULT_RUNS_PAGE_LIMIT = 20;
export const MAX_RUNS_PAGE_LIMIT = 100;

/**
 * `GET /matching-runs?limit=&after=&status=&trigger=`. `after` must be a cursor this API returned
 * (decoded here: a malformed or altered one is a 400 naming `after`), for the same filters.
 */
export const listMatchingRunsRequest = {
  query: z
    .strictObject(
      {
        limit: pageLimitSchema(MAX_RUNS_PAGE_LIMIT, DEFAULT_RUNS_PAGE_LIMIT),
        status: z.enum(RUN_STATUSES, { error: `must be one of ${RUN_STATUSES.join(', ')}` }).optional(),
        trigger: z.enum(RUN_TRIGGERS, { error: `must be one of ${RUN_TRIGGERS.join(', ')}` }).optional(),
        after: z
          .string({ error: 'must be a string' })
          .transform((text, ctx) => {
            const cursor = decodeRunCursor(text);
            if (cursor.ok) return cursor;
            ctx.addIssue(cursor.problem);
            return z.NEVER;
          })
          .optional(),
      },
      { error: objectIssueMessage },
    )
    .superRefine((query, ctx) => {
      const filters = query.after?.filters;
      if (filters && (filters.status !== query.status || filters.trigger !== query.trigger)) {
        ctx.addIssue({
          code: 'custom',
          path: ['after'],
          message:
            'belongs to a listing with other filters: repeat its status and trigger, or start without after',
        });
      }
    })
    .transform(({ after, ...query }) => (after === undefined ? query : { ...query, after: after.position })),
};
