import { parseArgs } from 'node:util';

/** What one `npm run bench` does. */
export interface BenchOptions {
  readonly mode: 'full' | 'quick' | 'custom';
  /** n = m for the matcher, both policies. */
  readonly sizes: readonly number[];
  /** Sizes for the naive baseline (quadratic: keep them small). */
  readonly naiveSizes: readonly number[];
  /** Timed runs per measurement. */
  readonly runs: number;
  readonly seed: number;
  /** End-to-end size, or undefined to skip. */
  readonly e2eSize: number | undefined;
  readonly e2eRuns: number;
  /** Functions (functions/*.ts names) to bundle, `'all'`, or none. */
  readonly functions: 'all' | readonly string[];
  readonly initRuns: number;
  /** Profile the slowest policy at the largest size. */
  readonly profile: boolean;
  /** Actions summary: sessions of `SUMMARY_SHAPE.actionsPerSession` actions in one account; empty to skip. */
  readonly summarySessions: readonly number[];
  /** Actions summary: actions of the one-session control account, or undefined to skip it. */
  readonly summaryControlActions: number | undefined;
  /** Timed runs per actions-summary measurement (a slow first run is not repeated). */
  readonly summaryRuns: number;
  /** Where BENCHMARKS.md and benchmarks.svg are written. */
  readonly outDir: string;
}

const FULL_SIZES = [1e3, 1e4, 1e5, 1e6];
const QUICK_SIZES = [1e3, 1e4, 1e5];
const NAIVE_SIZES = [1e3, 1e4, 3e4];
const QUICK_NAIVE_SIZES = [1e3, 1e4];
const SUMMARY_SESSIONS = [1e3, 5e3, 2e4];
const QUICK_SUMMARY_SESSIONS = [1e3, 5e3];
const SUMMARY_CONTROL_ACTIONS = 1e5;
const QUICK_SUMMARY_CONTROL_ACTIONS = 2e4;

export const USAGE = `Usage: npm run bench -- [options]
  --quick              sizes up to 10^5, fewer runs, no profile (about a minute and a half)
  --sizes LIST         matcher sizes n = m, e.g. 1e3,1e4 or 1000,10000
  --naive-sizes LIST   naive baseline sizes (default: 10^3, 10^4, 3·10^4 up to the largest size)
  --runs N             timed runs per measurement (default 5; --quick: 3; actions summary: 3)
  --e2e-size N         end-to-end size (default 10^5); --skip-e2e to leave it out
  --functions LIST     function bundles to measure (default all); --skip-bundles to leave them out
  --init-runs N        fresh processes per bundle initialisation median (default 7)
  --profile            CPU-profile the slowest policy at the largest size (default in a full run)
  --skip-profile       do not
  --summary-sessions LIST
                       actions summary: sessions of 10 actions in one account
                       (default 10^3, 5·10^3, 2·10^4; --quick: 10^3, 5·10^3)
  --summary-control N  actions summary: actions of the one-session control account
                       (default 10^5; --quick: 2·10^4)
  --skip-summary       leave the actions summary out
  --seed N             input generator seed (default 1)
  --out-dir DIR        where BENCHMARKS.md and benchmarks.svg go (default docs)`;

/** Accepts 1000, 1_000, 1e3 and 10^3. */
export function parseSize(text: string): number {
  const trimmed = text.trim().replaceAll('_', '');
  const power = /^(\d+)\^(\d+)$/.exec(trimmed);
  const value = power ? Number(power[1]) ** Number(power[2]) : Number(trimmed);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`not a size: ${JSON.stringify(text)}`);
  return value;
}

function parseSizes(text: string): number[] {
  return [
    ...new Set(
      text
        .split(',')
        .filter((s) => s.trim() !== '')
        .map(parseSize),
    ),
  ].sort((a, b) => a - b);
}

function parseCount(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** Parses `npm run bench -- …` arguments; throws with a readable message on a bad flag. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      'naive-sizes': { type: 'string' },
      runs: { type: 'string' },
      'e2e-size': { type: 'string' },
      'skip-e2e': { type: 'boolean', default: false },
      functions: { type: 'string' },
      'skip-bundles': { type: 'boolean', default: false },
      'init-runs': { type: 'string' },
      profile: { type: 'boolean' },
      'skip-profile': { type: 'boolean', default: false },
      'summary-sessions': { type: 'string' },
      'summary-control': { type: 'string' },
      'skip-summary': { type: 'boolean', default: false },
      seed: { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new Error(USAGE);
  const quick = values.quick === true;
  const sizes = values.sizes === undefined ? (quick ? QUICK_SIZES : FULL_SIZES) : parseSizes(values.sizes);
  if (sizes.length === 0) throw new Error('--sizes is empty');
  const largest = Math.max(...sizes);
  const naiveSizes =
    values['naive-sizes'] === undefined
      ? (quick ? QUICK_NAIVE_SIZES : NAIVE_SIZES).filter((n) => n <= largest)
      : parseSizes(values['naive-sizes']);
  const functions = values['skip-bundles']
    ? []
    : values.functions === undefined
      ? 'all'
      : values.functions.split(',').filter((f) => f.trim() !== '');
  const skipSummary = values['skip-summary'] === true;
  const summarySessions = skipSummary
    ? []
    : values['summary-sessions'] === undefined
      ? quick
        ? QUICK_SUMMARY_SESSIONS
        : SUMMARY_SESSIONS
      : parseSizes(values['summary-sessions']);
  const summaryControlActions = skipSummary
    ? undefined
    : values['summary-control'] === undefined
      ? quick
        ? QUICK_SUMMARY_CONTROL_ACTIONS
        : SUMMARY_CONTROL_ACTIONS
      : parseSize(values['summary-control']);
  return {
    mode: quick ? 'quick' : values.sizes === undefined ? 'full' : 'custom',
    sizes,
    naiveSizes,
    runs: values.runs === undefined ? (quick ? 3 : 5) : parseCount(values.runs, 'runs'),
    seed: values.seed === undefined ? 1 : parseCount(values.seed, 'seed'),
    e2eSize: values['skip-e2e'] ? undefined : parseSize(values['e2e-size'] ?? '1e5'),
    e2eRuns: quick ? 1 : 3,
    functions,
    initRuns:
      values['init-runs'] === undefined ? (quick ? 3 : 7) : parseCount(values['init-runs'], 'init-runs'),
    profile: values['skip-profile'] ? false : (values.profile ?? !quick),
    summarySessions,
    summaryControlActions,
    summaryRuns: values.runs === undefined ? 3 : parseCount(values.runs, 'runs'),
    outDir: values['out-dir'] ?? 'docs',
  };
}
