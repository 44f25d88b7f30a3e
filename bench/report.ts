import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './child-process.js';
import { renderCommandLine } from './cli.js';
import { COLD_REQUEST_FUNCTION } from './cold-request.js';
import { PROFILE_INTERVAL_US } from './cpu-profile.js';
import { INPUT_SHAPE } from './inputs.js';
import type { BenchResults } from './suite.js';
import { SUMMARY_SHAPE } from './summary-inputs.js';
import {
  criticalPathMs,
  evaluateTargets,
  growthExponent,
  growthSteps,
  MIB,
  median,
  peakAboveInputs,
  TARGETS,
} from './targets.js';

/**
 * A Markdown table: `header` as its cells joined by ` | `, `align` one letter (`l`, `r`) per
 * column. Not padded: {@link formatMarkdown} does that.
 */
function table(header: string, align: string, rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = [...align].map((a) => (a === 'r' ? '--:' : '---'));
  return [`| ${header} |`, line(rule), ...rows.map(line)].join('\n');
}

function size(n: number): string {
  const exponent = Math.floor(Math.log10(n));
  const mantissa = n / 10 ** exponent;
  if (!Number.isInteger(mantissa)) return n.toLocaleString('en-US');
  return mantissa === 1 ? `10^${exponent}` : `${mantissa}·10^${exponent}`;
}

function ms(value: number): string {
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

const mib = (bytes: number): string => (bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0);
const kib = (bytes: number): string => (bytes / 1024).toFixed(0);
const share = (part: number, total: number): string => `${((part / total) * 100).toFixed(0)}%`;
const code = (text: string): string => (text === '' ? '' : `\`${text}\``);

function targets(r: BenchResults): string[] {
  const status = { pass: '**pass**', fail: '**FAIL**', 'not measured': 'not measured' } as const;
  const rows = evaluateTargets(r.core, r.e2e, r.bundles, r.lookup, r.shards).map((t) => [
    t.target,
    t.measured,
    status[t.status],
  ]);
  return ['## Targets', '', table('target | measured | status', 'lll', rows)];
}

function matcher(r: BenchResults): string[] {
  if (r.core.length === 0) return [];
  const steps = growthSteps(r.core);
  const kinds = ['chronological', 'month-first', 'naive'];
  const rows = [...r.core]
    .sort((a, b) => a.size - b.size || kinds.indexOf(a.kind) - kinds.indexOf(b.kind))
    .map((m) => [
      size(m.size),
      m.kind === 'naive' ? 'naive baseline' : m.kind,
      String(m.runsMs.length),
      ms(m.medianMs),
      m.kind === 'naive' ? '—' : ms(m.matchMedianMs),
      m.kind === 'naive' ? '—' : ms(m.outputMedianMs),
      ms(m.cpuMedianMs),
      ms(m.floorMedianMs),
      (m.medianMs / m.floorMedianMs).toFixed(1),
      steps.find((s) => s.kind === m.kind && s.to === m.size)?.time?.toFixed(2) ?? '',
      mib(peakAboveInputs(m)),
      mib(m.baselineRssBytes),
    ]);
  const checked = r.core
    .filter((m) => m.kind === 'naive' && r.core.some((c) => c.kind === 'chronological' && c.size === m.size))
    .map((m) => size(m.size));
  const memory = steps.flatMap((s) =>
    s.memory === undefined ? [] : [`${s.kind} ${size(s.from)}→${size(s.to)} k = ${s.memory.toFixed(2)}`],
  );
  return [
    '## Matcher',
    '',
    `\`matchPayments\` (lib/matching) over two cursors modelled on the MongoDB driver's (bench/cursor.ts: batches of`,
    `${r.options.batchSize} documents, each arriving a turn of the event loop after the last was used up, handed out one`,
    'at a time by an async generator awaiting `next()`), in `(date, id)` order as the worker reads them; then a walk over',
    'every output record (`matches()`, `unmatchedPayments()`, `unpaidAccruals()`, `rejected()`), what serialising the',
    'result costs on top. The floor is a `Float64Array` sort of 2n random keys in the same process (bench/floor.ts).',
    '',
    table(
      'n = m | matcher | runs | median ms | matchPayments ms | output records ms | CPU ms | floor ms | × floor | ' +
        'time growth k | peak RSS above inputs MiB | RSS with inputs MiB',
      'rlrrrrrrrrrr',
      rows,
    ),
    '',
    `The naive baseline found the same counts as chronological at ${checked.join(', ') || '—'} (the bench stops`,
    `otherwise). Memory growth k (peak above inputs, steps from ≥ ${TARGETS.growthMinBytes / MIB} MiB): ${memory.join('; ') || '—'}.`,
  ];
}

function profile(r: BenchResults): string[] {
  const p = r.profile;
  if (p === undefined) return [];
  const rows = p.top.map((f) => [ms(f.selfMs), share(f.selfMs, p.totalMs), code(f.name), code(f.location)]);
  return [
    `## CPU profile: ${p.kind}, n = m = ${size(p.size)}`,
    '',
    `One timed run (${ms(p.totalMs)} ms) under the V8 sampling profiler (${PROFILE_INTERVAL_US} µs, started and stopped`,
    'around the run through `node:inspector`). Top self time:',
    '',
    table('self ms | share | function | file', 'rrll', rows),
  ];
}

function endToEnd(r: BenchResults): string[] {
  const e = r.e2e;
  if (e === undefined) return [];
  const m = e.median;
  const phases: [string, number][] = [
    ['read (store cursors: load, parse, sort, stream)', m.readMs],
    ['match (the rest of the job)', m.matchMs],
    ['write (serialise + multipart upload of 3 objects)', m.writeMs],
    ['run ledger (DynamoDB emulator)', m.ledgerMs],
  ];
  const rows = phases.map(([phase, t]) => [phase, ms(t), share(t, m.totalMs)]);
  const outputs = Object.entries(e.outputBytes).map(([name, bytes]) => `${name} ${kib(bytes)} KiB`);
  return [
    `## End to end: ${size(e.size)} accruals × ${size(e.size)} payments, chronological`,
    '',
    'NDJSON files → `EmbeddedDocumentStore` → `runMatchingJob` (lib/runs/job.ts) → S3 and DynamoDB emulators (in',
    `their own process). Median of ${e.runs.length}: totals ${e.runs.map((x) => ms(x.totalMs)).join(', ')} ms.`,
    '',
    table('phase | ms | share', 'lrr', [...rows, ['**total**', ms(m.totalMs), '']]),
    '',
    `The matcher's own \`stats.durationMs\` was ${ms(m.matcherReportedMs)} ms (it pauses only while a \`next()\` is`,
    `pending, so it also counts the store's synchronous work per document). Peak RSS ${mib(m.peakRssBytes)} MiB,`,
    `${mib(m.peakRssBytes - m.baselineRssBytes)} MiB above the process before the run. Outputs: ${outputs.join(', ')};`,
    `${e.matched} matched.`,
  ];
}

function partitionLookup(r: BenchResults): string[] {
  const l = r.lookup;
  if (l === undefined) return [];
  const row = (label: string, t: { medianMs: number; p95Ms: number; maxMs: number }) => [
    label,
    ms(t.medianMs),
    ms(t.p95Ms),
    ms(t.maxMs),
  ];
  const outputs = Object.entries(l.outputBytes).map(([name, bytes]) => `${name} ${mib(bytes)} MiB`);
  return [
    `## Partition lookup: ${size(l.size)} accruals × ${size(l.size)} payments over ${size(l.partitions)} partitions`,
    '',
    '`runMatchingJob` (lib/runs/job.ts) with `partitionBy: account` over cursors modelled on the driver’s',
    '(bench/cursor.ts), in `(account, date, id)` order, writing every output to the S3 emulator (both emulators in',
    `their own process): ${ms(l.jobMs)} ms. Outputs: ${outputs.join(', ')}. The index holds ${l.indexed.toLocaleString('en-US')}`,
    `partitions in ${l.levels} level(s) of pages below its root. Then ${l.lookups} lookups of accounts drawn at random`,
    '(after 20 warm-up ones), each timed as the function runs it (`PartitionLookups.lookUp`: the run from the',
    'DynamoDB emulator, then the ranged GETs) and as the ranged GETs alone (`readPartitionPage`).',
    '',
    table('lookup | median ms | p95 ms | max ms', 'lrrr', [
      row('whole lookup (GetItem + ranged GETs)', l.service),
      row('ranged GETs alone', l.index),
    ]),
    '',
    `Bytes read from S3 per lookup: median ${kib(l.bytes.median)} KiB, at most ${kib(l.bytes.max)} KiB, in`,
    `${l.reads.min === l.reads.max ? l.reads.min : `${l.reads.min} to ${l.reads.max}`} ranged GETs (the index head, the index`,
    `pages it did not hold, the partition's line); median ${l.medianRecords} records per lookup.`,
  ];
}

function shardedRun(r: BenchResults): string[] {
  const s = r.shards;
  if (s === undefined) return [];
  const row = (label: string, t: ShardsStep, records?: number, bytes?: number) => [
    label,
    ms(t.ms),
    ms(t.cpuMs),
    t.scanMs === undefined ? '—' : `${ms(t.scanMs)} (${ms(t.scanCpuMs ?? 0)})`,
    `${ms(t.writeMs)} (${ms(t.writeCpuMs)})`,
    records === undefined ? '—' : records.toLocaleString('en-US'),
    bytes === undefined ? '—' : mib(bytes),
  ];
  const times = s.shards.map((shard) => shard.ms);
  const sum = times.reduce((a, b) => a + b, 0);
  const scans = s.shards.reduce((a, shard) => a + shard.scanMs, 0);
  const cpu = s.shards.reduce((a, shard) => a + shard.cpuMs, 0);
  // CPU per record once the embedded store's scan is taken out: what the model of a shard starts from.
  const perRecord = (t: { cpuMs: number; scanCpuMs: number; records: number }) =>
    `${(((t.cpuMs - t.scanCpuMs) / t.records) * 1000).toFixed(1)} µs`;
  const shardsNet = { cpuMs: cpu, scanCpuMs: s.shards.reduce((a, x) => a + x.scanCpuMs, 0), records: s.size };
  const outputs = Object.entries(s.merge.outputs);
  const merged = outputs.reduce((a, [, bytes]) => a + bytes, 0);
  const path = criticalPathMs(s);
  const loads = [s.unsharded, s.plan, ...s.shards].map((step) => step.loadMs);
  const m = s.merge;
  const c = s.cursor;
  return [
    `## Sharded run: ${size(s.size)} records over ${size(s.partitions)} accounts, ${s.shards.length} shards`,
    '',
    `The same ${size(s.size / 2)} accruals and ${size(s.size / 2)} payments (about ${Math.round(s.size / s.partitions)} records per`,
    'account, as NDJSON in the embedded store), matched with `partitionBy: account` against the S3 and DynamoDB',
    'emulators (their own process): first unsharded (`runMatchingJob`), then sharded step by step in this one',
    `process, one step after another (the machine has ${os.availableParallelism()} cores): \`planMatchingRun\` (${s.shardsAsked} shards asked),`,
    'each `runMatchingShard`, `mergeMatchingRun` (bench/measure-shards.ts). Each step gets a fresh store, whose',
    'file load is not in its time; "store scan" is the embedded store’s part of it (mingo tests the shard’s filter',
    'on every document, then sorts the matching ones), where MongoDB walks the `(partition, date, id)` index over the',
    `shard’s range. The merged ${Object.keys(s.identical).map(code).join(', ')} were byte for byte the unsharded run’s`,
    '(the bench stops otherwise).',
    '',
    table('step | ms | CPU ms | store scan ms (CPU) | write ms (CPU) | records | outputs MiB', 'lrrrrrr', [
      row('unsharded partitioned job', s.unsharded, s.unsharded.records, s.unsharded.outputBytes),
      row('plan', s.plan),
      ...s.shards.map((shard) => row(`shard ${shard.shard}`, shard, shard.records, shard.outputBytes)),
      row('merge', m, undefined, merged),
    ]),
    '',
    `Shards: min ${ms(Math.min(...times))}, median ${ms(median(times))}, max ${ms(Math.max(...times))} ms. Their sum,`,
    `${ms(sum)} ms, is ${(sum / s.unsharded.ms).toFixed(2)} × the unsharded run (store scans ${ms(scans)} ms of it, against`,
    `${ms(s.unsharded.scanMs)} ms unsharded). Critical path (plan + slowest shard + merge: the wall time if every shard`,
    `ran at once on its own Lambda): ${ms(path)} ms, ${(s.unsharded.ms / path).toFixed(1)} × faster than unsharded. Loading`,
    `both files into a fresh store took ${ms(Math.min(...loads))} to ${ms(Math.max(...loads))} ms per step (not counted above).`,
    `CPU: shards ${ms(cpu)} ms in all, unsharded ${ms(s.unsharded.cpuMs)} ms; per record without the store scan,`,
    `${perRecord(shardsNet)} sharded and ${perRecord(s.unsharded)} unsharded.`,
    '',
    `The merge read ${kib(m.readBytes)} KiB from S3 into the process and uploaded ${mib(m.uploadedBytes)} MiB of parts;`,
    `S3 copied ${mib(m.copiedBytes)} MiB itself (UploadPartCopy), ${m.parts} parts in all, for ${mib(merged)} MiB of`,
    `run-level outputs (${outputs.map(([name, bytes]) => `${name} ${mib(bytes)}`).join(', ')} MiB).`,
    '',
    `One driver find cursor (bench/measure-cursor-rate.ts: the official driver against the wire-protocol double in`,
    `another process, over loopback, batches of ${c.batchSize}) delivered ${Math.round(c.docsPerSecond).toLocaleString('en-US')} documents/s over`,
    `${c.docs.toLocaleString('en-US')} documents, using ${c.clientCpuMsPerThousand.toFixed(1)} ms of the reader’s CPU per 1,000 (first document after`,
    `${ms(c.firstDocumentMs)} ms: the double’s sort, not a cursor cost).`,
  ];
}

type ShardsStep = {
  ms: number;
  cpuMs: number;
  writeMs: number;
  writeCpuMs: number;
  scanMs?: number;
  scanCpuMs?: number;
};

function summary(r: BenchResults): string[] {
  if (r.summary.length === 0) return [];
  // Measured in pairs (per session, then flattening) of shapes with more and more sessions.
  const rows = r.summary.map((m, i) => {
    const previous = r.summary[i - 2];
    const growth =
      previous?.actionsPerSession === m.actionsPerSession && previous.sessions < m.sessions
        ? growthExponent(previous.sessions, previous.medianMs, m.sessions, m.medianMs).toFixed(2)
        : '';
    const perSession = r.summary[i - 1];
    return [
      `${m.sessions.toLocaleString('en-US')} × ${m.actionsPerSession.toLocaleString('en-US')}`,
      m.pipeline === 'per-session' ? 'per session (lib/summary/)' : 'flattening baseline',
      String(m.runsMs.length),
      ms(m.medianMs),
      growth,
      m.pipeline === 'flattening' && perSession ? (m.medianMs / perSession.medianMs).toFixed(2) : '',
    ];
  });
  return [
    '## Actions summary: one account, embedded store',
    '',
    '`getAccountActions` (lib/summary/), which counts and dates each action type session by session, against the',
    'flattening baseline (bench/flatten-summary.ts: all sessions’ actions appended to one array with `$reduce` +',
    '`$concatArrays`, then counted), each timed from a fresh `EmbeddedDocumentStore` holding one generated account',
    `(six action types, dates as \`Date\`) to the summary document, after ${SUMMARY_SHAPE.warmUpRuns} warm-up runs on a`,
    `${SUMMARY_SHAPE.warmUpSessions}-session account; a first run over ${SUMMARY_SHAPE.slowRunMs / 1000} s is not repeated. Both`,
    'pipelines returned the same summary at every shape, equal to a count in plain JavaScript (the bench stops',
    'otherwise). The one-session row is a control: nothing to concatenate, so both do the same work.',
    '',
    table(
      'sessions × actions | pipeline | runs | median ms | time growth k | flattening / per session',
      'rlrrrr',
      rows,
    ),
  ];
}

function bundles(r: BenchResults): string[] {
  if (r.bundles.length === 0) return [];
  const rows = r.bundles.map((b) => [
    code(b.name),
    kib(b.bytes),
    ms(b.initMedianMs),
    ms(b.initCpuMedianMs),
    ms(b.initPlainMedianMs),
    b.externalsMedianMs === null ? '—' : ms(b.externalsMedianMs),
    b.topInputs.map((i) => `${i.path} ${kib(i.bytes)}`).join(', '),
  ]);
  return [
    '## Function bundles',
    '',
    'Built as deployed (scripts/build-options.ts plus serverless.yml `custom.esbuild`); init is `await import` in a',
    `fresh plain Node process with the deployed environment, median of ${r.bundles[0]?.runs} processes. "deployed" runs`,
    'with `--enable-source-maps` as Lambda does; "externals alone" loads only the runtime-provided AWS SDK packages the',
    'bundle loads at cold start, the way it loads them: the part of init the bundle cannot shrink.',
    '',
    table(
      'function | minified KiB | init ms (deployed) | init CPU ms | init ms (no source maps) | ' +
        'externals alone ms | largest inputs (KiB)',
      'lrrrrrl',
      rows,
    ),
  ];
}

function coldRequest(r: BenchResults): string[] {
  const c = r.coldRequest;
  if (c === undefined) return [];
  const row = [c.initMedianMs, c.firstRequestMedianMs, c.coldMedianMs, c.warmRequestMedianMs].map(ms);
  return [
    `### Cold request: \`${COLD_REQUEST_FUNCTION}\``,
    '',
    `Median of ${c.runs} fresh processes, each importing the bundle as deployed and serving two requests for one`,
    'account from a MongoDB wire-protocol double on 127.0.0.1 (test/support/mongo-wire-double.ts; no network',
    'latency). The first request connects and runs the pipeline. The driver was evaluated',
    c.driverAtInit ? 'at initialisation, so its cost is in "init".' : 'by the first request.',
    '',
    table('init ms | first request ms | init + first request ms | warm request ms | status', 'rrrrl', [
      [...row, c.statuses.join(', ')],
    ]),
  ];
}

function initProfile(r: BenchResults): string[] {
  const p = r.initProfile;
  if (p === undefined) return [];
  const origins = p.byOrigin.slice(0, 10).map(([o, t]) => [o, ms(t), share(t, p.totalMs)]);
  const top = p.top.map((f) => [ms(f.selfMs), code(f.name), code(f.location)]);
  const commonJs = p.commonJs.slice(0, 6).map(([pkg, files, bytes]) => `${pkg} ${files}, ${kib(bytes)}`);
  return [
    `### CPU profile: cold import of \`${p.name}\``,
    '',
    `\`node --cpu-prof\` of one import as deployed (${ms(p.totalMs)} ms profiled, process start included).`,
    '',
    table('origin | self ms | share', 'lrr', origins),
    '',
    table('self ms | function | file', 'rll', top),
    '',
    `CommonJS the import loads (read and compiled), largest packages (files, KiB): ${commonJs.join('; ')}.`,
  ];
}

function machine(r: BenchResults): string[] {
  const [start, end] = r.load;
  const cores = os.availableParallelism();
  const busy =
    Math.max(start, end) > cores / 2 ? ': **other work was running; timings are pessimistic**' : '';
  return [
    '## Machine',
    '',
    `${os.cpus()[0]?.model}, ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version} (V8`,
    `${process.versions.v8}), ${os.type()} ${os.release()} ${os.arch()}. 1-minute load average ${start.toFixed(2)} at`,
    `the start, ${end.toFixed(2)} at the end${busy}.`,
  ];
}

const METHOD = [
  '## Method',
  '',
  '- Every measurement runs in a fresh Node process (`--expose-gc`), so peak RSS, heap and JIT state are its own.',
  `- Inputs: n accruals and n payments from a seeded PRNG (mulberry32), \`{ id, date: Date, month: 'YYYY-MM' }\`:`,
  `  ids 1..n shuffled over ${INPUT_SHAPE.days} days (about n/${INPUT_SHAPE.days} records share a date), months from`,
  `  ${INPUT_SHAPE.months} independently of dates, payments ${INPUT_SHAPE.paymentLagDays} days later; built before any timing and allocated in`,
  '  `(date, id)` order, as a cursor hands them out.',
  '- Matcher: 3 warm-up runs on a separate 2,000-record input; a full GC before each timed run, outside the timing;',
  '  the floor sort right before each run (a burst of other load tends to hit both). Tables show medians. "CPU ms"',
  '  is process CPU time (GC threads included), a check on wall times inflated by other load.',
  '- Peak RSS above inputs: after the inputs are built and the heap collected, the kernel high-water mark',
  '  (`VmHWM`) is reset through /proc/self/clear_refs and RSS read as the baseline; `VmHWM` after the runs is the',
  '  peak, so short peaks are not missed (off Linux: getrusage maxRSS, which cannot be reset).',
  '- Growth k = log(t₂/t₁) / log(n₂/n₁) against the previous size: n·log n gives about 1.1, quadratic 2; steps',
  `  from below ${TARGETS.growthMinMs} ms or ${TARGETS.growthMinBytes / MIB} MiB are fixed costs and not judged.`,
  '- Naive baseline: payments in `(date, id)` order, each scanning all accruals for the best unpaid eligible one',
  '  (bench/naive-match.ts, typed arrays: only the algorithm differs).',
  '- Lambda runs nodejs22.x on arm64, so absolute init times differ there.',
];

/** docs/BENCHMARKS.md, before {@link formatMarkdown}. */
export function renderReport(r: BenchResults, argv: readonly string[]): string {
  const command = ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');
  const commandLine = (results: BenchResults) => renderCommandLine(results.cli);
  const sections = [
    targets,
    matcher,
    profile,
    endToEnd,
    commandLine,
    partitionLookup,
    shardedRun,
    summary,
    bundles,
    coldRequest,
    initProfile,
    machine,
  ];
  return [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` (${r.options.mode} run, ${Math.round(r.durationS)} s) on`,
    `${r.startedAt.toISOString().slice(0, 10)}. Do not edit by hand: run it again (\`npm run bench -- --help\`).`,
    ...[...sections.map((section) => section(r)), METHOD].flatMap((lines) =>
      lines.length > 0 ? ['', ...lines] : [],
    ),
    '',
  ].join('\n');
}

/** Formats Markdown with the project's formatter (Biome pads the tables), so the page passes `npm run lint`. */
export function formatMarkdown(markdown: string): string {
  const biome = path.join(REPO_ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  const result = spawnSync(process.execPath, [biome, 'format', '--stdin-file-path=docs/BENCHMARKS.md'], {
    cwd: REPO_ROOT,
    input: markdown,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`biome could not format the report: ${result.stderr}`);
  return result.stdout;
}
