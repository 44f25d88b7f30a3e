/**
 * `npm run bench`: the performance suite of issue 4. Runs each measurement in a fresh child
 * process, prints the results as markdown and writes docs/BENCHMARKS.md and docs/benchmarks.svg.
 * `npm run bench -- --help` lists the flags.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './child-process.js';
import { parseBenchOptions, USAGE } from './options.js';
import { renderCoreTable, renderMarkdown, renderSummaryTable, renderTargetsTable } from './report.js';
import { renderReportChart } from './report-chart.js';
import { runBenchSuite } from './suite.js';

const CHART_FILE = 'benchmarks.svg';
const PAGE_FILE = 'BENCHMARKS.md';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  let options: ReturnType<typeof parseBenchOptions>;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    console.error(
      `${error instanceof Error ? error.message : String(error)}\nnpm run bench -- --help lists the options.`,
    );
    process.exitCode = 2;
    return;
  }
  const progress = (line: string): void => {
    process.stderr.write(`[bench] ${line}\n`);
  };
  progress(
    `${options.mode} run: sizes ${options.sizes.join(', ')}; naive ${options.naiveSizes.join(', ') || 'none'}`,
  );
  const report = await runBenchSuite(options, argv, progress);

  const outDir = path.resolve(REPO_ROOT, options.outDir);
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, CHART_FILE), renderReportChart(report));
  await writeFile(path.join(outDir, PAGE_FILE), renderMarkdown(report, CHART_FILE));

  const summaryTable = renderSummaryTable(report);
  process.stdout.write(
    `\n${renderCoreTable(report)}\n\n${summaryTable === '' ? '' : `${summaryTable}\n\n`}${renderTargetsTable(report)}\n\n`,
  );
  progress(
    `wrote ${path.relative(process.cwd(), path.join(outDir, PAGE_FILE))} and ${CHART_FILE} in ${report.durationS.toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
