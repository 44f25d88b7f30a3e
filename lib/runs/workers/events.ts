import * as z from 'zod';
import {
  limitationPeriodSchema,
  partitionFieldSchema,
  policySchema,
  refuseShardsWithoutPartition,
  shardsSchema,
} from '../request.js';
import { describeIssues, isEventObject } from './invocation.js';

/**
 * What the `paymentsImportedWorker` function accepts: the `PaymentsImported` EventBridge event
 * (published after a payment import), and the request fields shared with `POST /matching-runs`.
 * (The asynchronous invocation `POST /matching-runs` sends to `matchingWorker` is in
 * lib/runs/workers/invocation.ts.) Every value that later reaches a query, a DynamoDB key or an S3 key is
 * validated here first.
 */

export const PAYMENTS_IMPORTED_SOURCE = 'billing.payments';
export const PAYMENTS_IMPORTED_DETAIL_TYPE = 'PaymentsImported';

/** The `detail` of a PaymentsImported event. Unknown detail fields are ignored (producers may add some). */
export const paymentsImportedDetailSchema = z
  .object({
    /** The import batch; one import gives one matching run however often the event is delivered. */
    importId: z
      .string({ error: 'must be a string' })
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters')
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
    policy: policySchema.optional(),
    partitionBy: partitionFieldSchema.optional(),
    /** ISO 8601 years and/or months (SPEC §7), canonical once parsed (`P36M` → `P3Y`). */
    limitationPeriod: limitationPeriodSchema.optional(),
    /** `auto` or 1..MAX_SHARDS, only with partitionBy: the run goes through the state machine (issue 12). */
    shards: shardsSchema.optional(),
    paymentCount: z.number().int().nonnegative().optional(),
  })
  .superRefine(refuseShardsWithoutPartition);

export type PaymentsImportedDetail = z.infer<typeof paymentsImportedDetailSchema>;

/** The EventBridge envelope of a PaymentsImported event (other envelope fields are ignored). */
export const paymentsImportedEventSchema = z.object({
  id: z.string().min(1),
  'detail-type': z.literal(PAYMENTS_IMPORTED_DETAIL_TYPE),
  source: z.literal(PAYMENTS_IMPORTED_SOURCE),
  time: z.string(),
  detail: paymentsImportedDetailSchema,
});

export type PaymentsImportedEvent = z.infer<typeof paymentsImportedEventSchema>;

/** A `paymentsImportedWorker` input after validation; `invalid` carries the reason it is discarded. */
export type PaymentsImportedInput =
  | { readonly kind: 'payments-imported'; readonly event: PaymentsImportedEvent }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Classifies a raw `paymentsImportedWorker` event. Never throws: a malformed event is reported as
 * `invalid` so the worker can log the reason and return, instead of failing and being redelivered
 * forever.
 *
 * @example
 * ```ts
 * parsePaymentsImportedInput(eventBridgeEvent);           // { kind: 'payments-imported', event }
 * parsePaymentsImportedInput({ 'detail-type': 'Other' }); // { kind: 'invalid', reason: 'unknown detail-type "Other"' }
 * ```
 */
export function parsePaymentsImportedInput(event: unknown): PaymentsImportedInput {
  if (!isEventObject(event)) return { kind: 'invalid', reason: 'event is not an object' };
  if ('detail-type' in event) {
    const detailType = event['detail-type'];
    if (detailType !== PAYMENTS_IMPORTED_DETAIL_TYPE) {
      return {
        kind: 'invalid',
        reason: `unknown detail-type ${JSON.stringify(String(detailType)).slice(0, 80)}`,
      };
    }
    const parsed = paymentsImportedEventSchema.safeParse(event);
    return parsed.success
      ? { kind: 'payments-imported', event: parsed.data }
      : { kind: 'invalid', reason: `malformed PaymentsImported event: ${describeIssues(parsed.error)}` };
  }
  return {
    kind: 'invalid',
    reason: 'not an EventBridge event (matching-run invocations go to matchingWorker)',
  };
}
