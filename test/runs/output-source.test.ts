import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MatchOutcome, matchPayments, matchPaymentsByPartition } from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { type OutputChunks, outcomeOutputs } from '../../lib/runs/output-source.js';
import { isPartitionedOnly, RUN_OUTPUTS } from '../../lib/runs/outputs.js';
import { SpilledOutputs } from '../../lib/runs/spill.js';
import { demoInputs } from '../support/job-harness.js';

/**
 * The two output sources of the job: a run matched as a whole and rendered from memory, and a run
 * matched one partition at a time and spilled to files. Every output in RUN_OUTPUTS that every run
 * writes (so also one added later) must come out byte for byte the same from both; those only
 * partitioned runs write come from the spilled source alone (test/runs/partition-index.test.ts).
 */

const inputs = demoInputs({ accounts: 25, accruals: 100, payments: 90, seed: 5 });
const policy = 'month-first';
const partitionBy = 'account';
const meta = { runId: 'run-1', generatedAt: '2024-06-01T00:00:00.000Z' };

async function text(chunks: OutputChunks): Promise<string> {
  let all = '';
  for await (const chunk of chunks) all += chunk;
  return all;
}

describe('output sources', () => {
  let whole: MatchOutcome;
  let spilled: SpilledOutputs;

  beforeAll(async () => {
    const sort = inputSort(partitionBy);
    const read = (collection: string) => inputs.store().find<Document>(collection, {}, { sort });
    whole = await matchPayments(read('accrual'), read('payment'), { policy, partitionBy });
    spilled = await SpilledOutputs.create(policy, partitionBy);
    await matchPaymentsByPartition(read('accrual'), read('payment'), { policy, partitionBy }, spilled.add);
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
    const expected = await text(outcomeOutputs(whole)[name](meta));
    expect(expected.length).toBeGreaterThan(100);
    expect(await text(spilled[name](meta))).toBe(expected);
  });

  it('upload result.json last, so its presence means the set is complete', () => {
    expect(RUN_OUTPUTS.at(-1)?.file).toBe('result.json');
  });

  it('have the outputs only partitioned runs write in the spilled source alone', () => {
    const partitionedOnly = RUN_OUTPUTS.filter((output) => isPartitionedOnly(output.name));
    expect(partitionedOnly.map((output) => output.file)).toEqual([
      'partitions.jsonl',
      'partition-index.jsonl',
    ]);
    for (const { name } of partitionedOnly) {
      expect(outcomeOutputs(whole)[name], name).toBeUndefined();
      expect(spilled[name], name).toBeTypeOf('function');
    }
  });
});
