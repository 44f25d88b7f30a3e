import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { toAppError } from '../aws/aws-errors.js';
import { lambdaClient } from '../aws/lambda-client.js';
import { config } from '../config.js';
import type { MatchingRun } from './run-record.js';
import type { MatchingRunInvocation } from './workers/invocation.js';

/** What a dispatcher needs to know of the run it starts (absent: an unsharded run, first attempt). */
export type DispatchedRun = Pick<MatchingRun, 'shards' | 'attempts'>;

/** Starts the worker for a run without waiting for it. */
export interface WorkerDispatcher {
  dispatch(runId: string, run?: DispatchedRun): Promise<void>;
}

/** Dispatches through Lambda's asynchronous invocation (InvocationType 'Event'): 202, then the worker runs on its own. */
export class LambdaWorkerDispatcher implements WorkerDispatcher {
  readonly #client: LambdaClient;
  readonly #functionName: string;

  constructor(client?: LambdaClient, functionName?: string) {
    this.#client = client ?? lambdaClient();
    this.#functionName = functionName ?? config().WORKER_FUNCTION_NAME;
  }

  async dispatch(runId: string): Promise<void> {
    const payload: MatchingRunInvocation = { kind: 'matching-run', runId };
    let status: number | undefined;
    try {
      const answer = await this.#client.send(
        new InvokeCommand({
          FunctionName: this.#functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
      status = answer.StatusCode;
    } catch (error) {
      throw toAppError('Lambda', error);
    }
    if (status !== 202) throw new Error(`asynchronous invocation of the worker answered ${status}, not 202`);
  }
}

/** The input of an execution of the matching state machine (serverless/matching-state-machine.yml). */
export interface MatchingExecutionInput {
  readonly runId: string;
  /** The Map state's MaxConcurrency (`MaxConcurrencyPath`): SHARD_MAX_CONCURRENCY when the run was started. */
  readonly maxConcurrency: number;
}

/**
 * The execution name of a run's attempt: the run id and how many times it was claimed before.
 * Step Functions keeps a name for 90 days and answers a repeated StartExecution with the same name
 * and input as a running execution with that execution, so a repeated dispatch of one attempt
 * starts nothing new; a failed run started again (its `attempts` grew when the plan claimed it)
 * gets a new name.
 */
export function executionName(runId: string, attempts: number): string {
  return `${runId}-${attempts}`;
}

export interface StepFunctionsDispatcherOptions {
  /** The SDK client; loaded on first dispatch when absent (only sharded runs need it). */
  readonly client?: SFNClient;
  readonly stateMachineArn?: string | undefined;
  readonly maxConcurrency?: number;
}

/** Starts a sharded run as an execution of the matching state machine (plan, shards, merge). */
export class StepFunctionsDispatcher implements WorkerDispatcher {
  readonly #options: StepFunctionsDispatcherOptions;

  constructor(options: StepFunctionsDispatcherOptions = {}) {
    this.#options = options;
  }

  async dispatch(runId: string, run?: DispatchedRun): Promise<void> {
    const stateMachineArn = this.#options.stateMachineArn ?? config().MATCHING_STATE_MACHINE_ARN;
    if (stateMachineArn === undefined)
      throw new Error('MATCHING_STATE_MACHINE_ARN is not set: sharded runs cannot be started');
    const input: MatchingExecutionInput = {
      runId,
      maxConcurrency: this.#options.maxConcurrency ?? config().SHARD_MAX_CONCURRENCY,
    };
    // Loaded here, not at module load: the SDK client costs cold-start time and most runs are not sharded.
    const { StartExecutionCommand } = await import('@aws-sdk/client-sfn');
    const client = this.#options.client ?? (await import('../aws/sfn-client.js')).sfnClient();
    try {
      await client.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: executionName(runId, run?.attempts ?? 0),
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      // This attempt's execution exists already (started by a request whose answer was lost, or
      // it closed without claiming the run): that execution owns the attempt.
      if ((error as { name?: unknown }).name === 'ExecutionAlreadyExists') return;
      throw toAppError('Step Functions', error);
    }
  }
}

/**
 * The dispatcher `POST /matching-runs` uses: a run with `shards` goes to the state machine, any
 * other to the matching worker.
 */
export class RunDispatcher implements WorkerDispatcher {
  readonly #worker: WorkerDispatcher;
  readonly #stateMachine: WorkerDispatcher;

  constructor(worker?: WorkerDispatcher, stateMachine?: WorkerDispatcher) {
    this.#worker = worker ?? new LambdaWorkerDispatcher();
    this.#stateMachine = stateMachine ?? new StepFunctionsDispatcher();
  }

  dispatch(runId: string, run?: DispatchedRun): Promise<void> {
    return run?.shards === undefined
      ? this.#worker.dispatch(runId, run)
      : this.#stateMachine.dispatch(runId, run);
  }
}
