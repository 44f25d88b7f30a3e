import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  jsonElements,
  leftoversCsvHeader,
  type MatchOutcome,
  type MatchStats,
  matchesCsvChunks,
  matchesCsvHeader,
  type Policy,
  type RejectedRecord,
  type ResultMeta,
  resultJsonFrame,
  type SheetRow,
  sheetRows,
  sheetTables,
  unmatchedPaymentsCsvChunks,
  unpaidAccrualsCsvChunks,
} from '../matching/index.js';
import type { OutputOptions, OutputSource } from './output-source.js';
import { PartitionIndexWriter } from './partition-index-writer.js';
import { runWorkbook, workbookChunks } from './workbook.js';

/**
 * Where each array's elements are in result.json: byte ranges `[start, end)` of the compact,
 * comma-separated elements without brackets (empty when there are none). `rejected` is rejected
 * accruals, then rejected payments: two ranges.
 */
export interface ResultJsonLayout {
  matches: [number, number];
  unmatchedPayments: [number, number];
  unpaidAccruals: [number, number];
  rejectedAccruals: [number, number];
  rejectedPayments: [number, number];
}

/** Text buffered per file before one synchronous write. */
const WRITE_BUFFER_CHARS = 256 * 1024;
/** Read size when a file is streamed back. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Workbook rows per chunk appended to a spill file. */
const ROWS_PER_CHUNK = 256;

/** Workbook rows as JSON lines: a row is a JSON array of strings, numbers and nulls (lib/matching/result-sheets.ts). */
function* jsonLines(rows: Iterable<SheetRow>): Iterable<string> {
  let batch: string[] = [];
  for (const row of rows) {
    batch.push(JSON.stringify(row));
    if (batch.length === ROWS_PER_CHUNK) {
      yield `${batch.join('\n')}\n`;
      batch = [];
    }
  }
  if (batch.length > 0) yield `${batch.join('\n')}\n`;
}

/** The rows {@link jsonLines} wrote, read back from the file's text. */
async function* rowsOfJsonLines(chunks: AsyncIterable<string>): AsyncGenerator<SheetRow> {
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      yield JSON.parse(text.slice(start, end)) as SheetRow;
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) throw new Error('a spilled workbook row is cut off');
}

/** One output section written to a temporary file as it is produced, then read back once. */
class SpillFile {
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingChars = 0;
  /** Something was written (JSON sections: the next elements need a leading comma). */
  nonEmpty = false;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  append(chunks: Iterable<string>): void {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.nonEmpty = true;
      this.pending.push(chunk);
      this.pendingChars += chunk.length;
      if (this.pendingChars >= WRITE_BUFFER_CHARS) this.flush();
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    writeSync(this.fd as number, this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
  }

  /** Writes what is buffered and closes the file. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** Closes the file (when still open without error). */
  discard(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  async *read(): AsyncGenerator<string> {
    if (!this.nonEmpty) return;
    const stream = createReadStream(this.file, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES });
    for await (const chunk of stream) yield chunk as string;
  }
}

/** The text of `files`, one after the other. */
async function* readAll(files: readonly SpillFile[]): AsyncGenerator<string> {
  for (const file of files) yield* file.read();
}

/**
 * The outputs of a partition-at-a-time run (`matchPaymentsByPartition`), spilled to temporary
 * files under `os.tmpdir()` (Lambda's ephemeral `/tmp`) as each partition closes, so only one
 * partition's records are ever in memory. Once every partition is in (`close`), the outputs are
 * streamed back from the files, byte for byte what `outcomeOutputs` (lib/runs/output-source.ts)
 * writes for the whole run: the CSV tables and result.json from their text, result.xlsx from the
 * rows of its sheets (JSON lines). `dispose` removes the files.
 */
export class SpilledOutputs implements OutputSource {
  private readonly matchesCsvFile: SpillFile;
  private readonly unmatchedCsvFile: SpillFile;
  private readonly unpaidCsvFile: SpillFile;
  private readonly matches: SpillFile;
  private readonly unmatched: SpillFile;
  private readonly unpaid: SpillFile;
  /** A whole run lists rejected accruals before rejected payments: two files keep that order. */
  private readonly rejectedAccruals: SpillFile;
  private readonly rejectedPayments: SpillFile;
  /** The workbook's sheets, as rows; rejected ones split by source as above. */
  private readonly matchRows: SpillFile;
  private readonly unmatchedRows: SpillFile;
  private readonly unpaidRows: SpillFile;
  private readonly rejectedAccrualRows: SpillFile;
  private readonly rejectedPaymentRows: SpillFile;
  /** Where the `source` of a rejected record is in its workbook row. */
  private readonly rejectedSourceColumn: number;
  private readonly files: SpillFile[] = [];
  /** The partition lookup's data and index (lib/runs/partition-index-writer.ts). */
  private readonly partitions: PartitionIndexWriter;
  #stats: MatchStats | undefined;

  private constructor(
    private readonly dir: string,
    private readonly policy: Policy,
    private readonly partitionBy: string,
    private readonly limitationPeriod: string | undefined,
    private readonly options: OutputOptions,
  ) {
    this.rejectedSourceColumn = sheetTables(partitionBy).rejected.columns.findIndex(
      (column) => column.header === 'source',
    );
    const file = (name: string): SpillFile => {
      const spill = new SpillFile(path.join(dir, name));
      this.files.push(spill);
      return spill;
    };
    try {
      this.matchesCsvFile = file('matches.csv');
      this.unmatchedCsvFile = file('unmatched-payments.csv');
      this.unpaidCsvFile = file('unpaid-accruals.csv');
      this.matches = file('matches.json');
      this.unmatched = file('unmatched-payments.json');
      this.unpaid = file('unpaid-accruals.json');
      this.rejectedAccruals = file('rejected-accruals.json');
      this.rejectedPayments = file('rejected-payments.json');
      this.matchRows = file('matches.rows');
      this.unmatchedRows = file('unmatched-payments.rows');
      this.unpaidRows = file('unpaid-accruals.rows');
      this.rejectedAccrualRows = file('rejected-accruals.rows');
      this.rejectedPaymentRows = file('rejected-payments.rows');
      this.partitions = new PartitionIndexWriter(
        partitionBy,
        file('partitions.jsonl'),
        file('partition-index.jsonl'),
      );
    } catch (error) {
      for (const spill of this.files) spill.discard();
      throw error;
    }
  }

  /** Creates the files in a fresh temporary directory; `limitationPeriod` is the run's (canonical), for result.json. */
  static async create(
    policy: Policy,
    partitionBy: string,
    limitationPeriod?: string,
    options: OutputOptions = {},
  ): Promise<SpilledOutputs> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'matching-run-'));
    try {
      return new SpilledOutputs(dir, policy, partitionBy, limitationPeriod, options);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Appends one partition's outputs (a `PartitionSink`): synchronous, so it can run inside the matcher. */
  readonly add = (part: MatchOutcome): void => {
    this.matchesCsvFile.append(matchesCsvChunks(part, { header: false }));
    this.unmatchedCsvFile.append(unmatchedPaymentsCsvChunks(part, { header: false }));
    this.unpaidCsvFile.append(unpaidAccrualsCsvChunks(part, { header: false }));
    this.matches.append(jsonElements(part.matches(), this.matches.nonEmpty));
    this.unmatched.append(jsonElements(part.unmatchedPayments(), this.unmatched.nonEmpty));
    this.unpaid.append(jsonElements(part.unpaidAccruals(), this.unpaid.nonEmpty));
    const accruals: RejectedRecord[] = [];
    const payments: RejectedRecord[] = [];
    for (const entry of part.rejected()) (entry.source === 'accrual' ? accruals : payments).push(entry);
    this.rejectedAccruals.append(jsonElements(accruals, this.rejectedAccruals.nonEmpty));
    this.rejectedPayments.append(jsonElements(payments, this.rejectedPayments.nonEmpty));
    const rows = sheetRows(part);
    this.matchRows.append(jsonLines(rows.matches));
    this.unmatchedRows.append(jsonLines(rows.unmatchedPayments));
    this.unpaidRows.append(jsonLines(rows.unpaidAccruals));
    const accrualRows: SheetRow[] = [];
    const paymentRows: SheetRow[] = [];
    for (const row of rows.rejected) {
      (row[this.rejectedSourceColumn] === 'accrual' ? accrualRows : paymentRows).push(row);
    }
    this.rejectedAccrualRows.append(jsonLines(accrualRows));
    this.rejectedPaymentRows.append(jsonLines(paymentRows));
    this.partitions.add(part);
  };

  /** Writes out what is buffered; call once every partition was added, with the run's stats, before reading. */
  close(stats: MatchStats): void {
    this.partitions.close();
    for (const spill of this.files) spill.close();
    this.#stats = stats;
  }

  get stats(): MatchStats {
    if (this.#stats === undefined) throw new Error('spilled outputs are read before they were closed');
    return this.#stats;
  }

  async *matchesCsv(): AsyncGenerator<string> {
    yield matchesCsvHeader(this.partitionBy);
    yield* this.matchesCsvFile.read();
  }

  async *unmatchedPaymentsCsv(): AsyncGenerator<string> {
    yield leftoversCsvHeader(this.partitionBy);
    yield* this.unmatchedCsvFile.read();
  }

  async *unpaidAccrualsCsv(): AsyncGenerator<string> {
    yield leftoversCsvHeader(this.partitionBy);
    yield* this.unpaidCsvFile.read();
  }

  resultXlsx(meta: ResultMeta): AsyncGenerator<Uint8Array> {
    const run = {
      policy: this.policy,
      partitionBy: this.partitionBy,
      limitationPeriod: this.limitationPeriod,
    };
    const rows = (...files: SpillFile[]) => rowsOfJsonLines(readAll(files));
    return workbookChunks(
      runWorkbook(meta, run, this.stats, {
        matches: rows(this.matchRows),
        unmatchedPayments: rows(this.unmatchedRows),
        unpaidAccruals: rows(this.unpaidRows),
        rejected: rows(this.rejectedAccrualRows, this.rejectedPaymentRows),
      }),
      this.options.workbook,
    );
  }

  partitionsJsonl(): AsyncIterable<string> {
    return this.partitions.dataChunks();
  }

  partitionIndex(): AsyncIterable<string> {
    return this.partitions.indexChunks();
  }

  /**
   * Where each array's elements were in the result.json last written whole
   * ({@link resultJson}): a sharded run's merge copies these byte ranges (lib/runs/shards/).
   */
  get resultJsonLayout(): ResultJsonLayout | undefined {
    return this.#layout;
  }

  #layout: ResultJsonLayout | undefined;

  /** result.json, recording where each array's elements are in its bytes as they go ({@link resultJsonLayout}). */
  async *resultJson(meta: ResultMeta): AsyncGenerator<string> {
    const frame = resultJsonFrame(this.policy, meta, this.stats, this.limitationPeriod);
    const layout: Partial<ResultJsonLayout> = {};
    let at = 0;
    const text = (chunk: string): string => {
      at += Buffer.byteLength(chunk, 'utf8');
      return chunk;
    };
    async function* section(name: keyof ResultJsonLayout, file: SpillFile): AsyncGenerator<string> {
      const start = at;
      for await (const chunk of file.read()) yield text(chunk);
      layout[name] = [start, at];
    }
    this.#layout = undefined;
    yield text(frame[0]);
    yield* section('matches', this.matches);
    yield text(frame[1]);
    yield* section('unmatchedPayments', this.unmatched);
    yield text(frame[2]);
    yield* section('unpaidAccruals', this.unpaid);
    yield text(frame[3]);
    yield* section('rejectedAccruals', this.rejectedAccruals);
    if (this.rejectedAccruals.nonEmpty && this.rejectedPayments.nonEmpty) yield text(',');
    yield* section('rejectedPayments', this.rejectedPayments);
    yield text(frame[4]);
    this.#layout = layout as ResultJsonLayout;
  }

  /** Closes and removes the files (best effort: a leftover in /tmp goes with the sandbox). */
  async dispose(): Promise<void> {
    for (const spill of this.files) {
      try {
        spill.discard();
      } catch {
        // already closed, or the descriptor is gone: nothing to release
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
