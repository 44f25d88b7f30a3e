/**
 * Payment matching (разноска платежей), SPEC §3: pairs each payment with the accrual it pays.
 *
 * @example
 * import { matchPayments, resultJsonChunks } from './lib/matching/index.js';
 * const outcome = await matchPayments(accrualCursor, paymentCursor, { policy: 'chronological' });
 * await bucket.upload(key, resultJsonChunks(outcome, { runId, generatedAt }), 'application/json');
 */

export { parseIsoDate } from './dates.js';
// Partition values as the run outputs index them (lib/runs/partition-index.ts).
export {
  compareCodePoints,
  compareIds,
  compareSlots,
  copySlot,
  ID_NUMBER,
  ID_OBJECT_ID,
  ID_STRING,
  type IdKind,
  type IdSlot,
  newIdSlot,
  type RecordId,
  readIdInto,
  slotToJson,
} from './ids.js';
export {
  canonicalLimitationPeriod,
  LimitationCutoff,
  limitationPeriodProblem,
  MAX_LIMITATION_MONTHS,
  monthsBefore,
} from './limitation.js';
export { matchPayments, matchPaymentsByPartition, type PartitionedRun } from './match.js';
export { type NormalisedFields, type NormaliseResult, normaliseRecord } from './normalise.js';
export { type MatchOutcome, reasonCounts } from './outcome.js';
export { partitionPath, partitionValueOf } from './partition-values.js';
export type { RecordInput } from './record-stream.js';
export {
  type CsvOptions,
  guardFormula,
  leftoversCsvHeader,
  matchesCsvChunks,
  matchesCsvHeader,
  unmatchedPaymentsCsvChunks,
  unpaidAccrualsCsvChunks,
} from './result-csv.js';
export {
  jsonElements,
  type ResultMeta,
  resultJsonChunks,
  resultJsonFrame,
  toMatchResult,
} from './result-json.js';
export {
  SHEET_TABLE_KEYS,
  type SheetCell,
  type SheetColumn,
  type SheetColumnKind,
  type SheetRow,
  type SheetRows,
  type SheetTable,
  type SummaryLine,
  type SummaryRun,
  sheetRows,
  sheetTables,
  summaryLines,
} from './result-sheets.js';
export type { PartitionSink } from './session.js';
export * from './types.js';
