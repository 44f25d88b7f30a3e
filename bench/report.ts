import type { CoreKind, CoreMeasurement } from './core-types.js';
import { INPUT_SHAPE } from './inputs.js';
import { MEMORY_FLOOR_MIB } from './report-chart.js';
import type { BenchReport } from './report-types.js';
import { MIB } from './stats.js';
import { orderSummaryMeasurements, shapeLabel, summaryAgreement, summaryGrowthSteps } from './summary.js';
import { SUMMARY_SHAPE } from './summary-inputs.js';
import type { SummaryPipeline } from './summary-types.js';
import {
  evaluateTargets,
  type GrowthStep,
  growthSteps,
  peakAboveInputs,
  TARGETS,
  type TargetStatus,
} from './targets.js';

const KIND_ORDER: readonly CoreKind[] = ['chronological', 'month-first', 'naive'];

function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ('l' | 'r')[],
): string {
  // Padded and aligned the way Biome formats Markdown tables, so `biome check .` accepts the page.
  const width = (text: string): number => [...text].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((row) => width(row[i] ?? ''))));
  const right = (i: number): boolean => (align?.[i] ?? 'l') === 'r';
  const line = (cells: readonly string[]): string =>
    `| ${widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat(w - width(cell));
        return right(i) ? pad + cell : cell + pad;
      })
      .join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right(i) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function sizeLabel(n: number): string {
  const exponent = Math.log10(n);
  if (Number.isInteger(exponent)) return `10^${exponent}`;
  const mantissa = n / 10 ** Math.floor(exponent);
  return Number.isInteger(mantissa) ? `${mantissa}·10^${Math.floor(exponent)}` : n.toLocaleString('en-US');
}

function ms(value: number): string {
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

function mib(bytes: number): string {
  const value = bytes / MIB;
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

const STATUS: Record<TargetStatus, string> = {
  pass: '**pass**',
  fail: '**FAIL**',
  'not measured': 'not measured',
};

function coreRows(core: readonly CoreMeasurement[], steps: readonly GrowthStep[]): string[][] {
  const ordered = [...core].sort(
    (a, b) => a.size - b.size || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
  );
  return ordered.map((m) => {
    const step = steps.find((s) => s.kind === m.kind && s.to === m.size);
    return [
      sizeLabel(m.size),
      m.kind === 'naive' ? 'naive baseline' : m.kind,
      String(m.runsMs.length),
      ms(m.medianMs),
      m.kind === 'naive' ? '—' : ms(m.matchMedianMs),
      m.kind === 'naive' ? '—' : ms(m.outputMedianMs),
      ms(m.cpuMedianMs),
      ms(m.floorMedianMs),
      (m.medianMs / m.floorMedianMs).toFixed(1),
      step === undefined ? '' : step.time.toFixed(2),
      mib(peakAboveInputs(m)),
      mib(m.baselineRssBytes),
    ];
  });
}

/** The main table: one row per (size, matcher). */
export function renderCoreTable(report: BenchReport): string {
  const steps = growthSteps(report.core);
  return table(
    [
      'n = m',
      'matcher',
      'runs',
      'median ms (match + result)',
      'matchRecords ms',
      'output records ms',
      'CPU ms',
      'floor ms',
      '× floor',
      'time growth k',
      'peak RSS above inputs MiB',
      'RSS with inputs MiB',
    ],
    coreRows(report.core, steps),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function renderTargetsTable(report: BenchReport): string {
  const targets = evaluateTargets(report.core, report.e2e, report.bundles);
  return table(
    ['target (issue 4)', 'measured', 'status'],
    targets.map((t) => [t.target, t.measured, STATUS[t.status]]),
  );
}

function agreementNote(core: readonly CoreMeasurement[]): string {
  const notes: string[] = [];
  for (const naive of core.filter((m) => m.kind === 'naive')) {
    const chrono = core.find((m) => m.kind === 'chronological' && m.size === naive.size);
    if (chrono === undefined) continue;
    const same = (['matched', 'sameMonth', 'unmatched', 'unpaid'] as const).every(
      (k) => naive.counts[k] === chrono.counts[k],
    );
    notes.push(
      same
        ? `${sizeLabel(naive.size)}: same counts (${naive.counts.matched} matched, ${naive.counts.sameMonth} same-month)`
        : `${sizeLabel(naive.size)}: **DIFFERENT** (naive ${JSON.stringify(naive.counts)}, chronological ${JSON.stringify(chrono.counts)})`,
    );
  }
  return notes.length === 0
    ? ''
    : `Cross-check, naive baseline vs chronological on the same inputs: ${notes.join('; ')}.`;
}

function memoryGrowthNote(core: readonly CoreMeasurement[]): string {
  const steps = growthSteps(core).filter((s) => s.memory !== undefined);
  if (steps.length === 0) return '';
  const parts = steps.map(
    (s) => `${s.kind} ${sizeLabel(s.from)}→${sizeLabel(s.to)}: k = ${(s.memory as number).toFixed(2)}`,
  );
  return `Memory growth exponents (peak above inputs, steps from ≥ ${TARGETS.growthMinBytes / MIB} MiB): ${parts.join('; ')}.`;
}

function renderProfile(report: BenchReport): string {
  const p = report.profile;
  if (p === undefined) return '';
  const rows = p.top.map((entry) => [
    ms(entry.selfMs),
    `${((entry.selfMs / p.totalMs) * 100).toFixed(0)}%`,
    `\`${entry.name}\``,
    entry.location === '' ? '' : `\`${entry.location}\``,
  ]);
  return [
    `## CPU profile: ${p.kind}, n = m = ${sizeLabel(p.size)}`,
    '',
    `One timed run (${ms(p.totalMs)} ms) under the V8 sampling profiler (${p.sampleIntervalUs} µs interval, started and`,
    'stopped around the run through `node:inspector`, i.e. `--cpu-prof` restricted to the measured region). Top',
    'functions by self time:',
    '',
    table(['self ms', 'share', 'function', 'file'], rows, ['r', 'r', 'l', 'l']),
    '',
  ].join('\n');
}

function renderE2e(report: BenchReport): string {
  const e = report.e2e;
  if (e === undefined) return '';
  const m = e.median;
  const share = (value: number): string => `${((value / m.totalMs) * 100).toFixed(0)}%`;
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
  return [
    `## End to end: ${sizeLabel(e.size)} accruals × ${sizeLabel(e.size)} payments, ${e.policy}`,
    '',
    `Embedded store (NDJSON files) → \`runMatchingJob\` (lib/runs/job.ts) → S3 emulator. Median of ${e.runs.length} run(s):`,
    `totals ${e.runs.map((r) => ms(r.totalMs)).join(', ')} ms.`,
    '',
    table(
      ['phase', 'ms', 'share'],
      [
        ['read (store cursors: load, parse, sort, stream)', ms(m.readMs), share(m.readMs)],
        ['match (the rest of the job)', ms(m.matchMs), share(m.matchMs)],
        ['write (serialise + multipart upload of 3 objects)', ms(m.writeMs), share(m.writeMs)],
        ['run ledger (DynamoDB emulator)', ms(m.ledgerMs), share(m.ledgerMs)],
        ['**total**', `**${ms(m.totalMs)}**`, ''],
      ],
      ['l', 'r', 'r'],
    ),
    '',
    `The matcher's own stopwatch (\`stats.durationMs\`) reported ${ms(m.matcherReportedMs)} ms: it pauses only while a \`next()\``,
    "promise is pending, so it also counts the store's synchronous per-document work that runs inside that call.",
    `Peak RSS ${mib(m.peakRssBytes)} MiB,`,
    `${mib(Math.max(0, m.peakRssBytes - m.baselineRssBytes))} MiB above the process before the run (${mib(m.baselineRssBytes)} MiB; the store loads`,
    `its files during the run). Outputs: result.json ${kib(e.outputBytes.resultJson)}, matches.csv ${kib(e.outputBytes.matchesCsv)},`,
    `unmatched-payments.csv ${kib(e.outputBytes.unmatchedPaymentsCsv)}; ${e.stats.matched} matched.`,
    '',
  ].join('\n');
}

function renderBundles(report: BenchReport): string {
  if (report.bundles.length === 0) return '';
  const rows = report.bundles.map((b) => [
    `\`${b.name}\``,
    `${(b.bytes / 1024).toFixed(0)}`,
    ms(b.initMedianMs),
    ms(b.initCpuMedianMs),
    ms(b.initPlainMedianMs),
    b.externals.length === 0 ? '—' : ms(b.externalsInitMedianMs),
    b.topInputs
      .slice(0, 4)
      .map((i) => `${i.path} ${(i.bytes / 1024).toFixed(0)}`)
      .join(', '),
  ]);
  const runs = report.bundles[0]?.initRunsMs.length ?? 0;
  return [
    '## Function bundles',
    '',
    `Median of ${runs} fresh processes each. "externals" is loading the packages the bundle leaves to the Lambda`,
    'runtime (AWS SDK v3) and loads at cold start, the way it loads them (`require`), alone in a fresh process:',
    'the part of the cold start the bundle itself cannot shrink. SDK clients reached only through `await import()`',
    '(the SSM client for MONGODB_URI_PARAMETER) load on first use and are not counted here.',
    '',
    table(
      [
        'function',
        'minified KiB',
        'init ms (deployed: --enable-source-maps)',
        'init CPU ms',
        'init ms (no source maps)',
        'externals alone ms',
        'largest inputs (KiB in bundle)',
      ],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  ].join('\n');
}

function renderColdRequest(report: BenchReport): string {
  const c = report.coldRequest;
  if (c === undefined) return '';
  return [
    `### Cold request: \`${c.name}\``,
    '',
    `Median of ${c.runs} fresh processes, each importing the bundle as deployed and then serving two requests for one`,
    'account from a MongoDB wire-protocol double on 127.0.0.1 (test/support/mongo-wire-double.ts; no network latency, so',
    'these are the milliseconds the function itself spends). The first request connects (handshake, pool) and runs the',
    `pipeline. The MongoDB driver was evaluated ${c.driverAtInit ? 'at initialisation, so its cost is in "init"' : 'by the first request, so its cost is in "first request"'}.`,
    '',
    table(
      ['init ms', 'first request ms', 'init + first request ms', 'warm request ms', 'status'],
      [
        [
          ms(c.initMedianMs),
          ms(c.firstRequestMedianMs),
          ms(c.coldMedianMs),
          ms(c.warmRequestMedianMs),
          c.statuses.join(', '),
        ],
      ],
      ['r', 'r', 'r', 'r', 'l'],
    ),
    '',
  ].join('\n');
}

function renderInitProfile(report: BenchReport): string {
  const p = report.initProfile;
  if (p === undefined) return '';
  const share = (value: number): string => `${((value / p.totalMs) * 100).toFixed(0)}%`;
  const cjsTotal = p.commonJsFiles.reduce(
    (sum, c) => ({ files: sum.files + c.files, bytes: sum.bytes + c.bytes }),
    { files: 0, bytes: 0 },
  );
  return [
    `### CPU profile: cold import of \`${p.name}\``,
    '',
    `\`node --cpu-prof\` (${ms(p.totalMs)} ms profiled, process start included) of one import as deployed. Self time by origin:`,
    '',
    table(
      ['origin', 'self ms', 'share'],
      p.byOrigin.slice(0, 10).map((o) => [o.origin, ms(o.selfMs), share(o.selfMs)]),
      ['l', 'r', 'r'],
    ),
    '',
    'Top functions:',
    '',
    table(
      ['self ms', 'function', 'file'],
      p.top.map((f) => [ms(f.selfMs), `\`${f.name}\``, f.location === '' ? '' : `\`${f.location}\``]),
      ['r', 'l', 'l'],
    ),
    '',
    `The import loads ${cjsTotal.files} CommonJS files (${(cjsTotal.bytes / 1024).toFixed(0)} KiB), each read and compiled (\`wrapSafe\`;`,
    `an ES \`import\` of CommonJS would also lex each for its export names, \`parseCJS\`); largest (files, KiB): ${p.commonJsFiles
      .slice(0, 6)
      .map((c) => `${c.pkg} ${c.files}, ${(c.bytes / 1024).toFixed(0)}`)
      .join('; ')}.`,
    '',
  ].join('\n');
}

const SUMMARY_PIPELINE_LABEL: Record<SummaryPipeline, string> = {
  'per-session': 'per session (lib/summary/)',
  flattening: 'flattening baseline',
};

/** The actions-summary table: one row per (account shape, pipeline); empty when not measured. */
export function renderSummaryTable(report: BenchReport): string {
  if (report.summary.length === 0) return '';
  const steps = summaryGrowthSteps(report.summary);
  const rows = orderSummaryMeasurements(report.summary).map((m) => {
    const step = steps.find(
      (s) => s.pipeline === m.pipeline && s.actionsPerSession === m.actionsPerSession && s.to === m.sessions,
    );
    const current = report.summary.find(
      (c) =>
        c.pipeline === 'per-session' &&
        c.sessions === m.sessions &&
        c.actionsPerSession === m.actionsPerSession,
    );
    return [
      shapeLabel(m),
      SUMMARY_PIPELINE_LABEL[m.pipeline],
      String(m.runsMs.length),
      ms(m.medianMs),
      step === undefined ? '' : step.time.toFixed(2),
      m.pipeline === 'flattening' && current !== undefined ? (m.medianMs / current.medianMs).toFixed(2) : '',
    ];
  });
  return table(
    ['sessions × actions', 'pipeline', 'runs', 'median ms', 'time growth k', 'flattening / per session'],
    rows,
    ['r', 'l', 'r', 'r', 'r', 'r'],
  );
}

function renderSummary(report: BenchReport): string {
  if (report.summary.length === 0) return '';
  const agreement = summaryAgreement(report.summary);
  const agreed = agreement.filter((a) => a.same).map((a) => shapeLabel(a.shape));
  const disagreed = agreement.filter((a) => !a.same).map((a) => shapeLabel(a.shape));
  const crossCheck = [
    agreed.length === 0 ? '' : `identical summaries at ${agreed.join(', ')}`,
    disagreed.length === 0 ? '' : `**DIFFERENT** summaries at ${disagreed.join(', ')}`,
  ].filter((part) => part !== '');
  const runs = Math.max(...report.summary.map((m) => m.maxRuns));
  return [
    '## Actions summary: one account, embedded store',
    '',
    '`getAccountActions(store, number)` of lib/summary/, which counts and dates each action type session by',
    'session, against the flattening baseline (bench/flatten-summary.ts, the previous pipeline: every session’s actions',
    'are first appended to one array with `$reduce` + `$concatArrays`, then each type is counted over it), run through',
    "`store.aggregate('Account', pipeline)`. Each row is a fresh process that builds one account document before any",
    `timing (seed ${report.seed}; sessions × actions, six action types of which two are extra, dates as \`Date\`), warms up`,
    `${SUMMARY_SHAPE.warmUpRuns} times on a ${SUMMARY_SHAPE.warmUpSessions}-session account, then times ${runs === 1 ? 'one run' : `up to ${runs} runs`}, each from a fresh`,
    '`EmbeddedDocumentStore({ collections: { Account: [account] } })` (mingo) to the summary document, after a full GC;',
    `a first run longer than ${SUMMARY_SHAPE.slowRunMs / 1000} s is not repeated. "time growth k" is \`log(t₂/t₁) / log(S₂/S₁)\` against the previous`,
    'number of sessions S of the same pipeline: 1 for linear, 2 for quadratic. The one-session row is a control: there',
    'is nothing to concatenate, so both pipelines do the same work.',
    '',
    renderSummaryTable(report),
    '',
    ...(crossCheck.length === 0
      ? []
      : [
          `Cross-check, both pipelines on the same account (each also against a count in plain JavaScript): ${crossCheck.join('; ')}.`,
          '',
        ]),
  ].join('\n');
}

function renderMachine(report: BenchReport): string {
  const m = report.machine;
  return [
    '## Machine',
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} cores available; ${m.memoryGiB} GiB memory`,
    `- Node ${m.node} (V8 ${m.v8}), ${m.os}`,
    `- 1-minute load average: ${m.loadStart.toFixed(2)} at the start, ${m.loadEnd.toFixed(2)} at the end` +
      (Math.max(m.loadStart, m.loadEnd) > 0.5 * m.cores
        ? ' — **other work was running on the machine; timings are pessimistic**'
        : ''),
    '',
  ].join('\n');
}

function renderMethod(report: BenchReport): string {
  return [
    '## Method',
    '',
    '- **Processes.** Every measurement runs in a fresh Node process (`node --expose-gc --import tsx …`, started',
    '  by bench/run.ts), so peak RSS, heap size and JIT state belong to that measurement alone.',
    '- **Inputs.** n accruals and n payments, generated before any timing by a seeded PRNG (mulberry32),',
    `  seed ${report.seed}, as plain objects \`{ id, date: Date, month: 'YYYY-MM' }\`: ids 1..n shuffled, dates drawn`,
    `  from ${INPUT_SHAPE.days} distinct days (about n/${INPUT_SHAPE.days} records share each date), months from ${INPUT_SHAPE.months} independently of`,
    `  dates; input order is random. Payments are drawn from days shifted by ${INPUT_SHAPE.paymentLagDays} days, so almost every`,
    '  payment has eligible accruals.',
    '- **Timed region.** `matchRecords(accruals, payments, { policy })` (normalise, validate, order, match and',
    '  build the columnar outcome), then reading `outcome.stats` and iterating every output record:',
    '  `matches()`, `unmatchedPayments()`, `unpaidAccruals()` and `rejected()`, touching a field of each. That',
    '  walk is what builds the result document (the outcome creates its output records on demand); JSON or CSV',
    '  text is not produced (that is the end-to-end "write" phase). The columns split the median into the',
    '  `matchRecords` call and the walk over output records; "CPU ms" is the process CPU time (user + system,',
    '  GC threads included) of the same region, a check on wall times inflated by other load on the machine.',
    '  Before timing: 3 warm-up runs on a separate',
    '  2,000-record input; a full GC before every run, outside the timing.',
    '- **Runs.** The `runs` column: timed runs per measurement (default 5; `--quick`: 3). The table shows',
    '  medians.',
    '- **Floor.** In the same process, right before each timed run (so a burst of other load tends to hit',
    '  both): `Float64Array.prototype.sort` of 2n random doubles, from preallocated arrays (restoring the',
    '  unsorted keys is not timed). "× floor" = median time / median floor.',
    '- **Peak RSS above inputs.** After generating the inputs, warming up and two full GCs, the kernel',
    '  high-water mark (`VmHWM`) is reset to the current RSS by writing 5 to /proc/self/clear_refs and the RSS',
    '  is read as the baseline; VmHWM read after the timed runs is the peak (the kernel records the maximum',
    '  before any decrease, so short peaks are not missed, unlike sampling). Peak above inputs = VmHWM −',
    '  baseline: everything the runs allocate (columns, scratch, the outcome, output records, garbage not yet',
    '  collected). Fallback off Linux: getrusage maxRSS, which cannot be reset.',
    '- **Growth k.** Local exponent `log(t₂/t₁) / log(n₂/n₁)` against the previous size of the same matcher:',
    '  n·log n gives about 1.1–1.2 per decade, quadratic 2. Steps starting below',
    `  ${TARGETS.growthMinMs} ms (time) or ${TARGETS.growthMinBytes / MIB} MiB (memory) are dominated by fixed costs and not judged.`,
    '- **Naive baseline.** Payments sorted by `(date, id)`; for each, a scan of all n accruals for the best',
    '  unpaid eligible one (same month first, then oldest). Typed arrays like the real matcher, so only the',
    '  algorithm differs. Its counts are cross-checked against `chronological`.',
    '- **End to end.** Inputs written as NDJSON (`{"$date": …}`) into a temp DATA_DIR; the DynamoDB and S3',
    '  emulators (scripts/emulators.ts `startEmulators`) run in a separate process so their work is not',
    '  counted; a fresh process records a run in the ledger, then times `runMatchingJob(runId, { store,',
    '  ledger, bucket })` with a fresh `EmbeddedDocumentStore` per run. Phases are timed from outside by',
    '  wrapping the three dependencies: read = wall time while a store cursor `next()` is pending (file load,',
    '  EJSON parse, sort, streaming), write = time inside `ResultsBucket.upload` (serialising chunks and the',
    '  multipart upload), ledger = the run-ledger transitions, match = the remainder. Peak RSS as above.',
    "- **Bundles.** Each functions/*.ts built with esbuild's JS API: `BUNDLE_OPTIONS` (scripts/build-options.ts)",
    '  plus serverless.yml `custom.esbuild`: `sourcemap`, `sourcesContent`, `exclude` as `external` (what serverless-esbuild does)',
    '  and its `plugins` file called for a deployed stage. Size = the minified `.mjs` (the map is a separate',
    '  file). Init = `performance.now()` around `await import(bundle)` in a fresh plain Node process (no tsx) with',
    '  the deployed environment variables and `--enable-source-maps` (serverless.yml sets it in NODE_OPTIONS);',
    "  externals resolve from the project's node_modules, as the runtime provides the AWS SDK. Lambda runs",
    '  nodejs22.x on arm64 (see Machine for the Node version here), so absolute init times differ there.',
    '',
  ].join('\n');
}

/** docs/BENCHMARKS.md. */
export function renderMarkdown(report: BenchReport, chartFile: string): string {
  const notes = [agreementNote(report.core), memoryGrowthNote(report.core)].filter((n) => n !== '');
  return [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench${report.argv.length > 0 ? ` -- ${report.argv.join(' ')}` : ''}\` (${report.mode} run, ${Math.round(report.durationS)} s) on`,
    `${report.startedAt.slice(0, 10)}. Do not edit by hand: re-run the benchmark. Method and machine are below.`,
    '',
    `![Time and peak memory against input size, log-log](${chartFile})`,
    '',
    '## Targets',
    '',
    renderTargetsTable(report),
    '',
    '## Matcher core',
    '',
    renderCoreTable(report),
    '',
    ...notes.flatMap((n) => [n, '']),
    `Memory values under ${MEMORY_FLOOR_MIB} MiB are drawn at ${MEMORY_FLOOR_MIB} MiB in the chart.`,
    '',
    // Sections not measured render as '' and are left out, so no run leaves stray blank lines.
    ...[
      renderProfile(report),
      renderE2e(report),
      renderSummary(report),
      renderBundles(report),
      renderColdRequest(report),
      renderInitProfile(report),
    ].filter((section) => section !== ''),
    renderMachine(report),
    renderMethod(report),
    '## Running it',
    '',
    '```sh',
    'npm run bench                      # full run (n up to 10^6), writes docs/BENCHMARKS.md and docs/benchmarks.svg',
    'npm run bench -- --quick           # n up to 10^5, fewer runs, no profile',
    'npm run bench -- --sizes 1e4,1e5 --skip-e2e --skip-bundles',
    'npm run bench -- --help',
    '```',
    '',
  ].join('\n');
}
