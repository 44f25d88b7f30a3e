import { parseIsoDate, readDate } from './dates.js';
import { ID_NUMBER, newIdSlot, readIdInto } from './ids.js';
import { monthKeyToValue, NO_MONTH, readMonthKey } from './months.js';
import type { MatchOutcome } from './outcome.js';
import { partitionPath, partitionValueOf } from './partition-values.js';
import type { ResultMeta } from './result-json.js';
import type {
  Match,
  MatchStats,
  OutputRecord,
  Policy,
  RejectedRecord,
  UnmatchedPayment,
  UnpaidAccrual,
} from './types.js';

/**
 * The tables of the accountants' workbook (SPEC §8, `result.xlsx`), as plain rows: what each sheet
 * holds and how each column is typed, without any spreadsheet library (lib/runs/workbook.ts
 * writes them). Columns follow the CSV tables (lib/matching/result-csv.ts) with the same headers.
 *
 * A row is an array of {@link SheetCell}s that survives a JSON round trip unchanged, so a
 * partition-at-a-time run can spill rows to a file and write the same cells from it.
 */

/** One cell value: the column's {@link SheetColumnKind} says how the workbook types it. */
export type SheetCell = string | number | null;

/**
 * - `text`: a text cell, never a number or a formula (ids, partition values, rules, reasons).
 * - `date`: epoch milliseconds, written as a spreadsheet date; text (ISO 8601) when the date is
 *   outside what a spreadsheet can show (before 1900-03-01 or after 9999).
 * - `month`: `YYYY-MM` text, or the bare integer month 1–12 as a number, as the record gave it.
 */
export type SheetColumnKind = 'text' | 'date' | 'month';

export interface SheetColumn {
  readonly header: string;
  readonly kind: SheetColumnKind;
  /** Display width in characters. */
  readonly width: number;
}

export interface SheetTable {
  /** The sheet's name; continuation sheets append ` (2)`, ` (3)`, … */
  readonly name: string;
  readonly columns: readonly SheetColumn[];
}

export type SheetRow = readonly SheetCell[];

/** The four record tables of a run, in sheet order. */
export interface SheetRows<T> {
  readonly matches: T;
  readonly unmatchedPayments: T;
  readonly unpaidAccruals: T;
  readonly rejected: T;
}

export const SHEET_TABLE_KEYS = ['matches', 'unmatchedPayments', 'unpaidAccruals', 'rejected'] as const;

const ID_WIDTH = 26;
const DATE_WIDTH = 21;
const MONTH_WIDTH = 15;

const text = (header: string, width = ID_WIDTH): SheetColumn => ({ header, kind: 'text', width });
const date = (header: string): SheetColumn => ({ header, kind: 'date', width: DATE_WIDTH });
const month = (header: string): SheetColumn => ({ header, kind: 'month', width: MONTH_WIDTH });

const MATCH_COLUMNS = [
  text('payment_id'),
  date('payment_date'),
  month('payment_month'),
  text('accrual_id'),
  date('accrual_date'),
  month('accrual_month'),
  text('rule', 12),
];
const LEFTOVER_COLUMNS = [text('id'), date('date'), month('month'), text('reason', 24)];
const REJECTED_COLUMNS = [
  text('source', 10),
  text('reason', 48),
  text('id'),
  date('date'),
  month('month'),
  text('record', 80),
];

/** The sheets of a run with or without a partition field (a `partition` column first when it has one). */
export function sheetTables(partitionBy: string | undefined): SheetRows<SheetTable> {
  const columns = (base: readonly SheetColumn[]) =>
    partitionBy === undefined ? base : [text('partition'), ...base];
  return {
    matches: { name: 'Matches', columns: columns(MATCH_COLUMNS) },
    unmatchedPayments: { name: 'Unmatched payments', columns: columns(LEFTOVER_COLUMNS) },
    unpaidAccruals: { name: 'Unpaid accruals', columns: columns(LEFTOVER_COLUMNS) },
    rejected: { name: 'Rejected', columns: columns(REJECTED_COLUMNS) },
  };
}

/** 1900-03-01T00:00Z: earlier serial numbers are shifted by the 1900 leap-year bug spreadsheets keep. */
const FIRST_SHEET_DATE_MS = Date.UTC(1900, 2, 1);
/** 10000-01-01T00:00Z: spreadsheets show no later date. */
const END_SHEET_DATE_MS = Date.UTC(10000, 0, 1);

function dateCellOfMs(ms: number): SheetCell {
  if (Number.isNaN(ms)) return null;
  return ms >= FIRST_SHEET_DATE_MS && ms < END_SHEET_DATE_MS ? ms : new Date(ms).toISOString();
}

/** An output record's `date` (ISO 8601 text, always readable) as a date cell. */
function dateCell(iso: string): SheetCell {
  const ms = parseIsoDate(iso);
  return Number.isNaN(ms) ? iso : dateCellOfMs(ms);
}

const slot = newIdSlot();

/**
 * An id or partition value as text: numbers as digits (`7800000000000`, never `7.8E+12`),
 * strings as they are (leading zeros kept), ObjectIds as their hex; null when it is none of these.
 */
function idCell(value: unknown): SheetCell {
  if (!readIdInto(value, slot)) return null;
  return slot.kind === ID_NUMBER ? String(slot.num) : slot.str;
}

function monthCell(value: unknown): SheetCell {
  return typeof value === 'number' || typeof value === 'string' ? value : null;
}

function matchRow(match: Match): SheetCell[] {
  const { payment, accrual } = match;
  return [
    idCell(payment.id),
    dateCell(payment.date),
    monthCell(payment.month),
    idCell(accrual.id),
    dateCell(accrual.date),
    monthCell(accrual.month),
    match.rule,
  ];
}

function leftoverRow(record: UnmatchedPayment | UnpaidAccrual): SheetCell[] {
  return [idCell(record.id), dateCell(record.date), monthCell(record.month), record.reason];
}

/**
 * A rejected record: its source and reason, its id, date and month where they can be read (the
 * reason says what was wrong with the others), and the whole record as JSON text.
 */
function rejectedRow(entry: RejectedRecord): SheetCell[] {
  const fields =
    typeof entry.record === 'object' && entry.record !== null && !Array.isArray(entry.record)
      ? (entry.record as { id?: unknown; date?: unknown; month?: unknown })
      : {};
  const monthKey = readMonthKey(fields.month);
  return [
    entry.source,
    entry.reason,
    idCell(fields.id),
    dateCellOfMs(readDate(fields.date)),
    monthKey === NO_MONTH ? null : monthKeyToValue(monthKey),
    JSON.stringify(entry.record) ?? null,
  ];
}

function* rowsOf<T>(
  items: Iterable<T>,
  row: (item: T) => SheetCell[],
  partition: ((item: T) => SheetCell) | undefined,
): Iterable<SheetCell[]> {
  if (partition === undefined) {
    for (const item of items) yield row(item);
    return;
  }
  for (const item of items) {
    const cells = row(item);
    cells.unshift(partition(item));
    yield cells;
  }
}

/**
 * The rows of every sheet of `outcome` (a whole run, or one partition of a partition-at-a-time
 * run: concatenating the partitions' rows gives the whole run's), in the order of its iterables.
 */
export function sheetRows(outcome: MatchOutcome): SheetRows<Iterable<SheetCell[]>> {
  const path = outcome.partitionBy === undefined ? undefined : partitionPath(outcome.partitionBy);
  const of = (record: unknown): SheetCell =>
    path === undefined ? null : idCell(partitionValueOf(record, path));
  const partition = <T>(record: (item: T) => unknown) =>
    path === undefined ? undefined : (item: T) => of(record(item));
  return {
    matches: rowsOf(
      outcome.matches(),
      matchRow,
      partition((m: Match) => m.payment),
    ),
    unmatchedPayments: rowsOf(
      outcome.unmatchedPayments(),
      leftoverRow,
      partition((r: OutputRecord) => r),
    ),
    unpaidAccruals: rowsOf(
      outcome.unpaidAccruals(),
      leftoverRow,
      partition((r: OutputRecord) => r),
    ),
    rejected: rowsOf(
      outcome.rejected(),
      rejectedRow,
      partition((e: RejectedRecord) => e.record),
    ),
  };
}

/** What a run was asked for, as the Summary sheet shows it. */
export interface SummaryRun {
  readonly policy: Policy;
  readonly partitionBy?: string | undefined;
  readonly limitationPeriod?: string | undefined;
}

/** One line of the Summary sheet: a field of result.json, its value, and what it means (in Russian, for the accountants). */
export interface SummaryLine {
  readonly field: string;
  /** Text, a count, or (generatedAt) a date as epoch milliseconds with `date: true`. */
  readonly value: string | number | null;
  readonly date?: boolean;
  readonly description: string;
}

const STAT_DESCRIPTIONS: Readonly<Record<Exclude<keyof MatchStats, 'reasons'>, string>> = {
  accruals: 'Начислений прочитано (с отклонёнными)',
  payments: 'Платежей прочитано (с отклонёнными)',
  matched: 'Платежей разнесено',
  sameMonth: 'из них в начисление того же периода',
  oldest: 'из них в самое старое начисление',
  unmatched: 'Платежей без разноски',
  unpaid: 'Начислений не погашено',
  rejected: 'Записей отклонено',
  durationMs: 'Время разноски, мс',
};

const REASON_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'no-earlier-accrual': 'нет более раннего начисления',
  'earlier-accruals-paid': 'все более ранние начисления погашены другими платежами',
  'no-later-payment': 'нет более позднего платежа',
  'later-payments-used': 'более поздние платежи ушли на другие начисления',
  'time-barred': 'истёк срок исковой давности',
};

/**
 * The Summary sheet: the run's identity and request, and every figure of `stats` (reasons
 * included), each under its result.json name (`stats.reasons.unpaidAccruals.time-barred`).
 */
export function summaryLines(meta: ResultMeta, run: SummaryRun, stats: MatchStats): SummaryLine[] {
  const lines: SummaryLine[] = [
    { field: 'runId', value: meta.runId, description: 'Идентификатор запуска' },
    { field: 'policy', value: run.policy, description: 'Правило разноски' },
    {
      field: 'partitionBy',
      value: run.partitionBy ?? null,
      description: 'Поле разбиения (лицевой счёт); пусто — разноска по всей базе',
    },
    {
      field: 'limitationPeriod',
      value: run.limitationPeriod ?? null,
      description: 'Срок исковой давности (ISO 8601); пусто — без ограничения',
    },
    {
      field: 'generatedAt',
      value: Date.parse(meta.generatedAt),
      date: true,
      description: 'Время формирования результата (UTC)',
    },
  ];
  for (const [key, description] of Object.entries(STAT_DESCRIPTIONS)) {
    if (key === 'durationMs') continue;
    lines.push({ field: `stats.${key}`, value: stats[key as keyof typeof STAT_DESCRIPTIONS], description });
  }
  const reasons = [
    ['unmatchedPayments', 'Платежей без разноски', stats.reasons.unmatchedPayments],
    ['unpaidAccruals', 'Начислений не погашено', stats.reasons.unpaidAccruals],
  ] as const;
  for (const [list, label, counts] of reasons) {
    for (const [reason, count] of Object.entries(counts)) {
      lines.push({
        field: `stats.reasons.${list}.${reason}`,
        value: count,
        description: `${label}: ${REASON_DESCRIPTIONS[reason] ?? reason}`,
      });
    }
  }
  lines.push({
    field: 'stats.durationMs',
    value: stats.durationMs,
    description: STAT_DESCRIPTIONS.durationMs,
  });
  return lines;
}
