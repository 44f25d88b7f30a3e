import { PassThrough } from 'node:stream';
import type WorkbookWriter from 'exceljs/lib/stream/xlsx/workbook-writer.js';
import {
  type MatchStats,
  type ResultMeta,
  SHEET_TABLE_KEYS,
  type SheetColumn,
  type SheetRow,
  type SheetRows,
  type SheetTable,
  type SummaryLine,
  type SummaryRun,
  sheetTables,
  summaryLines,
} from '../matching/index.js';

/**
 * `result.xlsx`, the accountants' workbook (SPEC §8), written as a stream with exceljs' streaming
 * `WorkbookWriter`: a Summary sheet, then one sheet per table of rows (lib/matching/result-sheets.ts),
 * continued on `Name (2)`, `Name (3)`, … past the format's row limit. Rows are written as they
 * come and only a bounded amount of XML and zip data is buffered, so memory does not grow with
 * the run.
 *
 * exceljs is loaded on first use (`await import`), not when the worker initialises: it is not
 * part of the deployed bundles (serverless.yml ships it in the worker packages; README "Cold
 * starts").
 */

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
/** Rows per sheet in the xlsx format, the header row included. */
export const XLSX_MAX_ROWS = 1_048_576;
/** Characters per cell in the xlsx format; longer text is cut to this, ending with `…`. */
export const XLSX_MAX_CELL_TEXT = 32_767;

export interface WorkbookSheet {
  readonly table: SheetTable;
  readonly rows: Iterable<SheetRow> | AsyncIterable<SheetRow>;
}

export interface WorkbookContent {
  /** The Summary sheet's lines (lib/matching/result-sheets.ts `summaryLines`). */
  readonly summary: readonly SummaryLine[];
  /** The record sheets, in order; each is read once. */
  readonly sheets: readonly WorkbookSheet[];
  /**
   * When the result was generated (ISO 8601): the workbook's creation time and the date of every
   * file in it, so the same content always gives the same bytes.
   */
  readonly generatedAt: string;
}

export interface WorkbookOptions {
  /** Rows per sheet, header included, before a continuation sheet starts (default {@link XLSX_MAX_ROWS}; tests set less). */
  readonly maxRowsPerSheet?: number;
}

/** The workbook of a run: its Summary, then its four record sheets with these rows. */
export function runWorkbook(
  meta: ResultMeta,
  run: SummaryRun,
  stats: MatchStats,
  rows: SheetRows<Iterable<SheetRow> | AsyncIterable<SheetRow>>,
): WorkbookContent {
  const tables = sheetTables(run.partitionBy);
  return {
    generatedAt: meta.generatedAt,
    summary: summaryLines(meta, run, stats),
    sheets: SHEET_TABLE_KEYS.map((key) => ({ table: tables[key], rows: rows[key] })),
  };
}

type Writer = WorkbookWriter;
type Sheet = ReturnType<Writer['addWorksheet']>;
type WriterClass = new (...args: ConstructorParameters<typeof WorkbookWriter>) => Writer;
type XmlEncode = (text: string) => string;

interface Exceljs {
  readonly Writer: WriterClass;
  readonly xmlEncode: XmlEncode;
}

let exceljs: Promise<Exceljs> | undefined;

function defaultOf<T>(module: unknown): T {
  return ((module as { default?: T }).default ?? module) as T;
}

function loadExceljs(): Promise<Exceljs> {
  exceljs ??= Promise.all([
    import('exceljs/lib/stream/xlsx/workbook-writer.js'),
    import('exceljs/lib/utils/utils.js'),
  ]).then(([writer, utils]) => ({
    Writer: defaultOf<WriterClass>(writer),
    xmlEncode: defaultOf<{ xmlEncode: XmlEncode }>(utils).xmlEncode,
  }));
  return exceljs;
}

/** Rows written between two looks at how much XML is waiting for the zip. */
const ROWS_PER_PAUSE = 512;
/** XML a sheet may have waiting for the zip before the writer waits for it to drain. */
const MAX_PENDING_XML_BYTES = 1024 * 1024;
/** Bytes of the zip buffered for the reader. */
const OUTPUT_HIGH_WATER_MARK = 256 * 1024;

const MS_PER_DAY = 86_400_000;
/** Serial number of 1970-01-01 in the 1900 date system. */
const EPOCH_SERIAL = 25_569;

// Shared style objects: exceljs recognises a style object it has seen by identity, so each cell
// costs a lookup instead of a style resolution.
const HEADER_STYLE = { font: { bold: true } };
const TEXT_STYLE = { numFmt: '@' };
const DATE_STYLE = { numFmt: 'yyyy-mm-dd hh:mm:ss' };
const NUMBER_STYLE = {};
const FROZEN_HEADER = [{ state: 'frozen' as const, ySplit: 1, topLeftCell: 'A2', activeCell: 'A2' }];

/**
 * The workbook's bytes, chunk by chunk. Nothing is read from `content` before the first chunk is
 * asked for; stopping early (the consumer returns) stops reading the sheets' rows. An error of a
 * rows source is thrown from here unchanged.
 */
export async function* workbookChunks(
  content: WorkbookContent,
  options: WorkbookOptions = {},
): AsyncGenerator<Uint8Array> {
  const maxRows = options.maxRowsPerSheet ?? XLSX_MAX_ROWS;
  if (!Number.isInteger(maxRows) || maxRows < 2 || maxRows > XLSX_MAX_ROWS) {
    throw new RangeError(`rows per sheet must be 2..${XLSX_MAX_ROWS}, got ${maxRows}`);
  }
  const library = await loadExceljs();
  const out = new PassThrough({ highWaterMark: OUTPUT_HIGH_WATER_MARK });
  const stop = new AbortController();
  const writing = writeWorkbook(library, out, content, maxRows, stop.signal).catch((error: unknown) => {
    if (!stop.signal.aborted) out.destroy(error as Error);
  });
  try {
    for await (const chunk of out) yield chunk as Buffer;
  } finally {
    stop.abort();
    out.destroy();
    await writing;
  }
}

async function writeWorkbook(
  { Writer, xmlEncode }: Exceljs,
  out: PassThrough,
  content: WorkbookContent,
  maxRows: number,
  signal: AbortSignal,
): Promise<void> {
  const generatedAt = new Date(content.generatedAt);
  const filters: SheetFilter[] = [];
  const workbook = new (finishingWriterClass(Writer, generatedAt, filters))({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
    created: generatedAt,
    modified: generatedAt,
    creator: 'zhkh-billing-backend',
    lastModifiedBy: 'zhkh-billing-backend',
    zip: { zlib: { level: 6 } },
  });
  workbook.zip.on('error', (error) => out.destroy(error as Error));
  writeSummary(workbook, content.summary, filters);
  const rows = new DataRows(workbook, xmlEncode);
  for (const sheet of content.sheets) await writeTable(workbook, rows, sheet, maxRows, signal, filters);
  // Resolves once `out` has taken the last byte, so it waits for the reader; it never settles
  // if the reader went away (`out` destroyed), hence the abort.
  await unlessAborted(workbook.commit(), signal);
}

function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A sheet's autofilter: its position in the workbook (0-based) and its range. */
interface SheetFilter {
  readonly sheetIndex: number;
  readonly sheetName: string;
  readonly lastRow: number;
  readonly lastColumn: number;
}

/**
 * exceljs' writer, finishing the workbook the way spreadsheet applications expect:
 * - exceljs dates every file it adds to the zip with the current time, starting in its
 *   constructor (the theme and the package relationships): its first two calls are overridden to
 *   date them all with `date`, so the same content always gives the same bytes;
 * - each sheet's autofilter gets the hidden defined name `_xlnm._FilterDatabase` that Excel writes
 *   with it; LibreOffice shows no filter without it (exceljs writes only `<autoFilter>`).
 */
function finishingWriterClass(Writer: WriterClass, date: Date, filters: readonly SheetFilter[]): WriterClass {
  const dated = new WeakSet<object>();
  function dateEntries(zip: Writer['zip']): void {
    if (dated.has(zip)) return;
    dated.add(zip);
    const append = zip.append.bind(zip);
    zip.append = (source, data) => append(source, { ...data, date });
  }
  return class FinishingWorkbookWriter extends Writer {
    override addThemes(): Promise<void> {
      dateEntries(this.zip);
      return super.addThemes();
    }

    override addOfficeRels(): Promise<void> {
      dateEntries(this.zip);
      return super.addOfficeRels();
    }

    override addWorkbook(): Promise<void> {
      const own = this._definedNames;
      const model = [...own.model, ...filters.map(filterDatabaseName)];
      // addWorkbook reads the names synchronously; the writer's own ones are put back at once.
      this._definedNames = { model };
      try {
        return super.addWorkbook();
      } finally {
        this._definedNames = own;
      }
    }
  };
}

function filterDatabaseName(filter: SheetFilter): { name: string; ranges: string[]; localSheetId: number } {
  const sheet = `'${filter.sheetName.replaceAll("'", "''")}'`;
  return {
    name: '_xlnm._FilterDatabase',
    ranges: [`${sheet}!$A$1:$${columnLetters(filter.lastColumn)}$${filter.lastRow}`],
    localSheetId: filter.sheetIndex,
  };
}

/** `A` for 1, `Z` for 26, `AA` for 27, … */
function columnLetters(column: number): string {
  let letters = '';
  for (let n = column; n > 0; n = Math.floor((n - 1) / 26)) {
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  }
  return letters;
}

function openSheet(
  workbook: Writer,
  name: string,
  columns: readonly SheetColumn[],
  header: readonly string[],
): Sheet {
  const sheet = workbook.addWorksheet(name, { views: FROZEN_HEADER });
  sheet.columns = columns.map((column) => ({ width: column.width }));
  const row = sheet.addRow(header);
  for (let i = 1; i <= header.length; i++) row.getCell(i).style = HEADER_STYLE;
  row.commit();
  return sheet;
}

/** Sets the filter over the header and the data (`rows` rows in all), and finishes the sheet. */
function closeSheet(sheet: Sheet, rows: number, columns: number, filters: SheetFilter[]): void {
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: rows, column: columns } };
  // Every sheet is closed in the order it was added, so the filters count the sheets before it.
  filters.push({ sheetIndex: filters.length, sheetName: sheet.name, lastRow: rows, lastColumn: columns });
  sheet.commit();
}

function writeSummary(workbook: Writer, lines: readonly SummaryLine[], filters: SheetFilter[]): void {
  const columns: SheetColumn[] = [
    { header: 'field', kind: 'text', width: 56 },
    { header: 'value', kind: 'text', width: 28 },
    { header: 'описание', kind: 'text', width: 64 },
  ];
  const sheet = openSheet(workbook, 'Summary', columns, ['field', 'value', 'описание']);
  for (const line of lines) {
    const row = sheet.addRow([
      line.field,
      line.value === null
        ? undefined
        : line.date
          ? dateSerial(line.value as number)
          : textOrNumber(line.value),
      line.description,
    ]);
    row.getCell(1).style = TEXT_STYLE;
    row.getCell(2).style =
      line.date === true ? DATE_STYLE : typeof line.value === 'number' ? NUMBER_STYLE : TEXT_STYLE;
    row.getCell(3).style = TEXT_STYLE;
    row.commit();
  }
  closeSheet(sheet, lines.length + 1, columns.length, filters);
}

async function writeTable(
  workbook: Writer,
  dataRows: DataRows,
  { table, rows }: WorkbookSheet,
  maxRows: number,
  signal: AbortSignal,
  filters: SheetFilter[],
): Promise<void> {
  const { columns } = table;
  const header = columns.map((column) => column.header);
  let part = 1;
  let sheet = openSheet(workbook, table.name, columns, header);
  let written = 1;
  let sincePause = 0;
  for await (const cells of rows) {
    if (written === maxRows) {
      closeSheet(sheet, written, columns.length, filters);
      part += 1;
      sheet = openSheet(workbook, `${table.name} (${part})`, columns, header);
      written = 1;
    }
    written += 1;
    dataRows.write(sheet, written, cells, columns);
    if (++sincePause === ROWS_PER_PAUSE) {
      sincePause = 0;
      await drained(sheet, signal);
    }
  }
  closeSheet(sheet, written, columns.length, filters);
}

/** exceljs' cell types (`Enums.ValueType`), which a style is registered with. */
const NUMBER_CELL = 2;
const STRING_CELL = 3;

/**
 * Writes a record sheet's data rows as SpreadsheetML, straight into the sheet's XML stream, in
 * the very bytes exceljs writes for `sheet.addRow(values)` with these styles and `row.commit()`
 * (test/runs/workbook-rows.test.ts compares the two on random rows). exceljs builds a row object,
 * a cell object, a model and a style lookup per cell, then renders them through its XML stream:
 * most of the time of a run's workbook went there (about 20 s of CPU for 10^6 matches). Headers,
 * the Summary, filters and the workbook's other parts are still written by exceljs.
 *
 * A cell is one of: no cell (null), text (`t="str"`, Text format), a date (its serial number,
 * date format), a bare month number (General format).
 */
class DataRows {
  /** Style attributes by style object, asked of exceljs on first use, in the order exceljs would ask. */
  private readonly styleIds = new Map<object, string>();

  constructor(
    private readonly workbook: Writer,
    private readonly xmlEncode: XmlEncode,
  ) {}

  /** Writes row number `rowNumber` of `sheet`; nothing when every cell is empty (as exceljs). */
  write(sheet: Sheet, rowNumber: number, cells: SheetRow, columns: readonly SheetColumn[]): void {
    let xml = '';
    let first = 0;
    let last = 0;
    for (let i = 0; i < columns.length; i++) {
      const cell = cells[i];
      if (cell === null || cell === undefined) continue;
      const column = i + 1;
      if (first === 0) first = column;
      last = column;
      const address = `${columnLetters(column)}${rowNumber}`;
      const kind = (columns[i] as SheetColumn).kind;
      if (typeof cell === 'string') {
        xml += this.text(address, sheetText(cell));
      } else if (kind === 'date') {
        xml += `<c r="${address}"${this.style(DATE_STYLE, NUMBER_CELL)}><v>${dateSerial(cell)}</v></c>`;
      } else if (kind === 'month') {
        xml += `<c r="${address}"${this.style(NUMBER_STYLE, NUMBER_CELL)}><v>${cell}</v></c>`;
      } else {
        xml += this.text(address, String(cell));
      }
    }
    if (first === 0) return;
    sheet.stream.write(`<row r="${rowNumber}" spans="${first}:${last}" x14ac:dyDescent="0.25">${xml}</row>`);
  }

  private text(address: string, text: string): string {
    return `<c r="${address}"${this.style(TEXT_STYLE, STRING_CELL)} t="str"><v>${this.xmlEncode(text)}</v></c>`;
  }

  /** The ` s="id"` attribute of a style (none for style 0, as exceljs writes it). */
  private style(style: object, cellType: number): string {
    let attribute = this.styleIds.get(style);
    if (attribute === undefined) {
      const id = this.workbook.styles.addStyleModel(style, cellType);
      attribute = id ? ` s="${id}"` : '';
      this.styleIds.set(style, attribute);
    }
    return attribute;
  }
}

/**
 * Waits while the sheet has more XML waiting for the zip than {@link MAX_PENDING_XML_BYTES}.
 * exceljs writes each committed row into the zip entry's input stream without waiting for it
 * (it ignores `write()`'s backpressure), so without this pause a large sheet would pile up in
 * memory whenever compressing or uploading is slower than producing rows.
 */
async function drained(sheet: Sheet, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const input = sheet.stream.pipes[0];
  if (input === undefined) return;
  const pending = (input._writableState?.length ?? 0) + (input._readableState?.length ?? 0);
  if (pending <= MAX_PENDING_XML_BYTES) return;
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      input.removeListener('drain', onDrain);
      reject(signal.reason);
    };
    const onDrain = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    input.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A spreadsheet date: days since 1899-12-30 (UTC), the fraction being the time of day. */
function dateSerial(ms: number): number {
  return ms / MS_PER_DAY + EPOCH_SERIAL;
}

function textOrNumber(value: string | number): string | number {
  return typeof value === 'number' ? value : sheetText(value);
}

/** Characters XML 1.0 does not allow (exceljs drops the C0 controls itself). */
const NOT_XML = /[\uFFFE\uFFFF]/;
const NOT_XML_ALL = /[\uFFFE\uFFFF]/g;

/**
 * Text as a cell can hold it: at most {@link XLSX_MAX_CELL_TEXT} characters (cut text ends with
 * `…`, never in the middle of a surrogate pair), and no character XML forbids.
 */
export function sheetText(text: string): string {
  let cell = NOT_XML.test(text) ? text.replace(NOT_XML_ALL, '\uFFFD') : text;
  if (cell.length > XLSX_MAX_CELL_TEXT) {
    let end = XLSX_MAX_CELL_TEXT - 1;
    const last = cell.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end -= 1;
    cell = `${cell.slice(0, end)}…`;
  }
  return cell;
}
