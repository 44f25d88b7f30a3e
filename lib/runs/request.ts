import * as z from 'zod';
import { POLICIES } from '../matching/types.js';

/**
 * The fields a matching run is asked for, shared by `POST /matching-runs` (lib/http/schemas.ts)
 * and the `PaymentsImported` event (lib/runs/workers/events.ts).
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
