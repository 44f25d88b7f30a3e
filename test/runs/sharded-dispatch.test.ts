import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsDependencyError } from '../../lib/aws/aws-errors.js';
import { createSfnClient } from '../../lib/aws/sfn-client.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import {
  type DispatchedRun,
  executionName,
  RunDispatcher,
  StepFunctionsDispatcher,
  type WorkerDispatcher,
} from '../../lib/runs/dispatcher.js';
import { newRunId } from '../../lib/runs/ledger.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { createPaymentsImportedWorker } from '../../lib/runs/workers/payments-imported-worker.js';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../scripts/local-step-functions.js';
import { lambdaContext } from '../http/request-events.js';
import { closedEndpoint, useEmulators } from '../support/emulators.js';
import { paymentsImported } from '../support/events.js';
import { demoInputs, jobHarness } from '../support/job-harness.js';

/**
 * Sharded runs are started as executions of the state machine through the real SDK client, here
 * against the local Step Functions endpoint (scripts/local-step-functions.ts) whose one task waits
 * until the test lets it finish. Unsharded runs still go to the matching worker.
 */

let sfn: LocalStepFunctions;
let release: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();

function closeGate(): void {
  gate = new Promise((resolve) => {
    release = resolve;
  });
}

beforeAll(async () => {
  sfn = await startLocalStepFunctions({
    name: 'test-matchingRun',
    definition: { StartAt: 'Hold', States: { Hold: { Type: 'Task', Resource: 'hold', End: true } } },
    taskHandlers: {
      Hold: async (input) => {
        await gate;
        return input;
      },
    },
  });
});

afterAll(async () => {
  release();
  await sfn?.stop();
});

beforeEach(() => closeGate());

const client = () => createSfnClient({ region: 'us-east-1', endpoint: sfn.endpoint });
const dispatcher = (maxConcurrency = 7) =>
  new StepFunctionsDispatcher({ client: client(), stateMachineArn: sfn.stateMachineArn, maxConcurrency });
const executionsOf = (runId: string) => sfn.executions().filter((e) => e.name.startsWith(runId));
const ended = async (runId: string) => {
  release();
  await Promise.all(executionsOf(runId).map((e) => e.done));
};

describe('StepFunctionsDispatcher', () => {
  it('starts one execution per attempt, named after the run, with the run id and the Map concurrency', async () => {
    const runId = newRunId();
    await dispatcher().dispatch(runId, { shards: 3, attempts: 0 });
    // Repeated while it runs (a lost answer, a concurrent repeat): the same execution.
    await dispatcher().dispatch(runId, { shards: 3, attempts: 0 });
    expect(executionsOf(runId).map((e) => [e.name, JSON.parse(e.input)])).toEqual([
      [`${runId}-0`, { runId, maxConcurrency: 7 }],
    ]);
    await ended(runId);
    expect(executionsOf(runId)[0]?.status).toBe('SUCCEEDED');
    // Once it ended, the same attempt starts nothing (its execution owned it); the next attempt does.
    await dispatcher().dispatch(runId, { shards: 3, attempts: 0 });
    await dispatcher().dispatch(runId, { shards: 3, attempts: 1 });
    expect(executionsOf(runId).map((e) => e.name)).toEqual([`${runId}-0`, `${runId}-1`]);
  });

  it("names executions within Step Functions' 80 characters of [A-Za-z0-9_-]", () => {
    expect(executionName(newRunId(), 12_345)).toMatch(/^[0-9A-Z]{26}-12345$/);
  });

  it('reports an unknown state machine as a deploy fault (500), an unreachable service as an outage (503)', async () => {
    const unknown = new StepFunctionsDispatcher({
      client: client(),
      stateMachineArn: `${sfn.stateMachineArn}-gone`,
    });
    await expect(unknown.dispatch(newRunId())).rejects.toBeInstanceOf(AwsDependencyError);
    const down = new StepFunctionsDispatcher({
      client: createSfnClient({ region: 'us-east-1', endpoint: await closedEndpoint() }),
      stateMachineArn: sfn.stateMachineArn,
    });
    await expect(down.dispatch(newRunId())).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('refuses to start without a state machine', async () => {
    const none = new StepFunctionsDispatcher({ client: client(), stateMachineArn: undefined });
    await expect(none.dispatch(newRunId())).rejects.toThrow(/MATCHING_STATE_MACHINE_ARN is not set/);
  });
});

describe('sharded runs from POST /matching-runs and PaymentsImported', () => {
  const inputs = demoInputs({ accounts: 4, accruals: 10, payments: 8, seed: 3 });
  const jobs = jobHarness(useEmulators(), { store: inputs.store });
  let toWorker: string[];
  const worker: WorkerDispatcher = { dispatch: async (runId) => void toWorker.push(runId) };
  const runs = () => jobs.service({ dispatcher: new RunDispatcher(worker, dispatcher()) });

  beforeEach(() => {
    toWorker = [];
  });

  it('records shards and starts the state machine; a run without shards goes to the worker', async () => {
    const sharded = await runs().start({ partitionBy: 'account', shards: 3 });
    const plain = await runs().start({ partitionBy: 'account' });
    expect(await jobs.ledger().get(sharded.runId)).toMatchObject({ status: 'queued', shards: 3 });
    expect((await jobs.ledger().get(plain.runId))?.shards).toBeUndefined();
    expect(executionsOf(sharded.runId).map((e) => e.name)).toEqual([`${sharded.runId}-0`]);
    expect(executionsOf(plain.runId)).toEqual([]);
    expect(toWorker).toEqual([plain.runId]);
    await ended(sharded.runId);
  });

  it('treats shards as how, not what: a key repeated with other shards is the recorded run, started as first asked', async () => {
    const key = `key-${newRunId()}`;
    const first = await runs().start({ partitionBy: 'account', shards: 'auto', idempotencyKey: key });
    const again = await runs().start({ partitionBy: 'account', shards: 5, idempotencyKey: key });
    const unsharded = await runs().start({ partitionBy: 'account', idempotencyKey: key });
    expect([again.runId, unsharded.runId]).toEqual([first.runId, first.runId]);
    expect([first.created, again.created]).toEqual([true, false]);
    expect((await jobs.ledger().get(first.runId))?.shards).toBe('auto');
    expect(executionsOf(first.runId)).toHaveLength(1);
    expect(toWorker).toEqual([]);
    await ended(first.runId);
  });

  it('starts a failed sharded run again under a new execution name when the key is repeated', async () => {
    const key = `key-${newRunId()}`;
    const { runId } = await runs().start({ partitionBy: 'account', shards: 2, idempotencyKey: key });
    await ended(runId);
    // What the plan step does to a run it claims, then the fail step.
    const ledger = jobs.ledger();
    await ledger.markRunning(runId, 'plan');
    await ledger.markFailed(runId, 'shard 1 failed');
    closeGate();
    await runs().start({ partitionBy: 'account', shards: 2, idempotencyKey: key });
    expect(executionsOf(runId).map((e) => e.name)).toEqual([`${runId}-0`, `${runId}-1`]);
    await ended(runId);
  });

  it('hands a PaymentsImported run with shards to the state machine, once however often it is delivered', async () => {
    const importId = `import-${newRunId()}`;
    const runId = derivedRunId('event', importId);
    const events = createPaymentsImportedWorker(jobs.workerDeps({ stateMachine: dispatcher() }));
    const deliver = (n: number) =>
      events(
        paymentsImported(importId, { partitionBy: 'account', shards: 4 }),
        lambdaContext(`d-${n}`, 900_000),
      );
    expect(await deliver(1)).toEqual({ status: 'dispatched', runId });
    // Redelivered: answered from the idempotency record, nothing started.
    expect(await deliver(2)).toMatchObject({ status: 'duplicate', runId });
    expect(executionsOf(runId)).toHaveLength(1);
    // Claimed by its plan: a redelivery is a duplicate.
    await jobs.ledger().markRunning(runId, 'plan');
    expect(await deliver(3)).toMatchObject({ status: 'duplicate', runId });
    expect(executionsOf(runId)).toHaveLength(1);
    expect(await jobs.ledger().get(runId)).toMatchObject({
      shards: 4,
      partitionBy: 'account',
      trigger: 'event',
    });
    await ended(runId);
  });
});

describe('RunDispatcher', () => {
  it('routes by the recorded run: shards to the state machine, none to the worker', async () => {
    const seen: Array<[string, string, DispatchedRun | undefined]> = [];
    const recording = (to: string): WorkerDispatcher => ({
      dispatch: async (runId, run) => void seen.push([to, runId, run]),
    });
    const routed = new RunDispatcher(recording('worker'), recording('state machine'));
    await routed.dispatch('a', { attempts: 0 });
    await routed.dispatch('b', { shards: 'auto', attempts: 2 });
    await routed.dispatch('c');
    expect(seen).toEqual([
      ['worker', 'a', { attempts: 0 }],
      ['state machine', 'b', { shards: 'auto', attempts: 2 }],
      ['worker', 'c', undefined],
    ]);
  });
});
