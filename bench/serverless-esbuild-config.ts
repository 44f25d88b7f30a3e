import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The parts of serverless.yml `custom.esbuild` a bundle build needs. */
export interface ServerlessEsbuildConfig {
  /** Scalar options as written (`minify: true`, `target: node20`, ...). */
  readonly options: Readonly<Record<string, string>>;
  /** `exclude`: modules left out of the bundle (serverless-esbuild passes them to esbuild as `external`). */
  readonly exclude: readonly string[];
}

function unquote(value: string): string {
  const trimmed = value.trim();
  return /^(['"]).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
}

/**
 * Reads `custom.esbuild` from serverless.yml text. A deliberately small reader (no YAML package
 * in the project): it takes the block by indentation, its `key: value` scalars and the items of
 * its `exclude:` list, and throws if the block is missing rather than guessing.
 */
export function parseServerlessEsbuildConfig(yaml: string): ServerlessEsbuildConfig {
  const lines = yaml.split(/\r?\n/);
  const start = lines.findIndex((line) => /^\s+esbuild:\s*(#.*)?$/.test(line));
  if (start === -1) throw new Error('serverless.yml has no custom.esbuild block');
  const blockIndent = (lines[start] as string).search(/\S/);
  const options: Record<string, string> = {};
  const exclude: string[] = [];
  let listKey: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const indent = line.search(/\S/);
    if (indent <= blockIndent) break;
    const item = /^\s*-\s*(.+?)\s*$/.exec(line);
    if (item) {
      if (listKey === 'exclude') exclude.push(unquote(item[1] as string));
      continue;
    }
    const pair = /^\s*([A-Za-z][\w-]*):\s*(.*?)\s*$/.exec(line);
    if (!pair) continue;
    const [, key, value] = pair as unknown as [string, string, string];
    listKey = value === '' ? key : undefined;
    if (value !== '' && indent === blockIndent + 2) options[key] = unquote(value);
  }
  return { options, exclude };
}

export async function readServerlessEsbuildConfig(repoRoot: string): Promise<ServerlessEsbuildConfig> {
  return parseServerlessEsbuildConfig(await readFile(path.join(repoRoot, 'serverless.yml'), 'utf8'));
}
