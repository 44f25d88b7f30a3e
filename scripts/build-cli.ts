/**
 * Builds the command line (lib/cli/main.ts) into one ES module, dist/cli.mjs, with the options of
 * the function bundles: Node runs it directly, no TypeScript step at run time. `npm ci` and
 * `npm install` run this (`prepare`); after changing lib/, `npm run build:cli` rebuilds. Tests
 * build their own copy of the current sources with {@link buildCli}.
 */
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './build-options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_ENTRY = path.join(ROOT, 'lib', 'cli', 'main.ts');
export const CLI_BUNDLE = path.join(ROOT, 'dist', 'cli.mjs');

/** Builds the command line into `outfile` (an executable ES module with a `node` shebang). */
export async function buildCli(outfile: string = CLI_BUNDLE): Promise<string> {
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [CLI_ENTRY],
    outfile,
    logLevel: 'warning',
    banner: { js: `#!/usr/bin/env node\n${BUNDLE_OPTIONS.banner.js}` },
  });
  await chmod(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildCli();
}
