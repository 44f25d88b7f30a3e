import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { createLambdaClient } from '../lib/aws/lambda-client.js';
import { ensurePromiseWithResolvers, type StateMachineDefinition } from './state-machine.js';

/**
 * A local stand-in for the Step Functions API, enough for the dispatcher (lib/runs/dispatcher.ts)
 * and tests: StartExecution and DescribeExecution over the AWS JSON 1.0 protocol the SDK speaks, on
 * a free 127.0.0.1 port. Executions run in this process with aws-local-stepfunctions; each Task
 * state invokes the function its Resource names through a Lambda endpoint (serverless-offline's
 * under `npm start`), or a local handler (tests). Executions live in memory until stop().
 */

const HOST = '127.0.0.1';
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** What DescribeExecution answers, kept per execution. */
export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  /** Settles when the execution ends (never rejects). */
  readonly done: Promise<void>;
}

export interface LocalStepFunctionsOptions {
  /** The definition as aws-local-stepfunctions runs it (scripts/state-machine.ts localDefinition). */
  readonly definition: StateMachineDefinition;
  /** The state machine's name (its ARN is built from it). */
  readonly name: string;
  /** Where Task states invoke their Resource (a function name), e.g. serverless-offline's Lambda port. */
  readonly lambdaEndpoint?: string;
  /** Per Task state name: a local handler instead of a Lambda invocation. */
  readonly taskHandlers?: Readonly<Record<string, (input: unknown) => Promise<unknown>>>;
  /** Per retrying state: milliseconds to wait between retries instead of the definition's backoff. */
  readonly retryIntervals?: Readonly<Record<string, number>>;
}

export interface LocalStepFunctions {
  /** `http://127.0.0.1:<port>`: the SFNClient `endpoint` (SFN_ENDPOINT). */
  readonly endpoint: string;
  /** The ARN to start executions of (MATCHING_STATE_MACHINE_ARN). */
  readonly stateMachineArn: string;
  /** Every execution started so far, oldest first. */
  executions(): readonly LocalExecution[];
  /** Aborts running executions and closes the server. Safe to call twice. */
  stop(): Promise<void>;
}

/** An AWS JSON protocol error: its `__type` is the SDK error's name. */
class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Every Task state of `definition` (inner Map and Parallel states too) with its Resource. */
function taskResources(definition: unknown, found = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(definition)) for (const item of definition) taskResources(item, found);
  else if (typeof definition === 'object' && definition !== null) {
    const states = (definition as { States?: Record<string, { Type?: string; Resource?: unknown }> }).States;
    for (const [name, state] of Object.entries(states ?? {}))
      if (state.Type === 'Task' && typeof state.Resource === 'string') found.set(name, state.Resource);
    for (const value of Object.values(definition)) taskResources(value, found);
  }
  return found;
}

/** A function's error as Step Functions reports it: Error = errorType, Cause = errorMessage. */
class FunctionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

async function invoke(client: LambdaClient, functionName: string, input: unknown): Promise<unknown> {
  const answer = await client.send(
    new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(input)) }),
  );
  const text = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
  const payload = text === '' ? null : (JSON.parse(text) as unknown);
  if (answer.FunctionError !== undefined) {
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    throw new FunctionError(errorType ?? answer.FunctionError, errorMessage ?? '');
  }
  return payload;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Starts the endpoint; stop() it when done. */
export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<LocalStepFunctions> {
  ensurePromiseWithResolvers();
  const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${options.name}`;
  const machine = new StateMachine(options.definition as never, { validationOptions: { checkArn: false } });
  const lambda =
    options.lambdaEndpoint === undefined
      ? undefined
      : createLambdaClient({ region: REGION, endpoint: options.lambdaEndpoint });
  const handlers = Object.fromEntries(
    [...taskResources(options.definition)].map(([state, resource]) => {
      const local = options.taskHandlers?.[state];
      const handler = async (input: unknown): Promise<unknown> => {
        if (local) return local(input);
        if (!lambda) throw new Error(`no Lambda endpoint and no local handler for the task state ${state}`);
        return invoke(lambda, resource, input);
      };
      return [state, handler];
    }),
  );
  const executions = new Map<string, LocalExecution>();
  const aborts = new Set<() => void>();

  function start(body: { stateMachineArn?: string; name?: string; input?: string }): LocalExecution {
    if (body.stateMachineArn !== stateMachineArn)
      throw new ApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${body.stateMachineArn}'`,
      );
    const name = body.name ?? crypto.randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = body.input ?? '{}';
    const existing = executions.get(name);
    if (existing) {
      // As Step Functions: the same name and input while it runs is that execution.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.executionArn}'`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new ApiError('InvalidExecutionInput', 'Invalid Execution Input: not JSON');
    }
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${options.name}:${name}`;
    const run = machine.run(parsed as never, {
      // The context object's execution, as Step Functions gives it ($$.Execution.Name, Id).
      context: { Execution: { Id: executionArn, Name: name } },
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        ...(options.retryIntervals ? { retryIntervalOverrides: options.retryIntervals } : {}),
      },
    });
    aborts.add(run.abort);
    const execution: LocalExecution = {
      executionArn,
      name,
      input,
      startDate: Date.now() / 1000,
      status: 'RUNNING',
      done: run.result
        .then(
          (output) => {
            execution.status = 'SUCCEEDED';
            execution.output = JSON.stringify(output);
          },
          (error: Error) => {
            // An ExecutionError's cause is what the execution failed with (a Fail state's error).
            const failure = error.cause instanceof Error ? error.cause : error;
            execution.status = error.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
            execution.error = failure.name;
            execution.cause = failure.message;
          },
        )
        .finally(() => {
          execution.stopDate = Date.now() / 1000;
          aborts.delete(run.abort);
        }),
    };
    executions.set(name, execution);
    return execution;
  }

  function describe(body: { executionArn?: string }): LocalExecution {
    const execution = [...executions.values()].find((e) => e.executionArn === body.executionArn);
    if (!execution)
      throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${body.executionArn}'`);
    return execution;
  }

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(body));
    };
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse((await readBody(request)) || '{}') as Record<string, string>;
      if (target === 'AWSStepFunctions.StartExecution') {
        const execution = start(body);
        reply(200, { executionArn: execution.executionArn, startDate: execution.startDate });
      } else if (target === 'AWSStepFunctions.DescribeExecution') {
        const { done: _done, ...described } = describe(body);
        reply(200, { ...described, stateMachineArn });
      } else {
        throw new ApiError(
          'UnknownOperationException',
          `${target || 'no X-Amz-Target'} is not served locally`,
        );
      }
    } catch (error) {
      if (error instanceof ApiError) reply(error.status, { __type: error.type, message: error.message });
      else reply(500, { __type: 'InternalFailure', message: String(error) });
    }
  }

  const server: Server = createServer((request, response) => void answer(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://${HOST}:${port}`,
    stateMachineArn,
    executions: () => [...executions.values()],
    stop: () => {
      stopping ??= (async () => {
        for (const abort of aborts) abort();
        await Promise.all([...executions.values()].map((e) => e.done));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        lambda?.destroy();
      })();
      return stopping;
    },
  };
}
