/**
 * Collections the matcher reads (SPEC §3). Apart from lib/runs/job.ts so that a step that only
 * names them (the plan of a sharded run) does not bundle the job.
 */
export const ACCRUAL_COLLECTION = 'accrual';
export const PAYMENT_COLLECTION = 'payment';
