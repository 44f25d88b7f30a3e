import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResultMeta } from '../matching/index.js';
import type { OutputSource } from '../runs/output-source.js';
import { isPartitionedOnly, RUN_OUTPUTS } from '../runs/outputs.js';

/**
 * Writes every output a run writes to S3 (lib/runs/outputs.ts, in the same order) into `dir` as
 * files of the same names, so an output added there is written here too; the partition lookup's
 * data and index serve the HTTP lookup only and are left out. Returns their paths.
 */
export async function writeOutputFiles(
  dir: string,
  outputs: OutputSource,
  meta: ResultMeta,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const { name, file } of RUN_OUTPUTS) {
    if (isPartitionedOnly(name)) continue;
    const target = path.join(dir, file);
    await pipeline(Readable.from(outputs[name](meta)), createWriteStream(target));
    written.push(target);
  }
  return written;
}
