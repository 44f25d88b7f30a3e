import * as z from 'zod';
import { Account } from '../account.js';
import { ValidationError } from '../errors.js';
import { partitionFieldSchema, policySchema } from '../runs/request.js';
import { runIdSchema } from '../runs/run-id.js';
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

const LIMIT_MESSAGE = `must be an integer from 1 to ${MAX_ACTIONS_PAGE_LIMIT}`;

/** `limit` as sent in a query string: decimal digits only (no `1e2`, signs or blanks). */
const limitSchema = z
  .string()
  .regex(/^[0-9]{1,7}$/, LIMIT_MESSAGE)
  .transform(Number)
  .pipe(z.number().int().min(1, LIMIT_MESSAGE).max(MAX_ACTIONS_PAGE_LIMIT, LIMIT_MESSAGE))
  .default(DEFAULT_ACTIONS_PAGE_LIMIT);

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
      { policy: policySchema.optional(), partitionBy: partitionFieldSchema.optional() },
      { error: objectIssueMessage },
    )
    .optional()
    .transform((body) => body ?? {}),
};

export const getMatchingRunRequest = {
  path: z.object({ runId: runIdSchema }),
  query: noQueryParameters,
};
