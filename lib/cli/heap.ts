import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import { getHeapStatistics } from 'node:v8';

/**
 * Every record of a run is held while it is matched, and V8's default heap (about 4 GiB on a
 * 64-bit machine, whatever its memory) is too small from about 10^7 × 10^7 records. A heap size
 * cannot change in a running process, so for large inputs the command runs itself again, once,
 * with `--max-old-space-size` at three quarters of the machine's memory, unless it already has
 * that much (`NODE_OPTIONS=--max-old-space-size=…` is honoured).
 */

/** Inputs from this size on (all files together) get the larger heap. */
export const LARGE_INPUT_BYTES = 512 * 2 ** 20;
const RELAUNCHED = 'ZHKH_BILLING_HEAP_MB';
const FILE_OPTIONS = ['--accruals', '--payments', '--accounts'];

function inputFiles(argv: readonly string[]): string[] {
  const files: string[] = [];
  argv.forEach((arg, i) => {
    const [name, value] = arg.split(/=(.*)/s);
    if (name !== undefined && FILE_OPTIONS.includes(name)) {
      const file = value ?? argv[i + 1];
      if (file !== undefined) files.push(file);
    }
  });
  return files;
}

async function totalBytes(files: readonly string[]): Promise<number> {
  const sizes = await Promise.all(
    files.map((file) =>
      stat(file).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

/**
 * Runs the command again with a larger heap when its inputs need it and returns that run's exit
 * code; undefined when this process should do the work itself.
 */
export async function rerunWithLargerHeap(argv: readonly string[]): Promise<number | undefined> {
  const script = process.argv[1];
  if (process.env[RELAUNCHED] !== undefined || script === undefined) return undefined;
  if ((await totalBytes(inputFiles(argv))) < LARGE_INPUT_BYTES) return undefined;
  const heapMb = Math.floor((os.totalmem() / 2 ** 20) * 0.75);
  if (heapMb <= getHeapStatistics().heap_size_limit / 2 ** 20) return undefined;
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, script, ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [RELAUNCHED]: String(heapMb) },
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0));
}
