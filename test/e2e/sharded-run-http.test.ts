import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MatchResult } from '../../lib/matching/index.js';
import { type Stack, startStack } from '../support/offline.js';
import { type StackClient, stackClient } from '../support/stack-client.js';

/**
 * A sharded run end to end over the local stack of `npm start`: POST /matching-runs with `shards`
 * starts the state machine on the local Step Functions endpoint, whose tasks invoke the plan,
 * shard, merge and fail functions in serverless offline; its result.json must equal an unsharded
 * partitioned run's on the same records.
 */

let stack: Stack;
let client: StackClient;

beforeAll(async () => {
  stack = await startStack({ demo: { accounts: 300, accruals: 3000, payments: 2800, seed: 12 } });
  client = stackClient(stack);
}, 180_000);

afterAll(async () => {
  client?.close();
  await stack?.stop();
});

const post = (body: unknown) =>
  client.request('/matching-runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function execution(runId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = stack.stepFunctions.executions().filter((e) => e.name.startsWith(runId));
    if (found.length > 0) {
      await Promise.all(found.map((e) => e.done));
      return found;
    }
    if (Date.now() > deadline) throw new Error(`no execution for run ${runId} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function result(run: Record<string, unknown>): Promise<MatchResult> {
  const outputs = run.outputs as Record<string, { url: string }>;
  return (await (await fetch(String(outputs.resultJson?.url))).json()) as MatchResult;
}

function withoutIdentity(outcome: MatchResult) {
  const { runId: _runId, generatedAt: _generatedAt, stats, ...rest } = outcome;
  return { ...rest, stats: { ...stats, durationMs: 0 } };
}

describe('a sharded run over the local stack', () => {
  it('succeeds through the state machine, with the result of an unsharded partitioned run', async () => {
    const sharded = await post({ partitionBy: 'account', shards: 3 });
    expect(sharded.status).toBe(202);
    const runId = String(sharded.json.runId);
    const run = await client.waitForRun(runId, 240_000);
    expect(run, JSON.stringify(run)).toMatchObject({
      status: 'succeeded',
      shards: 3,
      partitionBy: 'account',
    });
    expect((await execution(runId, 1000)).map((e) => [e.name, e.status])).toEqual([
      [`${runId}-0`, 'SUCCEEDED'],
    ]);

    const plain = await post({ partitionBy: 'account' });
    const plainRun = await client.waitForRun(String(plain.json.runId), 240_000);
    expect(plainRun.status).toBe('succeeded');
    expect(withoutIdentity(await result(run))).toEqual(withoutIdentity(await result(plainRun)));
  }, 500_000);
});
