/**
 * Standalone measurement: the peak resident memory and the time of writing result.xlsx for a run of
 * `--size` accruals and as many payments (default 10^6 × 10^6), from either output source of the
 * job (lib/runs/output-source.ts):
 *
 *   node --expose-gc --import tsx bench/workbook-memory.ts --source memory
 *   node --expose-gc --import tsx bench/workbook-memory.ts --source spilled --accounts 100000
 *
 * `memory`: a run without a partition field, matched as a whole; the workbook is rendered from
 * its outcome, which stays in memory (it is part of the baseline). `spilled`: a run partitioned by
 * `account` (`--accounts` personal accounts, records spread evenly), matched one partition at a
 * time into temporary files (lib/runs/spill.ts); the inputs are released before writing, and the
 * workbook is written from the files. Either way the workbook goes to a file under the system's
 * temporary directory, as fast as the disk takes it (an S3 upload adds its own two 5 MB parts).
 *
 * Reported (one JSON line): the RSS before writing (baseline), the peak RSS while writing (Linux:
 * the kernel's high-water mark, reset before writing), their difference, the time, the workbook's
 * size and sheets, and for `spilled` the size of the spill files. `--sample-live` also collects the
 * heap every second while writing and reports the largest live heap above the baseline: RSS peaks
 * include garbage the collector has not reclaimed yet, live heap does not. Figures on a shared,
 * loaded machine are indicative only.
 */

import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { type MatchStats, matchPayments, matchPaymentsByPartition } from '../lib/matching/index.js';
import { type OutputSource, outcomeOutputs } from '../lib/runs/output-source.js';
import { SpilledOutputs } from '../lib/runs/spill.js';
import { XLSX_MAX_ROWS } from '../lib/runs/workbook.js';
import { generateMatchingInputs, type MatchingRecord } from './inputs.js';
import { PeakRss, residentBytes, settleHeap } from './memory.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    source: { type: 'string', default: 'memory' },
    accounts: { type: 'string', default: '100000' },
    'rows-per-sheet': { type: 'string', default: String(XLSX_MAX_ROWS) },
    /** Also collect the heap every second while writing, and report the largest live heap seen. */
    'sample-live': { type: 'boolean', default: false },
  },
});
const size = Number(values.size);
const source = values.source;
if (source !== 'memory' && source !== 'spilled') throw new Error('--source is memory or spilled');
const maxRowsPerSheet = Number(values['rows-per-sheet']);
const MIB = 1024 * 1024;

type Account = MatchingRecord & { readonly account: number };

/** Each record's personal account, then the order a `(account, date, id)` index gives. */
function byAccount(records: readonly MatchingRecord[], accounts: number): Account[] {
  const withAccount = records.map((record) => ({ ...record, account: record.id % accounts }));
  return withAccount.sort(
    (a, b) => a.account - b.account || a.date.getTime() - b.date.getTime() || a.id - b.id,
  );
}

/** Bytes of the spill files of a partitioned run: all of them, and the workbook's rows (`*.rows`). */
interface SpillSize {
  readonly totalMiB: number;
  readonly workbookRowsMiB: number;
}

async function spillDirs(): Promise<Set<string>> {
  const entries = await readdir(os.tmpdir());
  return new Set(entries.filter((entry) => entry.startsWith('matching-run-')));
}

async function spillSize(before: ReadonlySet<string>): Promise<SpillSize | undefined> {
  const created = [...(await spillDirs())].filter((dir) => !before.has(dir));
  if (created.length !== 1) return undefined;
  const dir = path.join(os.tmpdir(), created[0] as string);
  let total = 0;
  let rows = 0;
  for (const file of await readdir(dir)) {
    const { size: bytes } = await stat(path.join(dir, file));
    total += bytes;
    if (file.endsWith('.rows')) rows += bytes;
  }
  return { totalMiB: +(total / MIB).toFixed(1), workbookRowsMiB: +(rows / MIB).toFixed(1) };
}

async function produce(): Promise<{ outputs: OutputSource; stats: MatchStats; spill?: SpillSize }> {
  let inputs: { accruals: MatchingRecord[]; payments: MatchingRecord[] } | undefined = generateMatchingInputs(
    size,
    Number(values.seed),
  );
  const options = { workbook: { maxRowsPerSheet } };
  if (source === 'memory') {
    const outcome = await matchPayments(inputs.accruals, inputs.payments, { policy: 'chronological' });
    return { outputs: outcomeOutputs(outcome, options), stats: outcome.stats };
  }
  const accounts = Number(values.accounts);
  const accruals = byAccount(inputs.accruals, accounts);
  const payments = byAccount(inputs.payments, accounts);
  inputs = undefined;
  const before = await spillDirs();
  const spilled = await SpilledOutputs.create('chronological', 'account', undefined, options);
  const { stats } = await matchPaymentsByPartition(
    accruals,
    payments,
    { policy: 'chronological', partitionBy: 'account' },
    spilled.add,
  );
  // What the worker holds after matching: no input record (the arrays go out of scope here).
  accruals.length = 0;
  payments.length = 0;
  spilled.close(stats);
  const spill = await spillSize(before);
  return { outputs: spilled, stats, ...(spill === undefined ? {} : { spill }) };
}

const { outputs, stats, spill } = await produce();
const dir = await mkdtemp(path.join(os.tmpdir(), 'workbook-memory-'));
try {
  const file = path.join(dir, 'result.xlsx');
  settleHeap();
  const baseline = residentBytes();
  const peak = new PeakRss();
  peak.reset();
  const started = performance.now();
  const baselineHeap = process.memoryUsage().heapUsed;
  let liveHeap = baselineHeap;
  const sampler = values['sample-live']
    ? setInterval(() => {
        settleHeap();
        liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
      }, 1000)
    : undefined;
  const chunks = outputs.resultXlsx({ runId: 'bench', generatedAt: new Date().toISOString() });
  await pipeline(Readable.from(chunks), createWriteStream(file));
  clearInterval(sampler);
  const writeMs = performance.now() - started;
  const peakBytes = peak.peakBytes();
  const rows = stats.matched + stats.unmatched + stats.unpaid + stats.rejected;
  process.stdout.write(
    `${JSON.stringify({
      source,
      size,
      ...(source === 'spilled' ? { accounts: Number(values.accounts), spill } : {}),
      rows,
      sheets: {
        matches: Math.max(1, Math.ceil(stats.matched / (maxRowsPerSheet - 1))),
        unmatchedPayments: Math.max(1, Math.ceil(stats.unmatched / (maxRowsPerSheet - 1))),
        unpaidAccruals: Math.max(1, Math.ceil(stats.unpaid / (maxRowsPerSheet - 1))),
      },
      workbookMiB: +((await stat(file)).size / MIB).toFixed(1),
      writeSeconds: +(writeMs / 1000).toFixed(1),
      baselineRssMiB: Math.round(baseline / MIB),
      peakRssMiB: Math.round(peakBytes / MIB),
      peakOverBaselineMiB: Math.round((peakBytes - baseline) / MIB),
      peakMethod: peak.method,
      ...(sampler === undefined
        ? {}
        : { liveHeapOverBaselineMiB: +((liveHeap - baselineHeap) / MIB).toFixed(1) }),
      cpus: os.cpus().length,
      loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    })}\n`,
  );
} finally {
  await outputs.dispose();
  await rm(dir, { recursive: true, force: true });
}
