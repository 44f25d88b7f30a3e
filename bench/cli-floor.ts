/**
 * Child process: the floor the command line is compared with, started by bench/cli.ts as `node
 * --import tsx bench/cli-floor.ts --data-dir DIR --out FILE --bytes N`. It does the least any tool
 * turning those exports into that result must: stream both NDJSON files through `JSON.parse` line
 * by line, sort the date keys in a `Float64Array`, and write a JSON document of N bytes (the
 * command line's output size) serialised with `JSON.stringify` from record-shaped objects.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { emitResult } from './child-process.js';
import { PeakRss } from './memory.js';

export interface ProcessMeasurement {
  readonly wallMs: number;
  /** User + system CPU time of the process: steadier than wall time on a shared machine. */
  readonly cpuMs: number;
  readonly peakRssBytes: number;
}

async function dateKeys(file: string, into: number[]): Promise<void> {
  let rest = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1024 * 1024 })) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (end > start)
        into.push(Date.parse((JSON.parse(text.slice(start, end)) as { date: { $date: string } }).date.$date));
      start = end + 1;
    }
    rest = text.slice(start);
  }
}

async function writeDocument(file: string, bytes: number, keys: Float64Array): Promise<void> {
  const out = createWriteStream(file);
  let written = 0;
  for (let i = 0; written < bytes; i = (i + 1) % keys.length) {
    const date = new Date(keys[i] as number).toISOString();
    const batch = JSON.stringify(
      Array.from({ length: 256 }, (_, k) => ({
        payment: { id: i + k, date, month: '2024-01' },
        accrual: { id: i + k, date, month: '2024-01' },
        rule: 'same-month',
      })),
    ).slice(1, -1);
    const chunk = batch.slice(0, Math.min(batch.length, bytes - written));
    written += chunk.length + 1;
    if (!out.write(`${chunk},`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, out: { type: 'string' }, bytes: { type: 'string' } },
  });
  const dir = values['data-dir'] as string;
  const peak = new PeakRss();
  peak.reset();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const keys: number[] = [];
  await dateKeys(path.join(dir, 'accrual.ndjson'), keys);
  await dateKeys(path.join(dir, 'payment.ndjson'), keys);
  const sorted = Float64Array.from(keys).sort();
  await writeDocument(values.out as string, Number(values.bytes), sorted);
  const used = process.cpuUsage(cpu);
  const result: ProcessMeasurement = {
    wallMs: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    peakRssBytes: peak.peakBytes(),
  };
  emitResult(result);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
