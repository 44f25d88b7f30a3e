import { parseArgs } from 'node:util';
import { DEFAULT_FIND_BATCH_SIZE } from '../lib/store/mongo-store.js';

/** What one `npm run bench` does. */
export interface BenchOptions {
  readonly mode: 'full' | 'quick' | 'custom';
  /** n = m for the matcher, both policies; empty to skip. */
  readonly sizes: readonly number[];
  /** Sizes for the naive baseline (quadratic: keep them small). */
  readonly naiveSizes: readonly number[];
  /** Timed runs per measurement. */
  readonly runs: number;
  readonly seed: number;
  /** Documents per batch of the modelled cursor (bench/cursor.ts). */
  readonly batchSize: number;
  /** Profile the slower policy at the largest size, and the slowest bundle's import. */
  readonly profile: boolean;
  /** End-to-end size, or undefined to skip. */
  readonly e2eSize: number | undefined;
  readonly e2eRuns: number;
  /** Command line section (bench/cli.ts): n = m, and whether to add 10 n; undefined to skip. */
  readonly cli: { readonly size: number; readonly big: boolean } | undefined;
  /** Actions summary: sessions of 10 actions in one account; empty to skip. */
  readonly summarySessions: readonly number[];
  /** Actions summary: actions of the one-session control account, or undefined to skip it. */
  readonly summaryControlActions: number | undefined;
  readonly summaryRuns: number;
  /** Partition lookups: accruals = payments of the partitioned run, or undefined to skip. */
  readonly lookupSize: number | undefined;
  /** Partitions (accounts) of that run. */
  readonly lookupPartitions: number;
  /** Timed lookups of random partitions. */
  readonly lookups: number;
  /** Sharded run against the same data unsharded: records in all (accruals + payments) and shards; undefined to skip. */
  readonly shards: { readonly size: number; readonly shards: number } | undefined;
  /** Function bundles (functions/*.ts names) to measure; empty to skip. */
  readonly functions: 'all' | readonly string[];
  readonly initRuns: number;
  /** Where BENCHMARKS.md goes. */
  readonly outDir: string;
}

export const SECTIONS = ['core', 'profile', 'e2e', 'cli', 'lookup', 'shards', 'summary', 'bundles'] as const;

export const USAGE = `Usage: npm run bench -- [options]
  --quick                 n up to 10^5, fewer runs, no profile (a minute or two)
  --sizes LIST            matcher sizes n = m (default 1e3,1e4,1e5,1e6), e.g. 1e3,1e4 or 1000,10000
  --naive-sizes LIST      naive baseline sizes (default 1e3,1e4,3e4 up to the largest size)
  --runs N                timed runs per measurement (default 5; --quick: 3; actions summary: 3)
  --batch-size N          documents per cursor batch (default ${DEFAULT_FIND_BATCH_SIZE}, as lib/store/mongo-store.ts)
  --e2e-size N            end-to-end size (default 1e5)
  --cli-size N            command line vs floor and worker, same files (default 1e6; --quick: 1e5)
  --cli-big               also the command line at 10 × --cli-size (1e7: about 1.5 GB of NDJSON, minutes)
  --lookup-size N         partition lookups: accruals = payments of the run (default 1e6; --quick: 1e5)
  --lookup-partitions N   partitions of that run (default 1e5; --quick: 1e4)
  --lookups N             timed lookups of random partitions (default 1000; --quick: 200)
  --shards-size N         sharded vs unsharded partitioned run: accruals + payments (default 1e6; --quick: 1e5)
  --shards N              shards of that run (default 8)
  --summary-sessions LIST actions summary: sessions of 10 actions (default 1e3,5e3,2e4; --quick: 1e3,5e3)
  --summary-control N     actions summary: actions of the one-session control (default 1e5; --quick: 2e4)
  --functions LIST        function bundles to measure (default all)
  --init-runs N           fresh processes per bundle median (default 7; --quick: 3)
  --profile               CPU profiles (default in a full run)
  --skip LIST             leave out sections: ${SECTIONS.join(', ')}
  --seed N                input generator seed (default 1)
  --out-dir DIR           where BENCHMARKS.md goes (default docs)
  --help`;

/** Accepts 1000, 1_000, 1e3 and 10^3. */
export function parseSize(text: string): number {
  const trimmed = text.trim().replaceAll('_', '');
  const power = /^(\d+)\^(\d+)$/.exec(trimmed);
  const value = power ? Number(power[1]) ** Number(power[2]) : Number(trimmed);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`not a size: ${JSON.stringify(text)}`);
  return value;
}

const list = (text: string): string[] => text.split(',').filter((s) => s.trim() !== '');
const sizes = (text: string): number[] => [...new Set(list(text).map(parseSize))].sort((a, b) => a - b);

/** Parses the arguments after `npm run bench --`; throws on unknown flags or bad values. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions & { readonly help: boolean } {
  const text = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      help: { type: 'boolean' },
      profile: { type: 'boolean' },
      sizes: text,
      'naive-sizes': text,
      runs: text,
      'batch-size': text,
      'e2e-size': text,
      'cli-size': text,
      'cli-big': { type: 'boolean' },
      'lookup-size': text,
      'lookup-partitions': text,
      lookups: text,
      'shards-size': text,
      shards: text,
      'summary-sessions': text,
      'summary-control': text,
      functions: text,
      'init-runs': text,
      skip: text,
      seed: text,
      'out-dir': text,
    },
  });
  const quick = v.quick === true;
  const skip = new Set(list(v.skip ?? ''));
  for (const section of skip) {
    if (!(SECTIONS as readonly string[]).includes(section))
      throw new Error(`--skip: unknown section ${section}`);
  }
  const core = skip.has('core') ? [] : sizes(v.sizes ?? (quick ? '1e3,1e4,1e5' : '1e3,1e4,1e5,1e6'));
  const largest = Math.max(0, ...core);
  return {
    help: v.help === true,
    mode: quick ? 'quick' : v.sizes === undefined ? 'full' : 'custom',
    sizes: core,
    naiveSizes: skip.has('core')
      ? []
      : v['naive-sizes'] !== undefined
        ? sizes(v['naive-sizes'])
        : [1e3, 1e4, 3e4].filter((n) => n <= largest && (!quick || n <= 1e4)),
    runs: parseSize(v.runs ?? (quick ? '3' : '5')),
    seed: parseSize(v.seed ?? '1'),
    batchSize: parseSize(v['batch-size'] ?? String(DEFAULT_FIND_BATCH_SIZE)),
    profile: !skip.has('profile') && (v.profile ?? !quick),
    e2eSize: skip.has('e2e') ? undefined : parseSize(v['e2e-size'] ?? '1e5'),
    e2eRuns: quick ? 1 : 3,
    cli: skip.has('cli')
      ? undefined
      : { size: parseSize(v['cli-size'] ?? (quick ? '1e5' : '1e6')), big: v['cli-big'] === true },
    lookupSize: skip.has('lookup') ? undefined : parseSize(v['lookup-size'] ?? (quick ? '1e5' : '1e6')),
    lookupPartitions: parseSize(v['lookup-partitions'] ?? (quick ? '1e4' : '1e5')),
    lookups: parseSize(v.lookups ?? (quick ? '200' : '1000')),
    shards: skip.has('shards')
      ? undefined
      : { size: parseSize(v['shards-size'] ?? (quick ? '1e5' : '1e6')), shards: parseSize(v.shards ?? '8') },
    summarySessions: skip.has('summary')
      ? []
      : sizes(v['summary-sessions'] ?? (quick ? '1e3,5e3' : '1e3,5e3,2e4')),
    summaryControlActions: skip.has('summary')
      ? undefined
      : parseSize(v['summary-control'] ?? (quick ? '2e4' : '1e5')),
    summaryRuns: v.runs === undefined ? 3 : parseSize(v.runs),
    functions: skip.has('bundles') ? [] : v.functions === undefined ? 'all' : list(v.functions),
    initRuns: parseSize(v['init-runs'] ?? (quick ? '3' : '7')),
    outDir: v['out-dir'] ?? 'docs',
  };
}
