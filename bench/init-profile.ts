import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { Profiler, Runtime } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuiltBundle, IMPORT_TIMER, runBundleChild } from './bundles.js';
import { RESULT_MARKER } from './child-process.js';
import { fileOf, PROFILE_INTERVAL_US, profileDurationMs, selfTimeBy, topSelfTime } from './cpu-profile.js';

/** Where a cold start's CPU time goes, from `node --cpu-prof` of one import of the bundle. */
export interface InitProfile {
  readonly name: string;
  readonly totalMs: number;
  /** Self time by origin: Node's module loader, the bundle's own code, each external package, GC. */
  readonly byOrigin: readonly { readonly origin: string; readonly selfMs: number }[];
  readonly top: readonly { readonly name: string; readonly location: string; readonly selfMs: number }[];
  /** CommonJS files the import loaded (the externals are CommonJS), per package, largest first. */
  readonly commonJsFiles: readonly { readonly pkg: string; readonly files: number; readonly bytes: number }[];
}

/**
 * Imports the bundle, then reports the CommonJS files Node loaded for it (its `require` cache):
 * each one was read, lexed for named exports and compiled during the import.
 */
const IMPORT_INVENTORY = [
  "import { createRequire } from 'node:module';",
  "import { statSync } from 'node:fs';",
  'await import(process.argv[1]);',
  'const files = Object.keys(createRequire(process.argv[1]).cache);',
  'const counts = {};',
  'for (const file of files) {',
  '  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(file);',
  "  const entry = (counts[match ? match[1] : 'other'] ??= { files: 0, bytes: 0 });",
  '  entry.files += 1;',
  '  entry.bytes += statSync(file).size;',
  '}',
  `process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(counts) + '\\n');`,
  'process.exit(0);',
].join('\n');

async function commonJsInventory(bundle: BuiltBundle): Promise<InitProfile['commonJsFiles']> {
  const counts = await runBundleChild<Record<string, { files: number; bytes: number }>>(
    bundle,
    IMPORT_INVENTORY,
    [pathToFileURL(bundle.file).href],
  );
  return Object.entries(counts)
    .map(([pkg, { files, bytes }]) => ({ pkg, files, bytes }))
    .sort((a, b) => b.bytes - a.bytes);
}

function originOf(bundleFile: string): (frame: Runtime.CallFrame) => string {
  return (frame) => {
    const file = fileOf(frame);
    const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    if (pkg) return `${pkg[1]} (external)`;
    if (file === bundleFile || frame.url.endsWith(`/${path.basename(bundleFile)}`))
      return 'the bundle itself';
    if (frame.url.startsWith('node:')) return 'Node module loader and built-ins';
    if (frame.url === '')
      return frame.functionName.startsWith('(') ? frame.functionName : 'Node native (fs, compile)';
    return file;
  };
}

/** Runs one deployed-style import of `bundle` under `node --cpu-prof` and summarises the profile. */
export async function profileBundleImport(bundle: BuiltBundle): Promise<InitProfile> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-init-prof-'));
  try {
    await runBundleChild(bundle, IMPORT_TIMER, [pathToFileURL(bundle.file).href], {
      nodeFlags: [
        '--enable-source-maps',
        '--cpu-prof',
        `--cpu-prof-dir=${dir}`,
        `--cpu-prof-interval=${PROFILE_INTERVAL_US}`,
      ],
    });
    const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('node --cpu-prof wrote no profile');
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Profiler.Profile;
    const byOrigin = [...selfTimeBy(profile, originOf(bundle.file)).entries()]
      .map(([origin, selfMs]) => ({ origin, selfMs }))
      .sort((a, b) => b.selfMs - a.selfMs);
    return {
      name: bundle.name,
      totalMs: profileDurationMs(profile),
      byOrigin,
      top: topSelfTime(profile, 10),
      commonJsFiles: await commonJsInventory(bundle),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
