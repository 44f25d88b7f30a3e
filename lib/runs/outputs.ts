import { assertRunId } from './run-id.js';

const CSV = 'text/csv; charset=utf-8';
const JSON_TEXT = 'application/json; charset=utf-8';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * The outputs every run writes (SPEC §4, §8), in the order they are uploaded. `result.json` stays
 * last: its presence means the set is complete. Adding an output is adding it here; the type
 * checker then asks each output source (lib/runs/output-source.ts) for its chunks. Runs recorded
 * before an output existed have no key for it: list every later output in
 * {@link OUTPUTS_ADDED_LATER}.
 */
export const RUN_OUTPUTS = [
  { name: 'matchesCsv', file: 'matches.csv', contentType: CSV },
  { name: 'unmatchedPaymentsCsv', file: 'unmatched-payments.csv', contentType: CSV },
  { name: 'unpaidAccrualsCsv', file: 'unpaid-accruals.csv', contentType: CSV },
  { name: 'resultXlsx', file: 'result.xlsx', contentType: XLSX },
  { name: 'resultJson', file: 'result.json', contentType: JSON_TEXT },
] as const;

/** An output's name in the ledger, the HTTP view and the output sources. */
export type RunOutputName = (typeof RUN_OUTPUTS)[number]['name'];

/**
 * Outputs that runs recorded before they were added do not have: the run record and the HTTP view
 * list them only when the run recorded them (lib/runs/run-record.ts).
 */
export const OUTPUTS_ADDED_LATER = [
  'unpaidAccrualsCsv',
  'resultXlsx',
] as const satisfies readonly RunOutputName[];

/** The output names, in upload order. */
export const RUN_OUTPUT_NAMES = RUN_OUTPUTS.map((output) => output.name) as [
  RunOutputName,
  ...RunOutputName[],
];

/** S3 keys of the outputs of one matching run. */
export type RunOutputKeys = Readonly<Record<RunOutputName, string>>;

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
  return Object.fromEntries(RUN_OUTPUTS.map(({ name, file }) => [name, `${prefix}${file}`])) as RunOutputKeys;
}
