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
  unmatchedPaymentsCsvChunks,
} from '../matching/index.js';
import type { OutputSource } from './output-source.js';
import { PartitionIndexWriter } from './partition-index-writer.js';

/** Text buffered per file before one synchronous write. */
const WRITE_BUFFER_CHARS = 256 * 1024;
/** Read size when a file is streamed back. */
const READ_CHUNK_BYTES = 1024 * 1024;

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

/**
 * The outputs of a partition-at-a-time run (`matchPaymentsByPartition`), spilled to temporary
 * files under `os.tmpdir()` (Lambda's ephemeral `/tmp`) as each partition closes, so only one
 * partition's records are ever in memory. Once every partition is in (`close`), the outputs are
 * streamed back from the files, byte for byte what `matchesCsvChunks`, `unmatchedPaymentsCsvChunks`
 * and `resultJsonChunks` write for the whole run. `dispose` removes the files.
 */
export class SpilledOutputs implements OutputSource {
  private readonly matchesCsvFile: SpillFile;
  private readonly unmatchedCsvFile: SpillFile;
  private readonly matches: SpillFile;
  private readonly unmatched: SpillFile;
  private readonly unpaid: SpillFile;
  /** A whole run lists rejected accruals before rejected payments: two files keep that order. */
  private readonly rejectedAccruals: SpillFile;
  private readonly rejectedPayments: SpillFile;
  private readonly files: SpillFile[] = [];
  /** The partition lookup's data and index (lib/runs/partition-index-writer.ts). */
  private readonly partitions: PartitionIndexWriter;
  #stats: MatchStats | undefined;

  private constructor(
    private readonly dir: string,
    private readonly policy: Policy,
    private readonly partitionBy: string,
  ) {
    const file = (name: string): SpillFile => {
      const spill = new SpillFile(path.join(dir, name));
      this.files.push(spill);
      return spill;
    };
    try {
      this.matchesCsvFile = file('matches.csv');
      this.unmatchedCsvFile = file('unmatched-payments.csv');
      this.matches = file('matches.json');
      this.unmatched = file('unmatched-payments.json');
      this.unpaid = file('unpaid-accruals.json');
      this.rejectedAccruals = file('rejected-accruals.json');
      this.rejectedPayments = file('rejected-payments.json');
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

  /** Creates the files in a fresh temporary directory. */
  static async create(policy: Policy, partitionBy: string): Promise<SpilledOutputs> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'matching-run-'));
    try {
      return new SpilledOutputs(dir, policy, partitionBy);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Appends one partition's outputs (a `PartitionSink`): synchronous, so it can run inside the matcher. */
  readonly add = (part: MatchOutcome): void => {
    this.matchesCsvFile.append(matchesCsvChunks(part, { header: false }));
    this.unmatchedCsvFile.append(unmatchedPaymentsCsvChunks(part, { header: false }));
    this.matches.append(jsonElements(part.matches(), this.matches.nonEmpty));
    this.unmatched.append(jsonElements(part.unmatchedPayments(), this.unmatched.nonEmpty));
    this.unpaid.append(jsonElements(part.unpaidAccruals(), this.unpaid.nonEmpty));
    const accruals: RejectedRecord[] = [];
    const payments: RejectedRecord[] = [];
    for (const entry of part.rejected()) (entry.source === 'accrual' ? accruals : payments).push(entry);
    this.rejectedAccruals.append(jsonElements(accruals, this.rejectedAccruals.nonEmpty));
    this.rejectedPayments.append(jsonElements(payments, this.rejectedPayments.nonEmpty));
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

  partitionsJsonl(): AsyncIterable<string> {
    return this.partitions.dataChunks();
  }

  partitionIndex(): AsyncIterable<string> {
    return this.partitions.indexChunks();
  }

  async *resultJson(meta: ResultMeta): AsyncGenerator<string> {
    const frame = resultJsonFrame(this.policy, meta, this.stats);
    yield frame[0];
    yield* this.matches.read();
    yield frame[1];
    yield* this.unmatched.read();
    yield frame[2];
    yield* this.unpaid.read();
    yield frame[3];
    yield* this.rejectedAccruals.read();
    if (this.rejectedAccruals.nonEmpty && this.rejectedPayments.nonEmpty) yield ',';
    yield* this.rejectedPayments.read();
    yield frame[4];
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
