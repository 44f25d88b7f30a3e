/**
 * Quick timing probe for the matcher core (the benchmark suite is bench/run.ts): n accruals ×
 * n payments in random order with many date ties, both policies, against the floor of sorting 2n
 * numbers in a Float64Array measured in the same process. "Total" is match + walking every output
 * record (what serialising the result costs on top). Each configuration runs in a fresh child
 * process so its peak RSS is its own; a worker thread samples RSS while the match runs.
 *
 *   node --expose-gc --import tsx bench/matcher-probe.ts [n ...] [--dates=date|iso]
 *        [--partitions=K] [--layout=scattered] [--runs=R]
 *
 * `--layout=scattered` shuffles the records after creating them, so array order and memory order
 * disagree (a worst case: real inputs are allocated in read order).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type MatchOutcome, matchPayments } from '../lib/matching/index.js';
import type { Policy } from '../lib/matching/types.js';

const DAY = 86_400_000;
const START = Date.UTC(2022, 0, 1);
const DAYS = 1000;
const MONTHS = Array.from(
  { length: 24 },
  (_, i) => `${2022 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
);

interface ProbeOptions {
  readonly n: number;
  readonly policy: Policy;
  readonly dates: 'date' | 'iso';
  readonly partitions: number;
  readonly layout: 'allocation' | 'scattered';
  readonly runs: number;
}

/** Deterministic PRNG so every run sees the same data. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
}

/** Ids a permutation of 1..n, dates from 1000 days (a thousand records per date at 10^6). */
function makeRecords(options: ProbeOptions, lagDays: number, random: () => number): object[] {
  const ids = Array.from({ length: options.n }, (_, i) => i + 1);
  shuffle(ids, random);
  const records: object[] = [];
  for (let i = 0; i < options.n; i++) {
    const ms = START + (lagDays + Math.floor(random() * DAYS)) * DAY;
    const date = options.dates === 'date' ? new Date(ms) : new Date(ms).toISOString();
    const month = MONTHS[Math.floor(random() * MONTHS.length)];
    records.push(
      options.partitions > 0
        ? { id: ids[i], date, month, account: `ACC${Math.floor(random() * options.partitions)}` }
        : { id: ids[i], date, month },
    );
  }
  if (options.layout === 'scattered') shuffle(records, random);
  return records;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function floorMs(count: number, runs: number, random: () => number): number {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const keys = new Float64Array(count);
    for (let i = 0; i < count; i++) keys[i] = random();
    const t0 = performance.now();
    keys.sort();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Walks every output record, as serialising the result would. */
function consume(outcome: MatchOutcome): number {
  let touched = 0;
  for (const match of outcome.matches()) touched += match.payment.date.length + match.accrual.date.length;
  for (const record of outcome.unmatchedPayments()) touched += record.date.length;
  for (const record of outcome.unpaidAccruals()) touched += record.date.length;
  for (const entry of outcome.rejected()) touched += entry.reason.length;
  return touched;
}

const SAMPLER = `
const { workerData } = require('node:worker_threads');
const peak = new Float64Array(workerData);
for (;;) {
  const rss = process.memoryUsage.rss();
  if (rss > peak[0]) peak[0] = rss;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
}`;

async function child(options: ProbeOptions): Promise<void> {
  const random = mulberry32(42);
  const accruals = makeRecords(options, 0, random);
  const payments = makeRecords(options, 15, random);
  const matchOptions = {
    policy: options.policy,
    ...(options.partitions > 0 ? { partitionBy: 'account' } : {}),
  };
  const warmUp = makeRecords({ ...options, n: 2000 }, 0, random);
  for (let i = 0; i < 3; i++) consume(await matchPayments(warmUp, warmUp, matchOptions));
  const floor = floorMs(2 * options.n, 5, random);
  const shared = new SharedArrayBuffer(8);
  const peak = new Float64Array(shared);
  const sampler = new Worker(SAMPLER, { eval: true, workerData: shared });
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const before = process.memoryUsage.rss();
  peak[0] = before;
  const matchTimes: number[] = [];
  const totalTimes: number[] = [];
  let matched = 0;
  for (let run = 0; run < options.runs; run++) {
    gc();
    const t0 = performance.now();
    const outcome = await matchPayments(accruals, payments, matchOptions);
    const t1 = performance.now();
    consume(outcome);
    totalTimes.push(performance.now() - t0);
    matchTimes.push(t1 - t0);
    matched = outcome.stats.matched;
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  const peakBytes = Math.max(peak[0] as number, process.memoryUsage.rss()) - before;
  await sampler.terminate();
  const total = median(totalTimes);
  process.stdout.write(
    `${JSON.stringify({
      matchMs: Math.round(median(matchTimes)),
      totalMs: Math.round(total),
      runs: totalTimes.map(Math.round),
      floorMs: Math.round(floor),
      ratio: +(total / floor).toFixed(2),
      peakMiB: Math.round(peakBytes / 2 ** 20),
      matched,
    })}\n`,
  );
}

function parent(): void {
  const args = process.argv.slice(2);
  const sizes = args.filter((a) => /^\d/.test(a)).map(Number);
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const dates = value('dates') === 'iso' ? 'iso' : 'date';
  const partitions = Number(value('partitions') ?? 0);
  const layout = value('layout') === 'scattered' ? 'scattered' : 'allocation';
  const runs = Number(value('runs') ?? 5);
  const script = fileURLToPath(import.meta.url);
  console.log(
    `node ${process.version}, dates as ${dates}, partitions ${partitions || 'none'}, ${layout} layout, median of ${runs}`,
  );
  console.log('n\tpolicy\t\tmatch ms\ttotal ms\tfloor ms\ttotal/floor\tpeak MiB\tmatched\truns');
  for (const n of sizes.length > 0 ? sizes : [100_000, 1_000_000]) {
    for (const policy of ['chronological', 'month-first'] as const) {
      const config: ProbeOptions = { n, policy, dates, partitions, layout, runs };
      const run = spawnSync(
        process.execPath,
        [...process.execArgv, script, '--child', JSON.stringify(config)],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const r = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
      console.log(
        `${n}\t${policy.padEnd(13)}\t${r.matchMs}\t\t${r.totalMs}\t\t${r.floorMs}\t\t${r.ratio}\t\t${r.peakMiB}\t\t${r.matched}\t${JSON.stringify(r.runs)}`,
      );
    }
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(JSON.parse(process.argv[childAt + 1] ?? '{}') as ProbeOptions);
else parent();
