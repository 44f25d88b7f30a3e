import { PassThrough } from 'node:stream';
import WorkbookWriter from 'exceljs/lib/stream/xlsx/workbook-writer.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SheetColumn, SheetRow } from '../../lib/matching/index.js';
import { sheetText, workbookChunks } from '../../lib/runs/workbook.js';
import { outputBytes, sheetXml } from '../support/workbook-reader.js';

/**
 * lib/runs/workbook.ts writes the data rows of the record sheets as XML itself (exceljs' per-cell
 * objects were most of the workbook's time). Those bytes must be the ones exceljs writes for the
 * same cells through its API, `sheet.addRow(values)`, cell styles, `row.commit()`, as the writer
 * did before: the reference below is that writer's row code, run by exceljs itself.
 */

const HEADER_STYLE = { font: { bold: true } };
const TEXT_STYLE = { numFmt: '@' };
const DATE_STYLE = { numFmt: 'yyyy-mm-dd hh:mm:ss' };
const NUMBER_STYLE = {};

/** The sheet's XML as exceljs writes it, rows through its API (the header first, bold). */
async function exceljsSheetXml(name: string, columns: readonly SheetColumn[], rows: readonly SheetRow[]) {
  const out = new PassThrough();
  const bytes = outputBytes(out);
  const workbook = new WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
    created: new Date(0),
    modified: new Date(0),
    creator: 'test',
    lastModifiedBy: 'test',
    zip: { zlib: { level: 1 } },
  });
  // The writer under test always writes a Summary sheet first (here without lines).
  for (const [sheetName, header] of [
    ['Summary', ['field', 'value', 'описание']],
    [name, columns.map((c) => c.header)],
  ] as const) {
    const sheet = workbook.addWorksheet(sheetName);
    const row = sheet.addRow([...header]);
    for (let i = 1; i <= header.length; i++) row.getCell(i).style = HEADER_STYLE;
    row.commit();
    if (sheetName === name) {
      for (const cells of rows) {
        const values: unknown[] = [];
        const styles: object[] = [];
        columns.forEach((column, i) => {
          const cell = cells[i];
          if (cell === null || cell === undefined) values[i] = undefined;
          else if (typeof cell === 'string') [values[i], styles[i]] = [sheetText(cell), TEXT_STYLE];
          else if (column.kind === 'date') [values[i], styles[i]] = [cell / 86_400_000 + 25_569, DATE_STYLE];
          else if (column.kind === 'month') [values[i], styles[i]] = [cell, NUMBER_STYLE];
          else [values[i], styles[i]] = [String(cell), TEXT_STYLE];
        });
        const added = sheet.addRow(values);
        values.forEach((value, i) => {
          if (value !== undefined) added.getCell(i + 1).style = styles[i] as object;
        });
        added.commit();
      }
    }
    sheet.commit();
  }
  await workbook.commit();
  return sheetXml(await bytes).get(name);
}

/** `<sheetData>…</sheetData>`: the rows (the rest of a sheet is exceljs' in both). */
const sheetData = (xml: string | undefined): string | undefined =>
  /<sheetData>.*<\/sheetData>/s.exec(xml ?? '')?.[0];

const columns: SheetColumn[] = [
  { header: 'id', kind: 'text', width: 26 },
  { header: 'date', kind: 'date', width: 21 },
  { header: 'month', kind: 'month', width: 15 },
  { header: 'note', kind: 'text', width: 24 },
];

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', '=SUM(A1)', '<a&b>"\'', 'x\u0000y\u0008\u000b\u001f\u007f', 'a\uFFFEb', '007'),
);
const cell = fc.oneof(
  text,
  fc.constant(null),
  fc.integer({ min: -1e13, max: 1e13 }),
  fc.double({ min: -1e15, max: 1e15, noNaN: true }),
);

describe('workbook data rows', () => {
  it('are the bytes exceljs writes for the same cells through its row API', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 30 }),
        async (rows) => {
          const content = {
            generatedAt: '2024-06-01T10:00:00.000Z',
            summary: [],
            sheets: [{ table: { name: 'Rows', columns }, rows }],
          };
          const ours = sheetXml(await outputBytes(workbookChunks(content))).get('Rows');
          const reference = await exceljsSheetXml('Rows', columns, rows);
          expect(sheetData(ours)).toBeDefined();
          expect(sheetData(ours)).toBe(sheetData(reference));
        },
      ),
      { numRuns: 60 },
    );
  });
});
