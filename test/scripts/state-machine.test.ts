import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RunLedger } from '../../lib/runs/ledger.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import type { FailInput, PlanResult, ShardItem } from '../../lib/runs/shards/index.js';
import { createShardWorkers, type ShardSteps } from '../../lib/runs/workers/shard-workers.js';
import {
  ensurePromiseWithResolvers,
  loadStateMachineDefinition,
  localDefinition,
  type StateMachineDefinition,
} from '../../scripts/state-machine.js';

/**
 * The state machine of sharded runs as deployed (serverless/matching-state-machine.yml), adapted
 * by localDefinition and executed by aws-local-stepfunctions, with its Lambda tasks answered by the
 * real handlers (lib/runs/workers/shard-workers.ts) around simulated steps.
 */

const RUN_ID = '01JDQ7ZK5X8M3V0R2T6Y9B4C1N';

let deployed: StateMachineDefinition;

beforeAll(async () => {
  ensurePromiseWithResolvers();
  deployed = await loadStateMachineDefinition();
});

describe('localDefinition', () => {
  const local = () => localDefinition(deployed, (key) => `local-${key}`);

  it("turns the Distributed Map into an inline Map over the plan's inline shard list", () => {
    const map = local().States.Shards as Record<string, unknown>;
    expect(map.ItemsPath).toBe('$.plan.shards');
    expect((map.ItemProcessor as { ProcessorConfig: unknown }).ProcessorConfig).toEqual({ Mode: 'INLINE' });
    for (const field of ['ItemReader', 'ToleratedFailurePercentage', 'Label'])
      expect(map).not.toHaveProperty(field);
    // What both modes run: the concurrency, the Catch, the discarded result.
    expect(map).toMatchObject({ MaxConcurrencyPath: '$.maxConcurrency', ResultPath: null, Next: 'Merge' });
  });

  it('points every task at the function its Fn::GetAtt names, and changes nothing else', () => {
    const adapted = local();
    const inner = (
      adapted.States.Shards as { ItemProcessor: { States: Record<string, { Resource?: string }> } }
    ).ItemProcessor.States;
    expect(adapted.States.Plan?.Resource).toBe('local-planMatchingRun');
    expect(inner.Shard?.Resource).toBe('local-matchingShard');
    expect(inner.FailShard?.Resource).toBe('local-failMatchingRun');
    expect(adapted.States.Merge?.Resource).toBe('local-mergeMatchingRun');
    expect(adapted.States.FailRun?.Resource).toBe('local-failMatchingRun');
    const { Shards: _adapted, ...rest } = adapted.States;
    const { Shards: _deployed, ...deployedRest } = deployed.States;
    expect(JSON.stringify(rest).replace(/"local-(\w+)"/g, '{"Fn::GetAtt":["$1","Arn"]}')).toBe(
      JSON.stringify(deployedRest),
    );
    // The deployed definition is left as it was.
    expect(deployed.States.Shards).toHaveProperty('ItemReader');
  });

  it('refuses a Distributed Map whose items it cannot find inline', () => {
    const broken = structuredClone(deployed);
    (broken.States.Shards as { ItemReader: { Parameters: Record<string, string> } }).ItemReader.Parameters[
      'Key.$'
    ] = '$.somewhere';
    expect(() => localDefinition(broken, (key) => key)).toThrow(/itemsKey/);
  });
});

/** What the simulated steps were asked to do, in order. */
type Call =
  | { step: 'plan'; runId: string }
  | { step: 'shard'; shard: number }
  | { step: 'merge'; runId: string }
  | { step: 'fail'; input: FailInput };

interface Scenario {
  readonly shards?: number;
  readonly claimed?: boolean;
  /** Throws for a shard attempt (0-based) to fail it, or returns nothing to let it succeed. */
  readonly shard?: (shard: number, attempt: number) => void;
  readonly plan?: () => void;
  readonly merge?: () => void;
}

const transient = () => {
  const error = new Error('MongoDB is unavailable: connection refused');
  error.name = 'ServiceUnavailableError';
  // lib/aws/aws-errors.ts's isOutage knows ServiceUnavailableError by class; a code does it too.
  return Object.assign(error, { code: 'ECONNREFUSED' });
};

async function execute(scenario: Scenario) {
  const calls: Call[] = [];
  const attempts = new Map<number, number>();
  const items = (count: number): ShardItem[] =>
    Array.from({ length: count }, (_, shard) => ({ runId: RUN_ID, shard }));
  const steps: ShardSteps = {
    plan: async (runId) => {
      calls.push({ step: 'plan', runId });
      scenario.plan?.();
      const plan: PlanResult = {
        runId,
        claimed: scenario.claimed ?? true,
        shards: scenario.claimed === false ? [] : items(scenario.shards ?? 3),
        itemsBucket: 'matching-results',
        itemsKey: `matching-runs/${runId}/shard-items.json`,
      };
      return plan;
    },
    shard: async (item) => {
      const attempt = attempts.get(item.shard) ?? 0;
      attempts.set(item.shard, attempt + 1);
      calls.push({ step: 'shard', shard: item.shard });
      scenario.shard?.(item.shard, attempt);
      return { runId: item.runId, shard: item.shard, stats: {} as never };
    },
    merge: async (runId) => {
      calls.push({ step: 'merge', runId });
      scenario.merge?.();
      return { status: 'succeeded', runId, stats: {} as never };
    },
    fail: async (input) => {
      calls.push({ step: 'fail', input });
      return { status: 'failed', runId: input.runId, reason: 'recorded', transient: false };
    },
  };
  // The handlers' dependencies are never used by simulated steps (no request is sent).
  const workers = createShardWorkers(
    {
      ledger: new RunLedger(),
      bucket: new ResultsBucket(),
      store: () => Promise.reject(new Error('no store in this test')),
      shardOptions: { autoThresholdRecords: 2, recordsPerShard: 1, maxShards: 10 },
    },
    steps,
  );
  const context = { awsRequestId: 'local', getRemainingTimeInMillis: () => 900_000 } as Context;
  const lambda =
    (handler: (event: unknown, context: Context) => Promise<unknown>) => async (input: unknown) =>
      JSON.parse(JSON.stringify(await handler(input, context)));
  const machine = new StateMachine(localDefinition(deployed, (key) => key) as never, {
    validationOptions: { checkArn: false },
  });
  const execution = machine.run(
    { runId: RUN_ID, maxConcurrency: 2 },
    {
      context: {
        Execution: {
          Id: `arn:aws:states:eu-central-1:000000000000:execution:test:${RUN_ID}-1`,
          Name: `${RUN_ID}-1`,
        },
      },
      overrides: {
        taskResourceLocalHandlers: {
          Plan: lambda(workers.plan),
          Shard: lambda(workers.shard),
          FailShard: lambda(workers.fail),
          Merge: lambda(workers.merge),
          FailRun: lambda(workers.fail),
        },
        // The backoff's waits, not its counts: no waiting in tests.
        retryIntervalOverrides: { Plan: 0, Shard: 0, FailShard: 0, Merge: 0, FailRun: 0 },
      },
    },
  );
  const result = await execution.result.then(
    (output) => ({ status: 'SUCCEEDED' as const, output }),
    // An ExecutionError whose cause is the error the execution failed with (a Fail state's).
    (error: Error) => {
      const failure = error.cause instanceof Error ? error.cause : error;
      return { status: 'FAILED' as const, error: failure.name, cause: failure.message };
    },
  );
  const of = <S extends Call['step']>(step: S) =>
    calls.filter((call): call is Extract<Call, { step: S }> => call.step === step);
  return { result, calls, of, attempts };
}

describe('the state machine, run locally', () => {
  it('plans, runs every shard once and merges', async () => {
    const { result, of } = await execute({ shards: 3 });
    expect(result.status).toBe('SUCCEEDED');
    expect(of('plan')).toEqual([{ step: 'plan', runId: RUN_ID }]);
    expect(
      of('shard')
        .map((call) => call.shard)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(of('merge')).toEqual([{ step: 'merge', runId: RUN_ID }]);
    expect(of('fail')).toEqual([]);
  });

  it('retries a shard that fails transiently, and the run succeeds', async () => {
    const { result, of, attempts } = await execute({
      shards: 3,
      shard: (shard, attempt) => {
        if (shard === 1 && attempt < 2) throw transient();
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(attempts.get(1)).toBe(3);
    expect(attempts.get(0)).toBe(1);
    expect(of('merge')).toHaveLength(1);
    expect(of('fail')).toEqual([]);
  });

  it('fails the run through FailShard, naming the shard, when a shard keeps failing; the merge never runs', async () => {
    const { result, of, attempts } = await execute({
      shards: 4,
      shard: (shard) => {
        if (shard === 2) throw new RangeError('shard 2 broke');
      },
    });
    expect(result).toMatchObject({ status: 'FAILED', error: 'RunFailed' });
    // Not an outage: no retry.
    expect(attempts.get(2)).toBe(1);
    expect(of('fail')).toEqual([
      {
        step: 'fail',
        input: {
          runId: RUN_ID,
          shard: 2,
          error: { Error: 'RangeError', Cause: 'RangeError: shard 2 broke' },
        },
      },
    ]);
    expect(of('merge')).toEqual([]);
  });

  it('gives up on a shard after the retries of a lasting outage, and fails the run with that shard', async () => {
    const { result, of, attempts } = await execute({
      shards: 2,
      shard: (shard) => {
        if (shard === 0) throw transient();
      },
    });
    expect(result).toMatchObject({ status: 'FAILED', error: 'RunFailed' });
    // The first attempt and MaxAttempts (4) retries.
    expect(attempts.get(0)).toBe(5);
    expect(of('fail')).toEqual([
      {
        step: 'fail',
        input: {
          runId: RUN_ID,
          shard: 0,
          error: { Error: 'TransientError', Cause: expect.stringContaining('MongoDB is unavailable') },
        },
      },
    ]);
    expect(of('merge')).toEqual([]);
  });

  it('ends without shards when the plan could not claim the run', async () => {
    const { result, of } = await execute({ claimed: false });
    expect(result.status).toBe('SUCCEEDED');
    expect(of('shard')).toEqual([]);
    expect(of('merge')).toEqual([]);
    expect(of('fail')).toEqual([]);
  });

  it('fails the run through FailRun when the plan or the merge fails', async () => {
    const planFails = await execute({
      plan: () => {
        throw new Error('no partition field values');
      },
    });
    expect(planFails.result).toMatchObject({ status: 'FAILED', error: 'RunFailed' });
    expect(planFails.of('shard')).toEqual([]);
    expect(planFails.of('fail')).toEqual([
      {
        step: 'fail',
        input: { runId: RUN_ID, error: { Error: 'Error', Cause: 'Error: no partition field values' } },
      },
    ]);

    const mergeFails = await execute({
      shards: 2,
      merge: () => {
        throw new TypeError('bad manifest');
      },
    });
    expect(mergeFails.result).toMatchObject({ status: 'FAILED', error: 'RunFailed' });
    expect(mergeFails.of('shard')).toHaveLength(2);
    expect(mergeFails.of('fail')).toEqual([
      {
        step: 'fail',
        input: { runId: RUN_ID, error: { Error: 'TypeError', Cause: 'TypeError: bad manifest' } },
      },
    ]);
  });
});
