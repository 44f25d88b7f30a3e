import { readdir, stat, symlink } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS } from '../lib/build-options.js';
import type { BundleMeasurement } from './bundle-types.js';
import { RESULT_MARKER, runChild } from './child-process.js';
import { readServerlessEsbuildConfig, type ServerlessEsbuildConfig } from './serverless-esbuild-config.js';
import { median } from './stats.js';

/** The stage whose bundles are measured: a deployed one (the offline `local` stage bundles more). */
export const BUNDLE_STAGE = 'prod';

/** The Lambda handlers: every functions/*.ts. */
export async function functionNames(repoRoot: string): Promise<string[]> {
  const files = await readdir(path.join(repoRoot, 'functions'));
  return files
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** serverless-esbuild `plugins`: a module exporting plugins or a function of the Serverless instance. */
function loadPlugins(repoRoot: string, file: string | undefined): Plugin[] {
  if (file === undefined) return [];
  const required: unknown = createRequire(path.join(repoRoot, 'package.json'))(path.resolve(repoRoot, file));
  const exported = (required as { default?: unknown }).default ?? required;
  const plugins =
    typeof exported === 'function' ? exported({ service: { provider: { stage: BUNDLE_STAGE } } }) : exported;
  if (!Array.isArray(plugins)) throw new Error(`${file} does not export esbuild plugins`);
  return plugins as Plugin[];
}

/**
 * The build options of a deployed bundle: BUNDLE_OPTIONS (lib/build-options.ts), plus what
 * serverless.yml `custom.esbuild` adds: external source maps, `exclude` as `external` (exactly
 * what serverless-esbuild does with it) and its `plugins` file, called for a deployed stage.
 */
export function deployedBuildOptions(repoRoot: string, yml: ServerlessEsbuildConfig): BuildOptions {
  return {
    ...BUNDLE_OPTIONS,
    sourcemap: yml.options.sourcemap === 'true' ? true : undefined,
    external: [...yml.exclude],
    plugins: loadPlugins(repoRoot, yml.options.plugins),
    absWorkingDir: repoRoot,
    metafile: true,
    logLevel: 'silent',
  };
}

function topInputs(metafile: Metafile, outfile: string, limit: number): BundleMeasurement['topInputs'] {
  const output = Object.entries(metafile.outputs).find(
    ([file]) => path.resolve(file) === path.resolve(outfile),
  );
  if (output === undefined) return [];
  // Group by package (node_modules/<name> or <scope>/<name>) or by project directory.
  const groups = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(output[1].inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = match ? (match[1] as string) : path.dirname(file);
    groups.set(key, (groups.get(key) ?? 0) + bytesInOutput);
  }
  return [...groups.entries()]
    .map(([p, bytes]) => ({ path: p, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit);
}

/** The packages the bundle imports at load time but leaves to the runtime (`external`). */
function externalImports(metafile: Metafile, outfile: string): string[] {
  const output = Object.entries(metafile.outputs).find(
    ([file]) => path.resolve(file) === path.resolve(outfile),
  );
  if (output === undefined) return [];
  // Static imports only: `require` calls of optional modules (kerberos, ...) run only on demand.
  const specifiers = output[1].imports
    .filter((i) => i.external && i.kind === 'import-statement' && !isBuiltin(i.path))
    .map((i) => i.path);
  return [...new Set(specifiers)].sort();
}

export interface BuiltBundle {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly topInputs: BundleMeasurement['topInputs'];
  readonly externals: readonly string[];
}

/**
 * Builds each function into `outDir/<name>.mjs` with the deployed options. `outDir/node_modules`
 * links to the project's node_modules so that the externals resolve, as the Lambda runtime
 * provides the AWS SDK: its load time is part of a cold start and must be measured.
 */
export async function buildFunctionBundles(
  repoRoot: string,
  outDir: string,
  names: readonly string[],
): Promise<BuiltBundle[]> {
  await symlink(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  const yml = await readServerlessEsbuildConfig(repoRoot);
  const options = deployedBuildOptions(repoRoot, yml);
  const built: BuiltBundle[] = [];
  for (const name of names) {
    const outfile = path.join(outDir, `${name}.mjs`);
    const result = await build({
      ...options,
      entryPoints: [path.join(repoRoot, 'functions', `${name}.ts`)],
      outfile,
    });
    built.push({
      name,
      file: outfile,
      bytes: (await stat(outfile)).size,
      topInputs: result.metafile ? topInputs(result.metafile, outfile, 6) : [],
      externals: result.metafile ? externalImports(result.metafile, outfile) : [],
    });
  }
  return built;
}

/**
 * Times imports in a fresh process: performance.now() around `await import` of each argument in
 * turn (the bundle, or the externals it imports).
 */
export const IMPORT_TIMER = [
  'const cpu = process.cpuUsage();',
  'const start = performance.now();',
  'for (const specifier of process.argv.slice(1)) await import(specifier);',
  'const ms = performance.now() - start;',
  'const used = process.cpuUsage(cpu);',
  'const cpuMs = (used.user + used.system) / 1000;',
  `process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify({ ms, cpuMs }) + '\\n');`,
  'process.exit(0);',
].join('\n');

/**
 * The environment of a deployed function (serverless.yml `provider.environment` for a deployed
 * stage, with placeholder names), so module-scope configuration reads see what they see in AWS.
 */
export function lambdaEnvironment(name: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-central-1',
    AWS_LAMBDA_FUNCTION_NAME: `zhkh-billing-bench-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    POWERTOOLS_SERVICE_NAME: 'zhkh-billing',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    MONGODB_DB: 'billing',
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: '3000',
    WORKER_FUNCTION_NAME: 'zhkh-billing-bench-matchingWorker',
    PRESIGNED_URL_TTL_SECONDS: '300',
    IDEMPOTENCY_TTL_SECONDS: '86400',
    CORS_ALLOWED_ORIGINS: '',
    RUNS_TABLE: 'zhkh-billing-bench-matching-runs',
    IDEMPOTENCY_TABLE: 'zhkh-billing-bench-idempotency',
    RESULTS_BUCKET: 'zhkh-billing-bench-results',
    MONGODB_URI_PARAMETER: '/zhkh-billing/bench/mongodb-uri',
  };
}

interface ImportTime {
  readonly ms: number;
  readonly cpuMs: number;
}

async function importTimes(
  bundle: BuiltBundle,
  specifiers: readonly string[],
  runs: number,
  sourceMaps: boolean,
): Promise<ImportTime[]> {
  const times: ImportTime[] = [];
  for (let run = 0; run < runs; run++) {
    const time = await runChild<ImportTime>(['--input-type=module', '-e', IMPORT_TIMER, ...specifiers], {
      typescript: false,
      nodeFlags: sourceMaps ? ['--enable-source-maps'] : [],
      env: lambdaEnvironment(bundle.name),
      cwd: path.dirname(bundle.file),
      timeoutMs: 60_000,
    });
    times.push(time);
  }
  return times;
}

/**
 * Bundle size and median initialisation times over `runs` fresh processes each: as deployed (with
 * `--enable-source-maps`), without source maps, and of the externals alone (runtime-provided SDK).
 * The three kinds of run are interleaved, so a burst of machine load hits them alike.
 */
export async function measureBundle(bundle: BuiltBundle, runs: number): Promise<BundleMeasurement> {
  const own = pathToFileURL(bundle.file).href;
  const deployed: ImportTime[] = [];
  const plain: ImportTime[] = [];
  const externals: ImportTime[] = [];
  for (let run = 0; run < runs; run++) {
    deployed.push(...(await importTimes(bundle, [own], 1, true)));
    plain.push(...(await importTimes(bundle, [own], 1, false)));
    if (bundle.externals.length > 0)
      externals.push(...(await importTimes(bundle, bundle.externals, 1, false)));
  }
  return {
    name: bundle.name,
    bytes: bundle.bytes,
    topInputs: bundle.topInputs,
    externals: bundle.externals,
    initRunsMs: deployed.map((t) => t.ms),
    initMedianMs: median(deployed.map((t) => t.ms)),
    initCpuMedianMs: median(deployed.map((t) => t.cpuMs)),
    initPlainMedianMs: median(plain.map((t) => t.ms)),
    externalsInitMedianMs: externals.length > 0 ? median(externals.map((t) => t.ms)) : 0,
  };
}
