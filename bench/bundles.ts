import { readdir, stat, symlink } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS } from '../scripts/build-options.js';
import { readYaml } from '../test/http/yaml.js';
import { RESULT_MARKER, runChild } from './child-process.js';
import { median } from './targets.js';

/** The Lambda handlers: every functions/*.ts. */
export async function functionNames(repoRoot: string): Promise<string[]> {
  const files = await readdir(path.join(repoRoot, 'functions'));
  return files
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

interface EsbuildSettings {
  readonly sourcemap?: boolean;
  readonly sourcesContent?: boolean;
  readonly plugins?: string;
  readonly exclude?: string[];
}

/**
 * The build options of a deployed bundle: BUNDLE_OPTIONS (scripts/build-options.ts) plus what
 * serverless.yml `custom.esbuild` adds: source maps, `exclude` as `external` (what
 * serverless-esbuild does with it) and its `plugins` file, called for a deployed stage.
 */
async function deployedBuildOptions(repoRoot: string): Promise<BuildOptions> {
  const yml = (await readYaml(path.join(repoRoot, 'serverless.yml'))) as {
    custom: { esbuild: EsbuildSettings };
  };
  const settings = yml.custom.esbuild;
  let plugins: Plugin[] = [];
  if (settings.plugins !== undefined) {
    const required: unknown = createRequire(path.join(repoRoot, 'package.json'))(
      path.resolve(repoRoot, settings.plugins),
    );
    const exported = (required as { default?: unknown }).default ?? required;
    const deployed = { service: { provider: { stage: 'prod' } } };
    plugins = (typeof exported === 'function' ? exported(deployed) : exported) as Plugin[];
  }
  return {
    ...BUNDLE_OPTIONS,
    sourcemap: settings.sourcemap,
    sourcesContent: settings.sourcesContent,
    external: settings.exclude ?? [],
    plugins,
    absWorkingDir: repoRoot,
    metafile: true,
    logLevel: 'silent',
  };
}

function outputOf(metafile: Metafile, outfile: string): Metafile['outputs'][string] | undefined {
  return Object.entries(metafile.outputs).find(([file]) => path.resolve(file) === path.resolve(outfile))?.[1];
}

/** The bundle's bytes per package (node_modules/<name>) or project directory, largest first. */
function topInputs(metafile: Metafile, outfile: string): BuiltBundle['topInputs'] {
  const groups = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(outputOf(metafile, outfile)?.inputs ?? {})) {
    const key = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? path.dirname(file);
    groups.set(key, (groups.get(key) ?? 0) + bytesInOutput);
  }
  return [...groups]
    .map(([p, bytes]) => ({ path: p, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 4);
}

/**
 * Imports the bundle, then reports which `require`d externals Node loaded (they are in its
 * `require` cache): a `require` may sit in code that runs only on demand (the MongoDB driver's
 * optional modules, the SSM client reached through `await import()`).
 */
const LOADED_AT_INIT = `
import { createRequire } from 'node:module';
const [bundle, ...candidates] = process.argv.slice(1);
await import(bundle);
const require = createRequire(bundle);
const loaded = candidates.filter((c) => { try { return require.resolve(c) in require.cache; } catch { return false; } });
process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(loaded) + '\\n');
process.exit(0);`;

/** The packages the bundle loads from the runtime at cold start, as `import:<name>` or `require:<name>`. */
async function externalsLoadedAtInit(name: string, file: string, metafile: Metafile): Promise<string[]> {
  const loads = new Map<string, 'import' | 'require'>();
  for (const i of outputOf(metafile, file)?.imports ?? []) {
    if (!i.external || isBuiltin(i.path)) continue;
    if (i.kind === 'import-statement') loads.set(i.path, 'import');
    else if (i.kind === 'require-call' && !loads.has(i.path)) loads.set(i.path, 'require');
  }
  const required = [...loads].filter(([, kind]) => kind === 'require').map(([c]) => c);
  const loaded =
    required.length === 0
      ? []
      : await runBundleChild<string[]>({ name, file }, LOADED_AT_INIT, [
          pathToFileURL(file).href,
          ...required,
        ]);
  return [...loads]
    .filter(([c, kind]) => kind === 'import' || loaded.includes(c))
    .map(([c, kind]) => `${kind}:${c}`);
}

export interface BuiltBundle {
  readonly name: string;
  readonly file: string;
  /** Minified size of the `.mjs` (not its external source map). */
  readonly bytes: number;
  /** The largest inputs by bytes in the bundle (esbuild metafile), to explain its size. */
  readonly topInputs: readonly { readonly path: string; readonly bytes: number }[];
  /** The packages it loads from the runtime at cold start (the AWS SDK). */
  readonly externals: readonly string[];
  /** The same, each as `import:<name>` or `require:<name>`: how the bundle loads it. */
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
  const options = await deployedBuildOptions(repoRoot);
  const built: BuiltBundle[] = [];
  for (const name of names) {
    const file = path.join(outDir, `${name}.mjs`);
    const { metafile } = await build({
      ...options,
      entryPoints: [path.join(repoRoot, 'functions', `${name}.ts`)],
      outfile: file,
    });
    const externalLoads = metafile ? await externalsLoadedAtInit(name, file, metafile) : [];
    built.push({
      name,
      file,
      bytes: (await stat(file)).size,
      topInputs: metafile ? topInputs(metafile, file) : [],
      externals: externalLoads.map((load) => load.slice(load.indexOf(':') + 1)).sort(),
      externalLoads,
    });
  }
  return built;
}

/**
 * Times imports in a fresh process: `performance.now()` and CPU time around loading each argument
 * in turn: `require:<specifier>` with `require`, anything else with `await import`.
 */
export const IMPORT_TIMER = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const cpu = process.cpuUsage();
const start = performance.now();
for (const specifier of process.argv.slice(1)) {
  if (specifier.startsWith('require:')) require(specifier.slice('require:'.length));
  else await import(specifier.replace(/^import:/, ''));
}
const ms = performance.now() - start;
const used = process.cpuUsage(cpu);
process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000 }) + '\\n');
process.exit(0);`;

/**
 * The environment of a deployed function (serverless.yml `provider.environment` for a deployed
 * stage, with placeholder names), so module-scope configuration reads see what they see in AWS.
 */
function lambdaEnvironment(name: string): NodeJS.ProcessEnv {
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

/**
 * Runs an ES module `script` (`node --input-type=module -e`) in a fresh plain Node process (no
 * tsx) beside `bundle`, with the deployed environment of its function plus `env`, and returns
 * what it reported after RESULT_MARKER. Externals resolve from `outDir/node_modules`.
 */
export function runBundleChild<T>(
  bundle: Pick<BuiltBundle, 'name' | 'file'>,
  script: string,
  args: readonly string[],
  options: { readonly nodeFlags?: readonly string[]; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  return runChild<T>(['--input-type=module', '-e', script, ...args], {
    typescript: false,
    nodeFlags: options.nodeFlags ?? [],
    env: { ...lambdaEnvironment(bundle.name), ...options.env },
    cwd: path.dirname(bundle.file),
    timeoutMs: 60_000,
  });
}

export interface BundleMeasurement {
  readonly name: string;
  readonly bytes: number;
  readonly topInputs: BuiltBundle['topInputs'];
  readonly externals: readonly string[];
  /** Fresh processes per median. */
  readonly runs: number;
  /** `await import(bundle)` with `--enable-source-maps`, as deployed: wall and CPU time. */
  readonly initMedianMs: number;
  readonly initCpuMedianMs: number;
  /** The same without `--enable-source-maps`. */
  readonly initPlainMedianMs: number;
  /** Loading only the externals, the way the bundle loads them: the runtime SDK's share of init; null without. */
  readonly externalsMedianMs: number | null;
}

/**
 * Bundle size and median initialisation times over `runs` fresh processes each: as deployed,
 * without source maps, and of the externals alone. The three kinds of run are interleaved, so a
 * burst of machine load hits them alike.
 */
export async function measureBundle(bundle: BuiltBundle, runs: number): Promise<BundleMeasurement> {
  type ImportTime = { ms: number; cpuMs: number };
  const time = (specifiers: readonly string[], nodeFlags: string[] = []): Promise<ImportTime> =>
    runBundleChild<ImportTime>(bundle, IMPORT_TIMER, specifiers, { nodeFlags });
  const own = pathToFileURL(bundle.file).href;
  const deployed: ImportTime[] = [];
  const plain: ImportTime[] = [];
  const externals: ImportTime[] = [];
  for (let run = 0; run < runs; run++) {
    deployed.push(await time([own], ['--enable-source-maps']));
    plain.push(await time([own]));
    if (bundle.externalLoads.length > 0) externals.push(await time(bundle.externalLoads));
  }
  return {
    name: bundle.name,
    bytes: bundle.bytes,
    topInputs: bundle.topInputs,
    externals: bundle.externals,
    runs,
    initMedianMs: median(deployed.map((t) => t.ms)),
    initCpuMedianMs: median(deployed.map((t) => t.cpuMs)),
    initPlainMedianMs: median(plain.map((t) => t.ms)),
    externalsMedianMs: externals.length > 0 ? median(externals.map((t) => t.ms)) : null,
  };
}
