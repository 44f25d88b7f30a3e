import { assertRunId } from './run-id.js';

/** S3 keys of the three outputs of one matching run (SPEC §4). */
export interface RunOutputKeys {
  readonly resultJson: string;
  readonly matchesCsv: string;
  readonly unmatchedPaymentsCsv: string;
}

/** Prefix under which every run's outputs live; the bucket's lifecycle rule targets it too. */
export const RUN_OUTPUTS_PREFIX = 'matching-runs/';

/**
 * The output keys of a run. The id is validated first so that nothing but a run id can ever be
 * spliced into a key (no `../` or `/` tricks).
 *
 * @example
 * ```ts
 * runOutputKeys(runId).resultJson; // 'matching-runs/01JDQ…/result.json'
 * ```
 */
export function runOutputKeys(runId: string): RunOutputKeys {
  assertRunId(runId);
  const prefix = `${RUN_OUTPUTS_PREFIX}${runId}/`;
  return {
    resultJson: `${prefix}result.json`,
    matchesCsv: `${prefix}matches.csv`,
    unmatchedPaymentsCsv: `${prefix}unmatched-payments.csv`,
  };
}
