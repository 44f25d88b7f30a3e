import { readdir, stat, symlink } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS } from '../scripts/build-options.js';
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
 * The build options of a deployed bundle: BUNDLE_OPTIONS (scripts/build-options.ts), plus what
 * serverless.yml `custom.esbuild` adds: external source maps (with or without `sourcesContent`),
 * `exclude` as `external` (exactly what serverless-esbuild does with it) and its `plugins` file,
 * called for a deployed stage.
 */
export function deployedBuildOptions(repoRoot: string, yml: ServerlessEsbuildConfig): BuildOptions {
  return {
    ...BUNDLE_OPTIONS,
    sourcemap: yml.options.sourcemap === 'true' ? true : undefined,
    sourcesContent: yml.options.sourcesContent === 'false' ? false : undefined,
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

/** How the bundle loads a package it leaves to the runtime: an ES `import` or a `require` call. */
type ExternalKind = 'import' | 'require';

/** Every package the bundle leaves to the runtime (`external`), loaded at cold start or not. */
function externalCandidates(metafile: Metafile, outfile: string): Map<string, ExternalKind> {
  const output = Object.entries(metafile.outputs).find(
    ([file]) => path.resolve(file) === path.resolve(outfile),
  );
  const candidates = new Map<string, ExternalKind>();
  for (const i of output?.[1].imports ?? []) {
    if (!i.external || isBuiltin(i.path)) continue;
    if (i.kind === 'import-statement') candidates.set(i.path, 'import');
    else if (i.kind === 'require-call' && !candidates.has(i.path)) candidates.set(i.path, 'require');
  }
  return candidates;
}

/**
 * Imports the bundle, then reports which of the `require`d candidates Node loaded (they are in its
 * `require` cache). A `require` may sit in code that runs only on demand: the MongoDB driver's
 * optional modules (kerberos, ...), or the SSM client reached through `await import()`.
 */
const LOADED_AT_INIT = [
  "import { createRequire } from 'node:module';",
  'const [bundle, ...candidates] = process.argv.slice(1);',
  'await import(bundle);',
  'const require = createRequire(bundle);',
  'const loaded = candidates.filter((c) => {',
  '  try { return require.resolve(c) in require.cache; } catch { return false; }',
  '});',
  `process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(loaded) + '\\n');`,
  'process.exit(0);',
].join('\n');

/**
 * The packages the bundle loads from the runtime at cold start, as `import:<name>` or
 * `require:<name>`: every static import, and the `require`d ones found loaded.
 */
async function externalsLoadedAtInit(
  name: string,
  file: string,
  candidates: ReadonlyMap<string, ExternalKind>,
): Promise<string[]> {
  const required = [...candidates].filter(([, kind]) => kind === 'require').map(([c]) => c);
  const loaded = new Set(
    required.length === 0
      ? []
      : await runBundleChild<string[]>({ name, file }, LOADED_AT_INIT, [
          pathToFileURL(file).href,
          ...required,
        ]),
  );
  return [...candidates]
    .filter(([c, kind]) => kind === 'import' || loaded.has(c))
    .map(([c, kind]) => `${kind}:${c}`);
}

export interface BuiltBundle {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly topInputs: BundleMeasurement['topInputs'];
  /** The packages it loads from the runtime at cold start (the AWS SDK). */
  readonly externals: readonly string[];
  /** The same, each as `import:<name>` or `require:<name>`: how the bundle loads it (IMPORT_TIMER). */
  readonly externalLoads: readonly string[];
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
    const externalLoads = result.metafile
      ? await externalsLoadedAtInit(name, outfile, externalCandidates(result.metafile, outfile))
      : [];
    built.push({
      name,
      file: outfile,
      bytes: (await stat(outfile)).size,
      topInputs: result.metafile ? topInputs(result.metafile, outfile, 6) : [],
      externals: externalLoads.map((load) => load.slice(load.indexOf(':') + 1)).sort(),
      externalLoads,
    });
  }
  return built;
}

/**
 * Times imports in a fresh process: performance.now() around loading each argument in turn (the
 * bundle, or the externals it loads): `require:<specifier>` with `require` from the working
 * directory, anything else with `await import`.
 */
export const IMPORT_TIMER = [
  "import { createRequire } from 'node:module';",
  "const require = createRequire(process.cwd() + '/');",
  'const cpu = process.cpuUsage();',
  'const start = performance.now();',
  'for (const specifier of process.argv.slice(1)) {',
  "  if (specifier.startsWith('require:')) require(specifier.slice('require:'.length));",
  "  else await import(specifier.startsWith('import:') ? specifier.slice('import:'.length) : specifier);",
  '}',
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

/** How {@link runBundleChild} runs a script beside a bundle. */
export interface BundleChildOptions {
  /** Node flags (`--enable-source-maps`, `--cpu-prof`, …). */
  readonly nodeFlags?: readonly string[];
  /** Added to (and overriding) the deployed environment. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs an ES module `script` (`node --input-type=module -e`) in a fresh plain Node process (no
 * tsx) beside `bundle`, with the deployed environment of its function, and returns what it
 * reported after RESULT_MARKER. Externals resolve from `outDir/node_modules`, as the runtime's SDK.
 */
export function runBundleChild<T>(
  bundle: Pick<BuiltBundle, 'name' | 'file'>,
  script: string,
  args: readonly string[],
  options: BundleChildOptions = {},
): Promise<T> {
  return runChild<T>(['--input-type=module', '-e', script, ...args], {
    typescript: false,
    nodeFlags: options.nodeFlags ?? [],
    env: { ...lambdaEnvironment(bundle.name), ...options.env },
    cwd: path.dirname(bundle.file),
    timeoutMs: 60_000,
  });
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
    const time = await runBundleChild<ImportTime>(bundle, IMPORT_TIMER, specifiers, {
      nodeFlags: sourceMaps ? ['--enable-source-maps'] : [],
    });
    times.push(time);
  }
  return times;
}

/**
 * Bundle size and median initialisation times over `runs` fresh processes each: as deployed (with
 * `--enable-source-maps`), without source maps, and of the externals alone (the runtime-provided
 * SDK, loaded as the bundle loads it). The three kinds of run are interleaved, so a burst of
 * machine load hits them alike.
 */
export async function measureBundle(bundle: BuiltBundle, runs: number): Promise<BundleMeasurement> {
  const own = pathToFileURL(bundle.file).href;
  const deployed: ImportTime[] = [];
  const plain: ImportTime[] = [];
  const externals: ImportTime[] = [];
  for (let run = 0; run < runs; run++) {
    deployed.push(...(await importTimes(bundle, [own], 1, true)));
    plain.push(...(await importTimes(bundle, [own], 1, false)));
    if (bundle.externalLoads.length > 0)
      externals.push(...(await importTimes(bundle, bundle.externalLoads, 1, false)));
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
