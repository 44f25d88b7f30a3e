// The part of exceljs that lib/runs/workbook.ts loads: its streaming workbook writer, imported by
// path so that the reader, CSV and in-memory parts of the package are not loaded. exceljs types
// only its package entry, so what the writer uses is declared here, including internals the
// workbook relies on (see lib/runs/workbook.ts): the zip archive (`zip`), the stream each sheet's
// XML is piped through (`stream.pipes`) and the defined names (`_definedNames`). exceljs is
// pinned in package.json.

declare module 'exceljs/lib/stream/xlsx/workbook-writer.js' {
  import type { Writable } from 'node:stream';

  interface XlsxCell {
    style: object;
  }

  interface XlsxRow {
    getCell(column: number): XlsxCell;
    /** Writes the row (and any before it) to the sheet's XML stream and forgets it. */
    commit(): void;
  }

  /** A Node stream of the `readable-stream` package (v2): its buffer lengths are in its states. */
  interface BufferedStream {
    readonly _writableState?: { readonly length: number };
    readonly _readableState?: { readonly length: number };
    once(event: 'drain', listener: () => void): unknown;
    removeListener(event: 'drain', listener: () => void): unknown;
  }

  interface XlsxSheet {
    readonly name: string;
    columns: Array<{ width: number }>;
    autoFilter: { from: { row: number; column: number }; to: { row: number; column: number } } | null;
    addRow(values: readonly unknown[]): XlsxRow;
    /** Writes the rest of the sheet (autofilter, …) and ends its XML stream. */
    commit(): void;
    /**
     * Internal: the sheet's XML buffer; `pipes[0]` is the zip entry's input. `write` is what the
     * sheet writes a committed row's XML with (lib/runs/workbook.ts writes data rows the same way).
     */
    readonly stream: { readonly pipes: readonly BufferedStream[]; write(xml: string): unknown };
  }

  interface SheetView {
    state: 'frozen';
    xSplit?: number;
    ySplit: number;
    topLeftCell?: string;
    activeCell?: string;
  }

  interface ZipArchive {
    append(source: unknown, data: { name: string; date?: Date }): unknown;
    on(event: 'error' | 'warning', listener: (error: unknown) => void): unknown;
  }

  interface WorkbookWriterOptions {
    stream: Writable;
    useStyles: boolean;
    useSharedStrings: boolean;
    created: Date;
    modified: Date;
    creator: string;
    lastModifiedBy: string;
    zip: { zlib: { level: number } };
  }

  class WorkbookWriter {
    constructor(options: WorkbookWriterOptions);
    addWorksheet(name: string, options?: { views?: SheetView[] }): XlsxSheet;
    /** Commits what is left, writes the workbook's parts, finalises the zip; resolves once `stream` finished. */
    commit(): Promise<unknown>;
    /**
     * Internal: the workbook's styles (`xl/styles.xml`): the id of a style object, registered on
     * first sight (by identity) as a cell of `cellType` (exceljs' `Enums.ValueType`).
     */
    readonly styles: { addStyleModel(style: object, cellType?: number): number };
    /** Internal: the archiver instance every part is appended to. */
    readonly zip: ZipArchive;
    /** Called by the constructor, after `zip` is set: adds the theme. */
    addThemes(): Promise<void>;
    /** Called by the constructor, after `zip` is set: adds the package relationships. */
    addOfficeRels(): Promise<void>;
    /** Called by `commit`: writes xl/workbook.xml with `_definedNames.model`, read synchronously. */
    addWorkbook(): Promise<void>;
    /** Internal: the workbook's defined names. */
    _definedNames: {
      readonly model: ReadonlyArray<{ name: string; ranges: string[]; localSheetId?: number }>;
    };
  }

  export = WorkbookWriter;
}

// exceljs' XML text escaping (`<>&'"` as entities, characters XML cannot hold dropped): data rows
// written directly (lib/runs/workbook.ts) escape text exactly as exceljs' own cells do.
declare module 'exceljs/lib/utils/utils.js' {
  const utils: { xmlEncode(text: string): string };
  export = utils;
}
