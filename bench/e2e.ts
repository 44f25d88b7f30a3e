import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runChild, startServiceChild } from './child-process.js';
import type { E2eMeasurement } from './e2e-types.js';
import { generateMatchingInputs } from './inputs.js';
import { writeStoreFiles } from './store-files.js';

export interface E2eOptions {
  readonly size: number;
  readonly runs: number;
  readonly seed: number;
  readonly policy: 'chronological' | 'month-first';
}

/**
 * The end-to-end measurement: writes `size` accruals and payments as NDJSON into a temp DATA_DIR,
 * starts the emulators in their own process, and runs bench/measure-e2e.ts in a fresh process
 * pointed at both. Everything it starts is stopped and removed, also on failure.
 */
export async function measureEndToEnd(options: E2eOptions): Promise<E2eMeasurement> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-e2e-'));
  try {
    await writeStoreFiles(dataDir, generateMatchingInputs(options.size, options.seed));
    const emulators = await startServiceChild<{ env: Record<string, string> }>(['bench/emulator-host.ts'], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    });
    try {
      return await runChild<E2eMeasurement>(
        [
          'bench/measure-e2e.ts',
          '--data-dir',
          dataDir,
          '--size',
          String(options.size),
          '--runs',
          String(options.runs),
          '--policy',
          options.policy,
        ],
        {
          nodeFlags: ['--expose-gc'],
          timeoutMs: 5 * 60_000,
          env: { ...process.env, ...emulators.ready.env, DATA_DIR: dataDir, POWERTOOLS_LOG_LEVEL: 'SILENT' },
        },
      );
    } finally {
      await emulators.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
