import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuiltBundle, IMPORT_TIMER, runBundleChild } from './bundles.js';
import { RESULT_MARKER } from './child-process.js';
import {
  fileOf,
  PROFILE_INTERVAL_US,
  profileDurationMs,
  type SelfTime,
  selfTimeBy,
  topSelfTime,
} from './cpu-profile.js';

/** Where a cold start's CPU time goes, from `node --cpu-prof` of one import of the bundle. */
export interface InitProfile {
  readonly name: string;
  readonly totalMs: number;
  /** Self time by origin: Node's module loader, the bundle's own code, each external package, GC. */
  readonly byOrigin: readonly [origin: string, selfMs: number][];
  readonly top: readonly SelfTime[];
  /** CommonJS files the import loaded (the externals are CommonJS): package, files, bytes; largest first. */
  readonly commonJs: readonly [pkg: string, files: number, bytes: number][];
}

/** Imports the bundle, then counts the CommonJS files Node loaded for it (its `require` cache) per package. */
const COMMONJS_INVENTORY = `
import { createRequire } from 'node:module';
import { statSync } from 'node:fs';
await import(process.argv[1]);
const counts = {};
for (const file of Object.keys(createRequire(process.argv[1]).cache)) {
  const pkg = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(file)?.[1] ?? 'other';
  const entry = (counts[pkg] ??= [pkg, 0, 0]);
  entry[1] += 1;
  entry[2] += statSync(file).size;
}
process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(Object.values(counts)) + '\\n');
process.exit(0);`;

/** Runs one deployed-style import of `bundle` under `node --cpu-prof` and summarises the profile. */
export async function profileBundleImport(bundle: BuiltBundle): Promise<InitProfile> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-init-prof-'));
  try {
    const url = pathToFileURL(bundle.file).href;
    await runBundleChild(bundle, IMPORT_TIMER, [url], {
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
    const byOrigin = selfTimeBy(profile, (frame) => {
      const file = fileOf(frame);
      const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
      if (pkg !== undefined) return `${pkg} (external)`;
      if (frame.url.endsWith(`/${path.basename(bundle.file)}`)) return 'the bundle itself';
      if (frame.url.startsWith('node:')) return 'Node module loader and built-ins';
      if (frame.url === '')
        return frame.functionName.startsWith('(') ? frame.functionName : 'Node native (fs, compile)';
      return file;
    });
    const commonJs = await runBundleChild<[string, number, number][]>(bundle, COMMONJS_INVENTORY, [url]);
    return {
      name: bundle.name,
      totalMs: profileDurationMs(profile),
      byOrigin,
      top: topSelfTime(profile, 10),
      commonJs: commonJs.sort((a, b) => b[2] - a[2]),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
