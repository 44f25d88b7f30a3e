import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MatchOutcome, matchPayments, matchPaymentsByPartition } from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { type OutputChunks, outcomeOutputs } from '../../lib/runs/output-source.js';
import { isPartitionedOnly, isShardedOnly, RUN_OUTPUTS } from '../../lib/runs/outputs.js';
import { SpilledOutputs } from '../../lib/runs/spill.js';
import { demoInputs } from '../support/job-harness.js';
import { readWorkbook } from '../support/workbook-reader.js';

/**
 * The two output sources of the job: a run matched as a whole and rendered from memory, and a run
 * matched one partition at a time and spilled to files. Every output in RUN_OUTPUTS that every run
 * writes (so also one added later) must come out byte for byte the same from both; those only
 * partitioned runs write come from the spilled source alone (test/runs/partition-index.test.ts).
 * The workbook is written with a small row limit, so its continuation sheets are compared too.
 */

const inputs = demoInputs({ accounts: 25, accruals: 100, payments: 90, seed: 5 });
const policy = 'month-first' as const;
const partitionBy = 'account';
const limitationPeriod = 'P1Y';
const meta = { runId: 'run-1', generatedAt: '2024-06-01T00:00:00.000Z' };
const options = { workbook: { maxRowsPerSheet: 7 } };

async function bytes(chunks: OutputChunks): Promise<Buffer> {
  const all: Buffer[] = [];
  for await (const chunk of chunks)
    all.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(all);
}

describe('output sources', () => {
  let whole: MatchOutcome;
  let spilled: SpilledOutputs;

  beforeAll(async () => {
    const sort = inputSort(partitionBy);
    const read = (collection: string) => inputs.store().find<Document>(collection, {}, { sort });
    const matchOptions = { policy, partitionBy, limitationPeriod };
    whole = await matchPayments(read('accrual'), read('payment'), matchOptions);
    spilled = await SpilledOutputs.create(policy, partitionBy, limitationPeriod, options);
    await matchPaymentsByPartition(read('accrual'), read('payment'), matchOptions, spilled.add);
    // The stats of the whole run, so that result.json compares equal (durationMs is a measurement).
    spilled.close(whole.stats);
  });

  afterAll(async () => {
    await spilled?.dispose();
  });

  it.each(
    RUN_OUTPUTS.flatMap((output) =>
      isPartitionedOnly(output.name) ? [] : [[output.file, output.name] as const],
    ),
  )('write %s from spilled partitions as from the whole run in memory', async (_file, name) => {
    const expected = await bytes(outcomeOutputs(whole, options)[name](meta));
    expect(expected.length).toBeGreaterThan(100);
    expect((await bytes(spilled[name](meta))).equals(expected)).toBe(true);
  });

  it('apply the same options: the workbooks continue their sheets past the row limit', async () => {
    const names = readWorkbook(await bytes(spilled.resultXlsx(meta))).map((sheet) => sheet.name);
    expect(names).toContain('Matches (2)');
    expect(names).toContain('Rejected');
  });

  it('upload result.json last, so its presence means the set is complete', () => {
    expect(RUN_OUTPUTS.at(-1)?.file).toBe('result.json');
  });

  it('have the outputs only partitioned runs write in the spilled source alone', () => {
    // The manifest is written by sharded runs alone, from their shards' outputs (lib/runs/shards/merge.ts).
    const partitionedOnly = RUN_OUTPUTS.filter(
      (output) => isPartitionedOnly(output.name) && !isShardedOnly(output.name),
    );
    expect(partitionedOnly.map((output) => output.file)).toEqual([
      'partitions.jsonl',
      'partition-index.jsonl',
    ]);
    for (const { name } of partitionedOnly) {
      if (isShardedOnly(name)) continue;
      expect(outcomeOutputs(whole)[name], name).toBeUndefined();
      expect(spilled[name], name).toBeTypeOf('function');
    }
  });
});
