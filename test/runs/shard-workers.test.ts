import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../lib/errors.js';
import type { MatchingJobOutcome } from '../../lib/runs/job-outcome.js';
import { RunLedger } from '../../lib/runs/ledger.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import type { FailInput } from '../../lib/runs/shards/index.js';
import {
  createShardWorkers,
  INVALID_STEP_INPUT,
  RUN_FAILED,
  type ShardSteps,
  stepFailure,
  TRANSIENT_ERROR,
} from '../../lib/runs/workers/shard-workers.js';

/** The handlers of the state machine's tasks: what they accept, and how they fail for Step Functions. */

const RUN_ID = '01JDQ7ZK5X8M3V0R2T6Y9B4C1N';
const context = { awsRequestId: 'request-1', getRemainingTimeInMillis: () => 60_000 } as Context;

function workers(steps: Partial<ShardSteps>) {
  const never = async () => {
    throw new Error('not called');
  };
  return createShardWorkers(
    {
      ledger: new RunLedger(),
      bucket: new ResultsBucket(),
      store: () => Promise.reject(new Error('no store here')),
      shardOptions: { autoThresholdRecords: 10, recordsPerShard: 5, maxShards: 3 },
    },
    { plan: never, shard: never, merge: never, fail: never, ...steps },
  );
}

describe('stepFailure', () => {
  it('names outages TransientError, keeps other error names, and gives a one-line Cause', () => {
    const outage = stepFailure(new ServiceUnavailableError('S3 is unavailable (ECONNREFUSED)', 5));
    expect([outage.name, outage.message]).toEqual([
      TRANSIENT_ERROR,
      'ServiceUnavailableError: S3 is unavailable (ECONNREFUSED)',
    ]);
    const throttled = stepFailure(
      Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }),
    );
    expect(throttled.name).toBe(TRANSIENT_ERROR);
    const bug = stepFailure(new TypeError('x is not a function\n    at somewhere'));
    expect(bug.name).toBe('TypeError');
    expect(bug.message).not.toContain('\n');
    expect(stepFailure('a string').name).toBe('Error');
  });
});

describe('shard step handlers', () => {
  it("give each step its input and the invocation's dependencies (owner, deadline, shard options)", async () => {
    const seen: unknown[] = [];
    const handlers = workers({
      plan: async (runId, deps) => {
        seen.push([runId, deps.owner, deps.deadline?.(), deps.shardOptions]);
        return { runId, claimed: true, shards: [], itemsBucket: 'b', itemsKey: 'k' };
      },
      shard: async (item) => {
        seen.push(item);
        return { runId: item.runId, shard: item.shard, stats: {} as never };
      },
    });
    await handlers.plan({ runId: RUN_ID, maxConcurrency: 4 }, context);
    // As the state machine calls it: the execution's name owns the run, whatever Lambda request runs the task.
    await handlers.plan({ runId: RUN_ID, owner: `${RUN_ID}-1` }, context);
    await handlers.shard({ runId: RUN_ID, shard: 7 }, context);
    const options = { autoThresholdRecords: 10, recordsPerShard: 5, maxShards: 3 };
    expect(seen).toEqual([
      [RUN_ID, 'request-1', 60_000, options],
      [RUN_ID, `${RUN_ID}-1`, 60_000, options],
      { runId: RUN_ID, shard: 7 },
    ]);
  });

  it.each<[string, unknown]>([
    ['plan', { runId: 'not-a-run-id' }],
    ['shard', { runId: RUN_ID, shard: -1 }],
    ['shard', { runId: RUN_ID }],
    ['merge', null],
    ['fail', { runId: RUN_ID, shard: 'one' }],
  ])('refuses a malformed %s input (not retried)', async (step, input) => {
    const handler = workers({})[step as 'plan'];
    await expect(handler(input, context)).rejects.toMatchObject({
      name: INVALID_STEP_INPUT,
      message: expect.stringMatching(/^malformed step input: /),
    });
  });

  it.each<[MatchingJobOutcome, string | undefined]>([
    [{ status: 'succeeded', runId: RUN_ID, stats: {} as never }, undefined],
    [{ status: 'skipped', runId: RUN_ID, reason: 'already succeeded' }, undefined],
    [{ status: 'failed', runId: RUN_ID, reason: 'S3 is unavailable', transient: true }, TRANSIENT_ERROR],
    [
      { status: 'failed', runId: RUN_ID, reason: 'a shard manifest is missing', transient: false },
      RUN_FAILED,
    ],
  ])('merge: %j → %s', async (outcome, thrown) => {
    const merge = workers({ merge: async () => outcome }).merge({ runId: RUN_ID }, context);
    if (thrown === undefined) await expect(merge).resolves.toEqual(outcome);
    else
      await expect(merge).rejects.toMatchObject({
        name: thrown,
        message: outcome.status === 'failed' ? outcome.reason : '',
      });
  });

  it('fail: passes the shard and the caught error, with a Lambda Cause reduced to its message', async () => {
    const given: FailInput[] = [];
    const handlers = workers({
      fail: async (input) => {
        given.push(input);
        return { status: 'failed', runId: input.runId, reason: 'recorded', transient: false };
      },
    });
    const lambdaCause = JSON.stringify({
      errorType: 'RangeError',
      errorMessage: 'RangeError: bad key',
      trace: ['at x'],
    });
    await handlers.fail(
      { runId: RUN_ID, shard: 3, error: { Error: 'RangeError', Cause: lambdaCause } },
      context,
    );
    await handlers.fail({ runId: RUN_ID, error: { Error: 'States.Timeout' } }, context);
    await handlers.fail({ runId: RUN_ID }, context);
    expect(given).toEqual([
      { runId: RUN_ID, shard: 3, error: { Error: 'RangeError', Cause: 'RangeError: bad key' } },
      { runId: RUN_ID, error: { Error: 'States.Timeout' } },
      { runId: RUN_ID },
    ]);
  });
});
