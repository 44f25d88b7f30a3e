import { stringify } from 'csv-stringify/sync';
import type { MatchOutcome } from './outcome.js';
import { partitionPath, partitionValueOf } from './partition-values.js';
import type { Match, OutputRecord, UnmatchedPayment, UnpaidAccrual } from './types.js';

/**
 * CSV tables for accountants. Text cells that a spreadsheet would read as a formula (starting
 * with `=`, `+`, `-`, `@`, tab or carriage return, also right after a `;`: see {@link guardFormula})
 * get an apostrophe there; numeric cells (number
 * ids, integer months) are written as plain numbers — a negative number is data, not a formula.
 * ObjectIds are written as their 24-digit hex. Quoting follows RFC 4180 (csv-stringify).
 */

const ROWS_PER_CHUNK = 500;
/**
 * A formula trigger at the start of the cell, or right after a `;` or a line break. Spreadsheets
 * set to a `;` list separator (Excel in Russian and most European locales, where these files are
 * opened) split a comma-separated line at every `;`, and do not see the comma-separated quoting,
 * so the text after a `;` or a quoted line break becomes a cell of its own.
 */
const FORMULA_START = /(^|[;\n\r])(?=[=+\-@\t\r])/g;

type Cell = string | number;

/**
 * Neutralises spreadsheet formula injection in a text cell: an apostrophe before a formula
 * trigger that starts the cell, or a part of it that a `;`-separating spreadsheet makes a cell.
 */
export function guardFormula(text: string): string {
  return text.replace(FORMULA_START, "$1'");
}

function valueCell(value: unknown): Cell {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return guardFormula(value);
  if (typeof value === 'object' && value !== null) {
    const hex = (value as { $oid?: unknown }).$oid;
    if (typeof hex === 'string') return hex;
  }
  if (value === undefined || value === null) return '';
  return guardFormula(JSON.stringify(value));
}

function leftoverCells(record: UnmatchedPayment | UnpaidAccrual): Cell[] {
  return [valueCell(record.id), guardFormula(record.date), valueCell(record.month), record.reason];
}

/** Options of the CSV chunk functions. */
export interface CsvOptions {
  /** Start with the header row (default true); false gives rows only, to append to a table. */
  readonly header?: boolean;
}

function* csvChunks<T>(
  header: readonly string[] | undefined,
  items: Iterable<T>,
  row: (item: T) => Cell[],
): Iterable<string> {
  if (header !== undefined) yield stringify([header]);
  let rows: Cell[][] = [];
  for (const item of items) {
    rows.push(row(item));
    if (rows.length === ROWS_PER_CHUNK) {
      yield stringify(rows);
      rows = [];
    }
  }
  if (rows.length > 0) yield stringify(rows);
}

function partitionCell(outcome: MatchOutcome): ((record: OutputRecord) => Cell) | undefined {
  if (outcome.partitionBy === undefined) return undefined;
  const path = partitionPath(outcome.partitionBy);
  return (record) => valueCell(partitionValueOf(record, path));
}

function matchCells(match: Match): Cell[] {
  const { payment, accrual } = match;
  return [
    valueCell(payment.id),
    guardFormula(payment.date),
    valueCell(payment.month),
    valueCell(accrual.id),
    guardFormula(accrual.date),
    valueCell(accrual.month),
    match.rule,
  ];
}

/** `cells` with `first` put in front: one array per row, as rows are written up to millions of times. */
function withFirst(first: Cell, cells: Cell[]): Cell[] {
  cells.unshift(first);
  return cells;
}

const MATCHES_COLUMNS = [
  'payment_id',
  'payment_date',
  'payment_month',
  'accrual_id',
  'accrual_date',
  'accrual_month',
  'rule',
];
const LEFTOVER_COLUMNS = ['id', 'date', 'month', 'reason'];

function columns(base: readonly string[], partitionBy: string | undefined): readonly string[] {
  return partitionBy === undefined ? base : ['partition', ...base];
}

/** The header row of `matches.csv` (with its line break) for a run with or without a partition field. */
export function matchesCsvHeader(partitionBy: string | undefined): string {
  return stringify([columns(MATCHES_COLUMNS, partitionBy)]);
}

/** The header row of `unmatched-payments.csv` and `unpaid-accruals.csv`, as {@link matchesCsvHeader}. */
export function leftoversCsvHeader(partitionBy: string | undefined): string {
  return stringify([columns(LEFTOVER_COLUMNS, partitionBy)]);
}

/**
 * `matches.csv`: `payment_id,payment_date,payment_month,accrual_id,accrual_date,accrual_month,rule`,
 * preceded by a `partition` column when the run used a partition field. One header row, then one
 * row per match in the order of `outcome.matches()`.
 */
export function matchesCsvChunks(outcome: MatchOutcome, options?: CsvOptions): Iterable<string> {
  const partition = partitionCell(outcome);
  const header = options?.header === false ? undefined : columns(MATCHES_COLUMNS, outcome.partitionBy);
  if (partition === undefined) return csvChunks(header, outcome.matches(), matchCells);
  return csvChunks(header, outcome.matches(), (match) =>
    withFirst(partition(match.payment), matchCells(match)),
  );
}

/** `unmatched-payments.csv`: `id,date,month,reason` (+ `partition` first when partitioned). */
export function unmatchedPaymentsCsvChunks(outcome: MatchOutcome, options?: CsvOptions): Iterable<string> {
  return leftoversCsvChunks(outcome, outcome.unmatchedPayments(), options);
}

/** `unpaid-accruals.csv`: `id,date,month,reason` (+ `partition` first when partitioned). */
export function unpaidAccrualsCsvChunks(outcome: MatchOutcome, options?: CsvOptions): Iterable<string> {
  return leftoversCsvChunks(outcome, outcome.unpaidAccruals(), options);
}

function leftoversCsvChunks(
  outcome: MatchOutcome,
  records: Iterable<UnmatchedPayment | UnpaidAccrual>,
  options: CsvOptions | undefined,
): Iterable<string> {
  const partition = partitionCell(outcome);
  const header = options?.header === false ? undefined : columns(LEFTOVER_COLUMNS, outcome.partitionBy);
  if (partition === undefined) return csvChunks(header, records, leftoverCells);
  return csvChunks(header, records, (record) => withFirst(partition(record), leftoverCells(record)));
}
