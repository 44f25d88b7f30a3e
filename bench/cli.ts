/**
 * The command line on large exports (dist/cli.mjs, built from lib/cli/): in one run on the same
 * generated NDJSON files, `match` against the floor (bench/cli-floor.ts), the matching worker end
 * to end on those files (bench/measure-e2e.ts: embedded store → S3 and DynamoDB emulators), and,
 * with `--cli-big`, `match` at 10^7 × 10^7 (about 1.5 GB of NDJSON: each file beyond what one
 * string can hold). The command line is measured as the process an operator runs: wall time from
 * spawn to exit, its CPU time (the bench's `cutime`/`cstime` once it is reaped, its own children
 * included) and its peak RSS (`VmHWM` of it and its children, sampled every 50 ms).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildCli } from '../scripts/build-cli.js';
import { runChild, startServiceChild } from './child-process.js';
import type { ProcessMeasurement } from './cli-floor.js';
import { generateMatchingInputs, type MatchingRecord } from './inputs.js';
import type { E2eMeasurement } from './measure-e2e.js';

/**
 * The command line may take at most this many times the floor: wall time, what an operator waits
 * for (same files, same run; read it with the load average the page reports). Its CPU time is
 * shown too: it runs higher, since V8's parallel scavenges put the command's many live records
 * through helper threads on the other core, which the floor, keeping only numbers, barely uses.
 */
export const CLI_FLOOR_RATIO = 1.3;
/**
 * The worker end to end may take at most this many times the command line writing the same
 * outputs (`match --out DIR`: the CSV tables, the workbook and result.json, as the worker uploads
 * them), wall time, same files, same run. `match` alone (result.json on stdout) is reported too.
 */
export const CLI_E2E_RATIO = 2;

export interface CliRun extends ProcessMeasurement {
  readonly size: number;
  readonly inputBytes: number;
  readonly outputBytes: number;
}

export interface CliMeasurement {
  readonly size: number;
  /** 1-minute load average before and after the section. */
  readonly load: readonly [number, number];
  /** Wall time of `zhkh-billing --help`, median of 5 processes. */
  readonly helpMs: number;
  readonly floor: ProcessMeasurement;
  readonly cli: CliRun;
  /** `match --out DIR`: every output the worker writes, as files. */
  readonly cliOut: ProcessMeasurement;
  readonly e2e: E2eMeasurement | undefined;
  readonly big: CliRun | undefined;
}

/** `mongoexport`-style lines, written batch by batch: the inputs of 10^7 are never one string. */
async function writeNdjson(file: string, records: readonly MatchingRecord[]): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < records.length; i += 10_000) {
    const lines = records
      .slice(i, i + 10_000)
      .map((r) => `{"id":${r.id},"date":{"$date":"${r.date.toISOString()}"},"month":"${r.month}"}\n`);
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function writeInputs(dir: string, size: number, seed: number): Promise<number> {
  const inputs = generateMatchingInputs(size, seed);
  await writeNdjson(path.join(dir, 'accrual.ndjson'), inputs.accruals);
  await writeNdjson(path.join(dir, 'payment.ndjson'), inputs.payments);
  return (
    (await stat(path.join(dir, 'accrual.ndjson'))).size + (await stat(path.join(dir, 'payment.ndjson'))).size
  );
}

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time of this process's reaped children so far (Linux `/proc/self/stat` cutime + cstime), ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
}

/**
 * The largest `VmHWM` of `pid` and its child processes (for large inputs the command line runs
 * itself again with a larger heap, lib/cli/heap.ts: that child does the work).
 */
function highWaterMark(pid: number): number {
  let peak = 0;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    peak = match ? Number(match[1]) * 1024 : 0;
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ')) {
      if (child.trim() !== '') peak = Math.max(peak, highWaterMark(Number(child)));
    }
  } catch {
    // Gone, or not Linux.
  }
  return peak;
}

/** Runs the built command line with `args`, stdout to `outFile`; throws unless it exits 0. */
async function runCommandLine(
  bundle: string,
  args: readonly string[],
  outFile: string,
): Promise<ProcessMeasurement> {
  const out = await open(outFile, 'w');
  try {
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', out.fd, 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    let peak = 0;
    const sample = setInterval(() => {
      peak = Math.max(peak, child.pid === undefined ? 0 : highWaterMark(child.pid));
    }, 50);
    const [code] = (await once(child, 'close')) as [number | null];
    clearInterval(sample);
    const wallMs = performance.now() - started;
    if (code !== 0) throw new Error(`zhkh-billing ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
    return { wallMs, cpuMs: childrenCpuMs() - cpuBefore, peakRssBytes: peak };
  } finally {
    await out.close();
  }
}

async function measureMatch(bundle: string, dir: string, size: number, inputBytes: number): Promise<CliRun> {
  const output = path.join(dir, 'result.json');
  const m = await runCommandLine(
    bundle,
    ['match', '--accruals', path.join(dir, 'accrual.ndjson'), '--payments', path.join(dir, 'payment.ndjson')],
    output,
  );
  const outputBytes = (await stat(output)).size;
  await rm(output, { force: true });
  return { ...m, size, inputBytes, outputBytes };
}

/** `match --out DIR`: the outputs the worker uploads, written as files (then deleted). */
async function measureMatchOut(bundle: string, dir: string): Promise<ProcessMeasurement> {
  const out = path.join(dir, 'out');
  try {
    return await runCommandLine(
      bundle,
      [
        'match',
        '--accruals',
        path.join(dir, 'accrual.ndjson'),
        '--payments',
        path.join(dir, 'payment.ndjson'),
        '--out',
        out,
      ],
      path.join(dir, 'paths.txt'),
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function measureHelp(bundle: string, dir: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++)
    times.push((await runCommandLine(bundle, ['--help'], path.join(dir, 'help.txt'))).wallMs);
  return times.sort((a, b) => a - b)[2] as number;
}

/** The worker on the same files (bench/measure-e2e.ts, one run), emulators in their own process. */
async function measureWorker(dir: string, size: number): Promise<E2eMeasurement> {
  const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const emulators = await startServiceChild<{ env: Record<string, string> }>(['bench/emulator-host.ts'], {
    env,
  });
  try {
    return await runChild<E2eMeasurement>(
      ['bench/measure-e2e.ts', '--data-dir', dir, '--size', String(size), '--runs', '1'],
      {
        nodeFlags: ['--expose-gc'],
        timeoutMs: 10 * 60_000,
        env: { ...env, ...emulators.ready.env, DATA_DIR: dir },
      },
    );
  } finally {
    await emulators.stop();
  }
}

export interface CliOptions {
  readonly size: number;
  readonly big: boolean;
  readonly seed: number;
}

/** Runs the section; the generated files live in the OS temp dir and are always deleted. */
export async function measureCommandLine(
  o: CliOptions,
  progress: (line: string) => void,
): Promise<CliMeasurement> {
  const loadStart = os.loadavg()[0] ?? 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-cli-'));
  try {
    // Built from the current sources (scripts/build-cli.ts), as `npm ci` builds dist/cli.mjs.
    const bundle = await buildCli(path.join(dir, 'cli.mjs'));
    const helpMs = await measureHelp(bundle, dir);
    progress(`cli --help: ${helpMs.toFixed(0)} ms`);
    const inputBytes = await writeInputs(dir, o.size, o.seed);
    const cli = await measureMatch(bundle, dir, o.size, inputBytes);
    const floor = await runChild<ProcessMeasurement>(
      [
        'bench/cli-floor.ts',
        '--data-dir',
        dir,
        '--out',
        path.join(dir, 'floor.json'),
        '--bytes',
        String(cli.outputBytes),
      ],
      { timeoutMs: 10 * 60_000 },
    );
    await rm(path.join(dir, 'floor.json'), { force: true });
    progress(
      `cli n=${o.size}: ${cli.wallMs.toFixed(0)} ms (CPU ${cli.cpuMs.toFixed(0)}), floor ${floor.wallMs.toFixed(0)} ms (CPU ${floor.cpuMs.toFixed(0)})`,
    );
    const cliOut = await measureMatchOut(bundle, dir);
    progress(`cli --out n=${o.size}: ${cliOut.wallMs.toFixed(0)} ms (CPU ${cliOut.cpuMs.toFixed(0)})`);
    const e2e = await measureWorker(dir, o.size);
    progress(`worker end to end n=${o.size}: ${e2e.median.totalMs.toFixed(0)} ms`);
    let big: CliRun | undefined;
    if (o.big) {
      // Room on disk for the large files.
      await rm(path.join(dir, 'accrual.ndjson'), { force: true });
      await rm(path.join(dir, 'payment.ndjson'), { force: true });
      const bigDir = await mkdtemp(path.join(os.tmpdir(), 'bench-cli-big-'));
      try {
        const bytes = await writeInputs(bigDir, 10 * o.size, o.seed);
        big = await measureMatch(bundle, bigDir, 10 * o.size, bytes);
        progress(
          `cli n=${10 * o.size}: ${big.wallMs.toFixed(0)} ms, peak RSS ${(big.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
        );
      } finally {
        await rm(bigDir, { recursive: true, force: true });
      }
    }
    return { size: o.size, load: [loadStart, os.loadavg()[0] ?? 0], helpMs, floor, cli, cliOut, e2e, big };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MIB = 2 ** 20;
const fixed = (value: number, digits = 0): string => value.toFixed(digits);
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;

function runRow(label: string, m: ProcessMeasurement, inputBytes: number): string {
  return row([label, fixed(m.wallMs), fixed(m.cpuMs), fixed(m.peakRssBytes / MIB), fixed(inputBytes / MIB)]);
}

/** The section of docs/BENCHMARKS.md. */
export function renderCommandLine(m: CliMeasurement | undefined): string[] {
  if (m === undefined) return [];
  const n = m.size.toExponential(0).replace('e+', '·10^').replace(/^1·/, '');
  const cpuRatio = m.cli.cpuMs / m.floor.cpuMs;
  const wallRatio = m.cli.wallMs / m.floor.wallMs;
  const lines = [
    `## Command line: ${n} accruals × ${n} payments, NDJSON`,
    '',
    '`zhkh-billing match` (dist/cli.mjs) as an operator runs it, output to a file, against the floor on the same',
    'files (bench/cli-floor.ts: `JSON.parse` line by line, date keys sorted in a `Float64Array`, a JSON document of',
    `the same size, ${fixed(m.cli.outputBytes / MIB)} MiB, written with \`JSON.stringify\`); then the matching worker end`,
    'to end on the same files (bench/measure-e2e.ts, one run). CPU time is steadier than wall time on a shared',
    `machine: 1-minute load average ${fixed(m.load[0], 1)} at the start, ${fixed(m.load[1], 1)} at the end.`,
    '',
    row(['run', 'wall ms', 'CPU ms', 'peak RSS MiB', 'input MiB']),
    row(['---', '--:', '--:', '--:', '--:']),
    runRow('`match`', m.cli, m.cli.inputBytes),
    runRow('floor', m.floor, m.cli.inputBytes),
    runRow('`match --out DIR` (every output)', m.cliOut, m.cli.inputBytes),
    ...(m.big
      ? [
          runRow(
            `\`match\`, ${m.big.size.toExponential(0).replace('e+', '·10^').replace(/^1·/, '')} × same`,
            m.big,
            m.big.inputBytes,
          ),
        ]
      : []),
    '',
    `\`match\` / floor: ${fixed(wallRatio, 2)}× wall (target ≤ ${CLI_FLOOR_RATIO}×: ` +
      `**${wallRatio <= CLI_FLOOR_RATIO ? 'pass' : 'FAIL'}**), ${fixed(cpuRatio, 2)}× CPU. \`--help\` starts and exits in ${fixed(m.helpMs)} ms (median of 5).`,
  ];
  if (m.e2e !== undefined) {
    const e = m.e2e.median;
    const ratio = e.totalMs / m.cliOut.wallMs;
    const writes = Object.entries(e.writeByOutput)
      .map(([file, ms]) => `${file} ${fixed(ms)}`)
      .join(', ');
    lines.push(
      '',
      `Worker end to end (embedded store → S3 and DynamoDB emulators, every output): ${fixed(e.totalMs)} ms, ` +
        `${fixed(ratio, 2)}× \`match --out DIR\` (the same outputs as files; target ≤ ${CLI_E2E_RATIO}×: ` +
        `**${ratio <= CLI_E2E_RATIO ? 'pass' : 'FAIL'}**), ${fixed(e.totalMs / m.cli.wallMs, 2)}× \`match\` (result.json only). ` +
        `Phases: read ${fixed(e.readMs)} ms (in the store cursors' \`next()\`: file load, parse, sort, copies),` +
        ` match ${fixed(e.matchMs)} ms, write ${fixed(e.writeMs)} ms (${writes} ms: rendering and the multipart upload of each), ledger ${fixed(e.ledgerMs)} ms;` +
        ` CPU ${fixed(e.cpuMs)} ms, ${fixed(e.cpuMs / m.cliOut.cpuMs, 2)}× \`match --out DIR\`'s (the worker's process, not the emulators'); peak RSS ${fixed(e.peakRssBytes / MIB)} MiB.`,
    );
  }
  return lines;
}
