import * as XLSX from 'xlsx';

/**
 * Reads a workbook back with SheetJS (the `xlsx` package), which shares nothing with exceljs that
 * writes it, plus the raw XML of each sheet for what SheetJS does not report (frozen panes).
 */

/** A cell as a spreadsheet sees it. */
export type ReadCell =
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'number'; readonly value: number }
  /** A number shown with a date format: `value` is epoch milliseconds (UTC). */
  | { readonly type: 'date'; readonly value: number; readonly format: string }
  | { readonly type: 'formula'; readonly value: string }
  | { readonly type: 'other'; readonly value: unknown };

export interface ReadSheet {
  readonly name: string;
  /** Every row from the first, each cell in column order (`null` where a row has no cell). */
  readonly rows: ReadonlyArray<ReadonlyArray<ReadCell | null>>;
  /** The `<autoFilter ref>`, e.g. `A1:H10`. */
  readonly autoFilter: string | undefined;
  /** The sheet's `_xlnm._FilterDatabase` defined name, e.g. `'Matches'!$A$1:$H$10`. */
  readonly filterDatabase: string | undefined;
  /** Attributes of the sheet view's `<pane>` (`ySplit`, `state`, …). */
  readonly pane: Readonly<Record<string, string>> | undefined;
}

const MS_PER_DAY = 86_400_000;
const EPOCH_SERIAL = 25_569;

function attributes(tag: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [, name, value] of tag.matchAll(/([\w:]+)="([^"]*)"/g)) found[name as string] = value as string;
  return found;
}

function readCell(cell: XLSX.CellObject | undefined): ReadCell | null {
  if (cell === undefined) return null;
  if (cell.f !== undefined) return { type: 'formula', value: cell.f };
  if (cell.t === 's') return { type: 'text', value: String(cell.v) };
  if (cell.t === 'n') {
    const format = typeof cell.z === 'string' ? cell.z : undefined;
    if (format !== undefined && XLSX.SSF.is_date(format)) {
      return { type: 'date', value: Math.round(((cell.v as number) - EPOCH_SERIAL) * MS_PER_DAY), format };
    }
    return { type: 'number', value: cell.v as number };
  }
  return { type: 'other', value: cell.v };
}

type Files = Record<string, { content?: Uint8Array }>;

function fileText(files: Files, name: string): string {
  const content = files[name]?.content;
  if (content === undefined) throw new Error(`no ${name} in the workbook`);
  return Buffer.from(content).toString('utf8');
}

/** Every sheet of the workbook in `bytes`, in workbook order. */
export function readWorkbook(bytes: Uint8Array): ReadSheet[] {
  const book = XLSX.read(bytes, { type: 'buffer', cellNF: true, bookFiles: true } as XLSX.ParsingOptions);
  const files = (book as unknown as { files: Files }).files;
  const rels = fileText(files, 'xl/_rels/workbook.xml.rels');
  const targets = new Map(
    [...rels.matchAll(/<Relationship\b[^>]*>/g)].map(([tag]) => {
      const a = attributes(tag);
      return [a.Id, `xl/${(a.Target ?? '').replace(/^\/?xl\//, '')}`] as const;
    }),
  );
  const names = book.Workbook?.Names ?? [];
  return (book.Workbook?.Sheets ?? []).map((entry, index) => {
    const name = entry.name ?? '';
    const sheet = book.Sheets[name] as XLSX.WorkSheet;
    const xml = fileText(files, targets.get((entry as { id?: string }).id ?? '') ?? '');
    const range = XLSX.utils.decode_range(sheet['!ref'] ?? 'A1:A1');
    const rows: Array<Array<ReadCell | null>> = [];
    for (let r = 0; r <= range.e.r; r++) {
      const row: Array<ReadCell | null> = [];
      for (let c = 0; c <= range.e.c; c++) row.push(readCell(sheet[XLSX.utils.encode_cell({ r, c })]));
      rows.push(row);
    }
    const pane = /<pane\b[^>]*>/.exec(xml)?.[0];
    return {
      name,
      rows,
      autoFilter: /<autoFilter\b[^>]*\bref="([^"]+)"/.exec(xml)?.[1],
      filterDatabase: names.find((n) => n.Name === '_xlnm._FilterDatabase' && n.Sheet === index)?.Ref,
      pane: pane === undefined ? undefined : attributes(pane),
    };
  });
}

/** The cells of a row as plain values (text, numbers, dates as ISO text), for readable expectations. */
export function plainRow(row: ReadonlyArray<ReadCell | null>): unknown[] {
  return row.map((cell) => {
    if (cell === null) return null;
    if (cell.type === 'date') return new Date(cell.value).toISOString();
    return cell.value;
  });
}

/** The bytes of an output's chunks. */
export async function outputBytes(
  chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks)
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** The XML of each sheet of the workbook in `bytes`, by sheet name, in workbook order. */
export function sheetXml(bytes: Uint8Array): Map<string, string> {
  const book = XLSX.read(bytes, { type: 'buffer', bookFiles: true } as XLSX.ParsingOptions);
  const files = (book as unknown as { files: Files }).files;
  const rels = fileText(files, 'xl/_rels/workbook.xml.rels');
  const targets = new Map(
    [...rels.matchAll(/<Relationship\b[^>]*>/g)].map(([tag]) => {
      const a = attributes(tag);
      return [a.Id, `xl/${(a.Target ?? '').replace(/^\/?xl\//, '')}`] as const;
    }),
  );
  return new Map(
    (book.Workbook?.Sheets ?? []).map((entry) => [
      entry.name ?? '',
      fileText(files, targets.get((entry as { id?: string }).id ?? '') ?? ''),
    ]),
  );
}
