import { ObjectId } from 'bson';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../../bench/inputs.js';
import {
  leftoversCsvHeader,
  type MatchResult,
  matchesCsvHeader,
  matchPayments,
  type OutputRecord,
  toMatchResult,
} from '../../lib/matching/index.js';
import { outcomeOutputs } from '../../lib/runs/output-source.js';
import { RUN_OUTPUTS } from '../../lib/runs/outputs.js';
import {
  sheetText,
  type WorkbookContent,
  workbookChunks,
  XLSX_CONTENT_TYPE,
  XLSX_MAX_CELL_TEXT,
} from '../../lib/runs/workbook.js';
import {
  outputBytes,
  plainRow,
  type ReadCell,
  type ReadSheet,
  readWorkbook,
} from '../support/workbook-reader.js';

/**
 * result.xlsx (SPEC §8), read back with SheetJS, which shares no code with exceljs that writes it.
 */

const meta = { runId: 'run-workbook', generatedAt: '2024-06-01T10:00:00.000Z' };
const OID = '65a1b2c3d4e5f60718293a4b';
const LONG_NOTE = 'x'.repeat(XLSX_MAX_CELL_TEXT + 5_000);

const accruals = [
  { id: '007', date: '2024-01-05T00:00:00Z', month: '2024-01', account: '007800' },
  { id: 7_800_000_000_000, date: '2024-01-10T12:34:56.789Z', month: 1, account: '007800' },
  { id: '=SUM(A1:A9)', date: '2024-02-01', month: '2024-02', account: 7_800_000_000_001 },
  { id: new ObjectId(OID), date: '1899-12-31T00:00:00Z', month: '1899-12', account: 7_800_000_000_001 },
  { id: 'unpaid', date: '2024-05-01', month: '2024-05', account: 7_800_000_000_001 },
  { id: 'bad-date', date: '2024-02-30', month: '2024-02', account: '007800' },
  { id: '+79120000000', date: '2024-03-01', month: '2024-13', account: '007800' },
  { id: 'no-account', date: '2024-03-01', month: '2024-03' },
];
const payments = [
  { id: '-5', date: '2024-01-20', month: '2024-01', account: '007800' },
  { id: '@p', date: '2024-02-15', month: '2024-05', account: '007800' },
  { id: 'early', date: '2023-01-01', month: '2023-01', account: '007800' },
  { id: 42, date: '2024-01-01', month: '2024-01', account: 7_800_000_000_001 },
  { id: 'late', date: '2024-06-01', month: { $date: '2024-06-15T00:00:00Z' }, account: 7_800_000_000_001 },
  { id: 'long', date: 'nope', month: '2024-06', note: LONG_NOTE, account: 7_800_000_000_001 },
];

async function workbookOf(partitionBy: string | undefined, maxRowsPerSheet?: number) {
  const outcome = await matchPayments([...accruals], [...payments], { policy: 'chronological', partitionBy });
  const source = outcomeOutputs(
    outcome,
    maxRowsPerSheet === undefined ? {} : { workbook: { maxRowsPerSheet } },
  );
  const bytes = await outputBytes(source.resultXlsx(meta));
  return { result: toMatchResult(outcome, meta), bytes, sheets: readWorkbook(bytes) };
}

function sheet(sheets: readonly ReadSheet[], name: string): ReadSheet {
  const found = sheets.find((s) => s.name === name);
  if (!found) throw new Error(`no sheet ${name}`);
  return found;
}

const text = (value: string): ReadCell => ({ type: 'text', value });

/** What an id or partition value must read as: text, digits for numbers, hex for ObjectIds. */
function idText(value: unknown): ReadCell {
  if (typeof value === 'number') return text(String(value));
  if (typeof value === 'string') return text(value);
  return text((value as { $oid: string }).$oid);
}

/** A record's date: a spreadsheet date when a spreadsheet can show it, else its ISO text. */
function dateOf(iso: string): ReadCell {
  const ms = Date.parse(iso);
  return ms < Date.UTC(1900, 2, 1) ? text(iso) : { type: 'date', value: ms, format: 'yyyy-mm-dd hh:mm:ss' };
}

function monthOf(month: string | number): ReadCell {
  return typeof month === 'number' ? { type: 'number', value: month } : text(month);
}

function leftoverRow(record: OutputRecord & { reason: string }, partition: boolean): ReadCell[] {
  return [
    ...(partition ? [idText(record.account)] : []),
    idText(record.id),
    dateOf(record.date),
    monthOf(record.month),
    text(record.reason),
  ];
}

function csvColumns(header: string): string[] {
  return header.trim().split(',');
}

describe('result.xlsx', () => {
  it('is uploaded as an xlsx workbook, after the CSV tables and before result.json', () => {
    const names = RUN_OUTPUTS.map((output) => output.file);
    expect(names).toContain('result.xlsx');
    expect(names).toContain('unpaid-accruals.csv');
    expect(names.at(-1)).toBe('result.json');
    expect(RUN_OUTPUTS.find((output) => output.file === 'result.xlsx')?.contentType).toBe(XLSX_CONTENT_TYPE);
  });

  describe('of a partitioned run', () => {
    let result: MatchResult;
    let sheets: ReadSheet[];

    beforeAll(async () => {
      ({ result, sheets } = await workbookOf('account'));
    });

    it('has the Summary, then the four record sheets', () => {
      expect(sheets.map((s) => s.name)).toEqual([
        'Summary',
        'Matches',
        'Unmatched payments',
        'Unpaid accruals',
        'Rejected',
      ]);
    });

    it('heads each record sheet with the CSV columns, partition first', () => {
      const header = (name: string) => sheet(sheets, name).rows[0]?.map((cell) => cell?.value);
      expect(header('Matches')).toEqual(csvColumns(matchesCsvHeader('account')));
      expect(header('Unmatched payments')).toEqual(csvColumns(leftoversCsvHeader('account')));
      expect(header('Unpaid accruals')).toEqual(csvColumns(leftoversCsvHeader('account')));
      expect(header('Rejected')).toEqual(['partition', 'source', 'reason', 'id', 'date', 'month', 'record']);
    });

    it('has a row per element of result.json in each record sheet', () => {
      expect(result.matches.length).toBeGreaterThan(1);
      expect(result.unmatchedPayments.length).toBeGreaterThan(0);
      expect(result.unpaidAccruals.length).toBeGreaterThan(0);
      expect(result.rejected.length).toBeGreaterThan(2);
      expect(sheet(sheets, 'Matches').rows).toHaveLength(result.matches.length + 1);
      expect(sheet(sheets, 'Unmatched payments').rows).toHaveLength(result.unmatchedPayments.length + 1);
      expect(sheet(sheets, 'Unpaid accruals').rows).toHaveLength(result.unpaidAccruals.length + 1);
      expect(sheet(sheets, 'Rejected').rows).toHaveLength(result.rejected.length + 1);
    });

    it('writes matches with text ids and partitions, real dates, and months as given', () => {
      expect(sheet(sheets, 'Matches').rows.slice(1)).toEqual(
        result.matches.map(({ payment, accrual, rule }) => [
          idText(payment.account),
          idText(payment.id),
          dateOf(payment.date),
          monthOf(payment.month),
          idText(accrual.id),
          dateOf(accrual.date),
          monthOf(accrual.month),
          text(rule),
        ]),
      );
    });

    it('writes unmatched payments and unpaid accruals with their reasons', () => {
      expect(sheet(sheets, 'Unmatched payments').rows.slice(1)).toEqual(
        result.unmatchedPayments.map((record) => leftoverRow(record, true)),
      );
      expect(sheet(sheets, 'Unpaid accruals').rows.slice(1)).toEqual(
        result.unpaidAccruals.map((record) => leftoverRow(record, true)),
      );
    });

    it('keeps long account numbers and leading zeros as text, and ObjectIds as hex', () => {
      const cells = sheets.flatMap((s) => s.rows.flat());
      const texts = cells.flatMap((cell) => (cell?.type === 'text' ? [cell.value] : []));
      expect(texts).toContain('7800000000000');
      expect(texts).toContain('7800000000001');
      expect(texts).toContain('007');
      expect(texts).toContain('007800');
      expect(texts).toContain(OID);
      const numbers = cells.flatMap((cell) => (cell?.type === 'number' ? [cell.value] : []));
      expect(numbers.filter((n) => n > 12)).toEqual(
        // Only the Summary's figures are plain numbers (and bare months 1–12).
        sheet(sheets, 'Summary')
          .rows.flatMap((row) => (row[1]?.type === 'number' ? [row[1].value] : []))
          .filter((n) => n > 12),
      );
    });

    it('writes text that starts like a formula as text, never as a formula', () => {
      const cells = sheets.flatMap((s) => s.rows.flat());
      expect(cells.filter((cell) => cell?.type === 'formula')).toEqual([]);
      const texts = cells.flatMap((cell) => (cell?.type === 'text' ? [cell.value] : []));
      for (const value of ['=SUM(A1:A9)', '-5', '@p', '+79120000000']) expect(texts).toContain(value);
    });

    it('keeps the milliseconds of a date, and writes a date no spreadsheet can show as ISO text', () => {
      const cells = sheet(sheets, 'Matches').rows.flat();
      expect(cells).toContainEqual({
        type: 'date',
        value: Date.parse('2024-01-10T12:34:56.789Z'),
        format: 'yyyy-mm-dd hh:mm:ss',
      });
      expect(cells).toContainEqual(text('1899-12-31T00:00:00.000Z'));
    });

    it('lists rejected records with what can be read of them and the whole record as JSON', () => {
      const rows = sheet(sheets, 'Rejected').rows.slice(1);
      expect(rows.map((row) => [row[0], row[1], row[2]])).toEqual(
        result.rejected.map((entry) => [
          (entry.record as { account?: unknown }).account === undefined
            ? null
            : idText((entry.record as { account?: unknown }).account),
          text(entry.source),
          text(entry.reason),
        ]),
      );
      const byId = new Map(rows.map((row) => [row[3]?.value, row]));
      expect(plainRow(byId.get('bad-date') ?? [])).toEqual([
        '007800',
        'accrual',
        expect.stringMatching(/date/),
        'bad-date',
        null,
        '2024-02',
        expect.any(String),
      ]);
      expect(plainRow(byId.get('+79120000000') ?? []).slice(3, 6)).toEqual([
        '+79120000000',
        '2024-03-01T00:00:00.000Z',
        null,
      ]);
      for (const [i, entry] of result.rejected.entries()) {
        const record = rows[i]?.[6];
        expect(record?.type).toBe('text');
        const json = String(record?.value);
        if (json.length < XLSX_MAX_CELL_TEXT) expect(JSON.parse(json)).toEqual(entry.record);
      }
    });

    it('cuts text longer than a cell holds, and says so with an ellipsis', () => {
      const long = sheet(sheets, 'Rejected').rows.find((row) => row[3]?.value === 'long')?.[6];
      expect(String(long?.value)).toHaveLength(XLSX_MAX_CELL_TEXT);
      expect(String(long?.value).endsWith('x…')).toBe(true);
      expect(String(long?.value).startsWith('{"id":"long"')).toBe(true);
    });

    it('freezes the header row and filters every sheet over all its rows, with the name Excel gives a filter', () => {
      for (const { name, rows, pane, autoFilter, filterDatabase } of sheets) {
        expect(pane, name).toMatchObject({ state: 'frozen', ySplit: '1', topLeftCell: 'A2' });
        const lastColumn = String.fromCharCode('A'.charCodeAt(0) + (rows[0]?.length ?? 1) - 1);
        expect(autoFilter, name).toBe(`A1:${lastColumn}${rows.length}`);
        expect(filterDatabase, name).toBe(`'${name}'!$A$1:$${lastColumn}$${rows.length}`);
      }
    });

    it('sums up the run: its request, when it was generated, and every figure of stats', () => {
      const summary = new Map(
        sheet(sheets, 'Summary')
          .rows.slice(1)
          .map((row) => [row[0]?.value, row[1]]),
      );
      expect(summary.get('runId')).toEqual(text(meta.runId));
      expect(summary.get('policy')).toEqual(text('chronological'));
      expect(summary.get('partitionBy')).toEqual(text('account'));
      expect(summary.get('limitationPeriod')).toBeNull();
      expect(summary.get('generatedAt')).toMatchObject({ type: 'date', value: Date.parse(meta.generatedAt) });
      const { reasons, ...figures } = result.stats;
      for (const [key, value] of Object.entries(figures)) {
        expect(summary.get(`stats.${key}`), key).toEqual({ type: 'number', value });
      }
      for (const [list, counts] of Object.entries(reasons)) {
        for (const [reason, value] of Object.entries(counts)) {
          expect(summary.get(`stats.reasons.${list}.${reason}`), reason).toEqual({ type: 'number', value });
        }
      }
      expect(
        sheet(sheets, 'Summary')
          .rows.slice(1)
          .every((row) => typeof row[2]?.value === 'string'),
      ).toBe(true);
    });
  });

  it('has no partition column for a run without a partition field', async () => {
    const { result, sheets } = await workbookOf(undefined);
    expect(sheet(sheets, 'Matches').rows[0]?.map((cell) => cell?.value)).toEqual(
      csvColumns(matchesCsvHeader(undefined)),
    );
    expect(sheet(sheets, 'Unpaid accruals').rows.slice(1)).toEqual(
      result.unpaidAccruals.map((record) => leftoverRow(record, false)),
    );
    const summary = new Map(sheet(sheets, 'Summary').rows.map((row) => [row[0]?.value, row[1]]));
    expect(summary.get('partitionBy')).toBeNull();
  });

  it('continues a sheet that would pass the row limit on numbered sheets, each with its header', async () => {
    const limit = 3;
    const { result, sheets } = await workbookOf('account', limit);
    const parts = (name: string) => sheets.filter((s) => s.name === name || s.name.startsWith(`${name} (`));
    const rowsOf = (name: string, count: number) => {
      const found = parts(name);
      expect(found.map((s) => s.name)).toEqual(
        Array.from({ length: Math.max(1, Math.ceil(count / (limit - 1))) }, (_, i) =>
          i === 0 ? name : `${name} (${i + 1})`,
        ),
      );
      for (const part of found) {
        expect(part.rows.length, part.name).toBeLessThanOrEqual(limit);
        expect(part.rows[0], part.name).toEqual(found[0]?.rows[0]);
        expect(part.autoFilter, part.name).toMatch(new RegExp(`^A1:[A-Z]${part.rows.length}$`));
        expect(part.filterDatabase, part.name).toMatch(
          new RegExp(`^'${part.name.replace(/[()]/g, '\\$&')}'!\\$A\\$1:\\$[A-Z]\\$${part.rows.length}$`),
        );
      }
      return found.flatMap((part) => part.rows.slice(1));
    };
    expect(rowsOf('Matches', result.matches.length)).toHaveLength(result.matches.length);
    expect(rowsOf('Rejected', result.rejected.length)).toHaveLength(result.rejected.length);
    const whole = await workbookOf('account');
    expect(rowsOf('Unpaid accruals', result.unpaidAccruals.length)).toEqual(
      sheet(whole.sheets, 'Unpaid accruals').rows.slice(1),
    );
  });

  it('writes the same bytes for the same run', async () => {
    const outcome = await matchPayments([...accruals], [...payments], { partitionBy: 'account' });
    const first = await outputBytes(outcomeOutputs(outcome).resultXlsx(meta));
    const second = await outputBytes(outcomeOutputs(outcome).resultXlsx(meta));
    expect(first.length).toBeGreaterThan(1_000);
    expect(first.equals(second)).toBe(true);
  });

  it('writes an empty run as headers only', async () => {
    const outcome = await matchPayments([], [], { policy: 'month-first' });
    const sheets = readWorkbook(await outputBytes(outcomeOutputs(outcome).resultXlsx(meta)));
    expect(sheets.map((s) => [s.name, s.rows.length, s.autoFilter])).toEqual([
      ['Summary', expect.any(Number), expect.stringMatching(/^A1:C\d+$/)],
      ['Matches', 1, 'A1:G1'],
      ['Unmatched payments', 1, 'A1:D1'],
      ['Unpaid accruals', 1, 'A1:D1'],
      ['Rejected', 1, 'A1:F1'],
    ]);
  });
});

describe('workbook text cells', () => {
  it('keep text up to the cell limit and cut longer text without splitting a surrogate pair', () => {
    expect(sheetText('a'.repeat(XLSX_MAX_CELL_TEXT))).toHaveLength(XLSX_MAX_CELL_TEXT);
    const cut = sheetText(`${'a'.repeat(XLSX_MAX_CELL_TEXT - 2)}😀tail`);
    expect(cut).toBe(`${'a'.repeat(XLSX_MAX_CELL_TEXT - 2)}…`);
    expect(sheetText('a\uFFFEb\uFFFF')).toBe('a\uFFFDb\uFFFD');
  });
});

describe('workbook streaming', () => {
  const table = {
    name: 'Rows',
    columns: [
      { header: 'id', kind: 'text' as const, width: 10 },
      { header: 'date', kind: 'date' as const, width: 20 },
    ],
  };

  function content(
    rows: Iterable<readonly [string, number]> | AsyncIterable<readonly [string, number]>,
  ): WorkbookContent {
    return { generatedAt: meta.generatedAt, summary: [], sheets: [{ table, rows }] };
  }

  // Rows of random text: the zip's buffers hold compressed bytes, so only rows that do not
  // compress away show how many rows those buffers let through (a few MB, a few thousand rows).
  it('stops reading rows while nobody reads the workbook, and releases them when it stops', async () => {
    const total = 60_000;
    const random = createRandom(7);
    let pulled = 0;
    let finished = false;
    function* rows(): Generator<readonly [string, number]> {
      try {
        for (; pulled < total; ) {
          pulled += 1;
          const noise = Array.from({ length: 100 }, () => Math.floor(random() * 2 ** 32).toString(36)).join(
            '',
          );
          yield [noise, Date.UTC(2024, 0, 1) + pulled * 1000];
        }
      } finally {
        finished = true;
      }
    }
    const chunks = workbookChunks(content(rows()));
    await chunks.next();
    // Wait until the writer has stopped pulling rows (it waits for the reader).
    let seen = -1;
    while (seen !== pulled) {
      seen = pulled;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(pulled).toBeGreaterThan(1_000);
    expect(pulled).toBeLessThan(total / 3);
    await chunks.return(undefined);
    await expect.poll(() => finished).toBe(true);
    expect(pulled).toBeLessThan(total / 3);
  });

  it('throws the error of a rows source unchanged', async () => {
    const cause = new Error('spill file is gone');
    async function* rows(): AsyncGenerator<readonly [string, number]> {
      yield ['a', 0];
      throw cause;
    }
    await expect(outputBytes(workbookChunks(content(rows())))).rejects.toBe(cause);
  });

  it('refuses a row limit the format cannot hold', async () => {
    await expect(outputBytes(workbookChunks(content([]), { maxRowsPerSheet: 1_048_577 }))).rejects.toThrow(
      RangeError,
    );
    await expect(outputBytes(workbookChunks(content([]), { maxRowsPerSheet: 1 }))).rejects.toThrow(
      RangeError,
    );
  });
});
