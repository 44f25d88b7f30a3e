/**
 * `npm run bench [-- options]`: measures the matcher, the end-to-end job, the actions summary and
 * the function bundles, each in fresh child processes, and writes docs/BENCHMARKS.md with every
 * target's pass / fail. `--help` lists the options.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './child-process.js';
import { parseBenchOptions, USAGE } from './options.js';
import { formatMarkdown, renderReport } from './report.js';
import { runBenchSuite } from './suite.js';
import { evaluateTargets } from './targets.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let options: ReturnType<typeof parseBenchOptions>;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const results = await runBenchSuite(options, (line) => console.log(line));
  const outDir = path.resolve(REPO_ROOT, options.outDir);
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, 'BENCHMARKS.md');
  await writeFile(file, formatMarkdown(renderReport(results, argv)));
  const failed = evaluateTargets(
    results.core,
    results.e2e,
    results.bundles,
    results.lookup,
    results.shards,
  ).filter((t) => t.status === 'fail');
  for (const t of failed) console.log(`FAIL ${t.target}: ${t.measured}`);
  console.log(`wrote ${file} (${Math.round(results.durationS)} s)`);
  // A missed target is a finding for the report, not a crash: the page says FAIL.
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
