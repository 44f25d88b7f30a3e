import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LOCAL_CREDENTIALS } from '../../lib/aws/clients.js';
import type { Stack } from './offline.js';

/**
 * Talking to a running local stack (test/support/offline.ts) the way clients and AWS do: HTTP
 * requests, synchronous Lambda invocations of the worker, reads of the DynamoDB emulator, and the
 * JSON log lines the functions wrote.
 */

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body as JSON, `{}` when empty or not JSON. */
  readonly json: Record<string, unknown>;
}

export interface WorkerAnswer {
  readonly payload: Record<string, unknown>;
  readonly functionError?: string;
}

export interface StackClient {
  request(path: string, init?: RequestInit): Promise<Answer>;
  /** Polls `GET /matching-runs/{runId}` until the run succeeded or failed. */
  waitForRun(runId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /**
   * Polls `GET /matching-runs/{runId}` every `pollMs` until the run succeeded or failed: every
   * answer seen, the last one being the finished run.
   */
  followRun(
    runId: string,
    options?: { pollMs?: number; timeoutMs?: number },
  ): Promise<Array<Record<string, unknown>>>;
  /** Invokes `matchingWorker` (the `POST /matching-runs` path) synchronously with `event` as its JSON payload. */
  invokeWorker(event: unknown): Promise<WorkerAnswer>;
  /** Invokes `paymentsImportedWorker` (the EventBridge target) synchronously with `event` as its JSON payload. */
  sendEvent(event: unknown): Promise<WorkerAnswer>;
  /** How many runs the run ledger holds. */
  countRuns(): Promise<number>;
  /** Every run in the ledger as DynamoDB holds it (a scan: the reference for listings). */
  scanRuns(): Promise<Array<{ runId: string; createdAt: string; status: string; trigger: string }>>;
  /** Every JSON log line the functions wrote so far. */
  logLines(): Array<Record<string, unknown>>;
  close(): void;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A client for `stack`; `close()` it in `afterAll`. */
export function stackClient(stack: Stack): StackClient {
  const lambda = new LambdaClient({
    region: 'us-east-1',
    endpoint: stack.lambdaEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  const dynamo = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: stack.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });

  const request = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const response = await fetch(`${stack.baseUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: parseJson(text) };
  };

  const invoke = async (
    key: 'matchingWorker' | 'paymentsImportedWorker',
    event: unknown,
  ): Promise<WorkerAnswer> => {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: stack.functionName(key),
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const text = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
    return {
      payload: parseJson(text),
      ...(answer.FunctionError === undefined ? {} : { functionError: answer.FunctionError }),
    };
  };

  return {
    request,
    async waitForRun(runId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { status, json } = await request(`/matching-runs/${runId}`);
        if (status === 200 && (json.status === 'succeeded' || json.status === 'failed')) return json;
        if (Date.now() > deadline) {
          throw new Error(
            `run ${runId} not finished after ${timeoutMs} ms (${status} ${String(json.status)})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    },
    async followRun(runId, { pollMs = 50, timeoutMs = 60_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      const seen: Array<Record<string, unknown>> = [];
      for (;;) {
        const { status, json } = await request(`/matching-runs/${runId}`);
        if (status !== 200) throw new Error(`GET /matching-runs/${runId} answered ${status}`);
        seen.push(json);
        if (json.status === 'succeeded' || json.status === 'failed') return seen;
        if (Date.now() > deadline) {
          throw new Error(`run ${runId} not finished after ${timeoutMs} ms (${String(json.status)})`);
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    invokeWorker: (event) => invoke('matchingWorker', event),
    sendEvent: (event) => invoke('paymentsImportedWorker', event),
    async countRuns() {
      // Distinct keys, page by page: a count alone could be thrown off by an item updated mid-scan.
      const runIds = new Set<string>();
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await dynamo.send(
          new ScanCommand({
            TableName: stack.emulators.tables.runs,
            ProjectionExpression: 'runId',
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) runIds.add(String(item.runId?.S));
        start = page.LastEvaluatedKey;
      } while (start);
      return runIds.size;
    },
    async scanRuns() {
      const runs: Array<{ runId: string; createdAt: string; status: string; trigger: string }> = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await dynamo.send(
          new ScanCommand({
            TableName: stack.emulators.tables.runs,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) {
          runs.push({
            runId: String(item.runId?.S),
            createdAt: String(item.createdAt?.S),
            status: String(item.status?.S),
            trigger: String(item.trigger?.S),
          });
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return runs;
    },
    logLines() {
      return stack
        .output()
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.startsWith('{') && line.endsWith('}'))
        .map(parseJson);
    },
    close() {
      lambda.destroy();
      dynamo.destroy();
    },
  };
}

export { paymentsImported } from './events.js';

/** The same value as it would travel through JSON (Dates become ISO strings). */
export function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
