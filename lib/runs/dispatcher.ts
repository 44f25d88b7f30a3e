import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { toAppError } from '../aws/aws-errors.js';
import { lambdaClient } from '../aws/lambda-client.js';
import { config } from '../config.js';
import type { MatchingRunInvocation } from './workers/invocation.js';

/** Starts the worker for a run without waiting for it. */
export interface WorkerDispatcher {
  dispatch(runId: string): Promise<void>;
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
