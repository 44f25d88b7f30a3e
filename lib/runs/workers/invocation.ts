import * as z from 'zod';
import { runIdSchema } from '../run-id.js';

/**
 * The asynchronous invocation `POST /matching-runs` sends to the `matchingWorker` function, and
 * its parser. Kept apart from lib/runs/workers/events.ts so the worker that runs these invocations does not
 * load the PaymentsImported schemas (cold start: see docs/decisions.md, "Lambda sizing and retries").
 */

/** The payload `POST /matching-runs` sends to the worker (InvocationType 'Event'). */
export const matchingRunInvocationSchema = z.strictObject({
  kind: z.literal('matching-run'),
  runId: runIdSchema,
});

export type MatchingRunInvocation = z.infer<typeof matchingRunInvocationSchema>;

/** An input of the `matchingWorker` function after validation; `invalid` carries the reason it is discarded. */
export type MatchingRunInput =
  | { readonly kind: 'matching-run'; readonly runId: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** The first three issues of a failed parse, as `path: message; …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(event)'}: ${issue.message}`)
    .join('; ');
}

/** Whether a raw Lambda event is a plain object (not null, not an array). */
export function isEventObject(event: unknown): event is object {
  return typeof event === 'object' && event !== null && !Array.isArray(event);
}

/**
 * Classifies a raw `matchingWorker` event. Never throws: a malformed event is reported as
 * `invalid` so the worker can log the reason and return, instead of failing and being retried.
 *
 * @example
 * ```ts
 * parseMatchingRunInput({ kind: 'matching-run', runId }); // { kind: 'matching-run', runId }
 * parseMatchingRunInput({ 'detail-type': 'PaymentsImported' }); // { kind: 'invalid', reason: 'not a matching-run invocation …' }
 * ```
 */
export function parseMatchingRunInput(event: unknown): MatchingRunInput {
  if (!isEventObject(event)) return { kind: 'invalid', reason: 'event is not an object' };
  if (!('kind' in event)) {
    return {
      kind: 'invalid',
      reason: 'not a matching-run invocation (PaymentsImported events go to paymentsImportedWorker)',
    };
  }
  const parsed = matchingRunInvocationSchema.safeParse(event);
  return parsed.success
    ? { kind: 'matching-run', runId: parsed.data.runId }
    : { kind: 'invalid', reason: `malformed matching-run invocation: ${describeIssues(parsed.error)}` };
}
