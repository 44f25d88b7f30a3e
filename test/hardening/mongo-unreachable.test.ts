import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resetConfig } from '../../lib/config.js';
import type { HttpLambdaHandler } from '../../lib/http/http-handler.js';
import { newRunId } from '../../lib/runs/ledger.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { createMatchingWorker } from '../../lib/runs/workers/matching-worker.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { getDocumentStore, resetDocumentStore } from '../../lib/store/get-document-store.js';
import { getAccountActions } from '../../lib/summary/index.js';
import { generateDemoData } from '../../scripts/demo-data.js';
import { captureOutput, httpEvent, lambdaContext, structured } from '../http/request-events.js';
import { useEmulators } from '../support/emulators.js';
import { type MongoWireDouble, startMongoWireDouble } from '../support/mongo-wire-double.js';

/**
 * MongoDB unreachable, with the real driver: the handler of `GET /accounts/{number}/actions`, loaded
 * once as a Lambda container would load it, talks to a MongoDB wire-protocol double
 * (test/support/mongo-wire-double.ts) that is taken off the network and brought back. The URI
 * carries a password, and the handler's log output is checked for it.
 *
 * What this proves: the 503 comes within the short server-selection timeout; a failed first
 * connection is not cached, and a client that lost its server finds it again, so the *same* module
 * instance (no cold start) answers 200 once the server is back. What it does not prove: behaviour
 * against a real mongod or Atlas (replica-set failover, TLS, SCRAM); test/store/mongo.test.ts runs
 * the store contract against a real server when MONGODB_URI is set.
 */

const PASSWORD = 'Zq7-unreachable-s3cret';
const data = generateDemoData({ accounts: 12, accruals: 30, payments: 25, seed: 7 });
const NUMBER = '7800000000003';

let double: MongoWireDouble;
let handler: HttpLambdaHandler;

interface Call {
  readonly response: APIGatewayProxyStructuredResultV2 & { body: string };
  readonly ms: number;
  readonly output: string;
}

async function getActions(number = NUMBER): Promise<Call> {
  const started = Date.now();
  const { result, output } = await captureOutput(async () =>
    structured(
      await handler(
        httpEvent({ routeKey: 'GET /accounts/{number}/actions', pathParameters: { number } }),
        lambdaContext(`req-${newRunId()}`),
      ),
    ),
  );
  return { response: result, ms: Date.now() - started, output };
}

const outputs: string[] = [];

beforeAll(async () => {
  double = await startMongoWireDouble({
    collections: { Account: [...data.Account], accrual: [...data.accrual], payment: [...data.payment] },
    credentials: { username: 'billing', password: PASSWORD },
  });
  await double.down();
  process.env.MONGODB_URI = double.uri();
  process.env.MONGODB_SERVER_SELECTION_TIMEOUT_MS = '1000';
  resetConfig();
  // Loaded after the environment is set, once: every call below hits the same warm module.
  ({ handler } = await import('../../functions/get-account-actions.js'));
});

afterAll(async () => {
  await resetDocumentStore();
  await double?.close();
  delete process.env.MONGODB_URI;
  delete process.env.MONGODB_SERVER_SELECTION_TIMEOUT_MS;
  resetConfig();
});

describe('an HTTP handler whose MongoDB is unreachable', () => {
  it('answers 503 with Retry-After within a few seconds, not at the Lambda timeout', async () => {
    const { response, ms, output } = await getActions();
    outputs.push(output);
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Content-Type']).toBe('application/problem+json');
    expect(Number(response.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(response.body)).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect(ms).toBeLessThan(4_000);
    expect(double.received).toEqual([]);
  });

  it('recovers on the next invocation once MongoDB is back: same module, no cold start', async () => {
    await double.up();
    const { response, output } = await getActions();
    outputs.push(output);
    expect(response.statusCode).toBe(200);
    const expected = await getAccountActions(
      new EmbeddedDocumentStore({ collections: { Account: [...data.Account] } }),
      NUMBER,
    );
    expect(JSON.parse(response.body)).toEqual(JSON.parse(JSON.stringify(expected)));
    // It connected afresh (the failed attempt was not cached) and authenticated with the URI's password.
    expect(double.received.map((command) => command.name)).toContain('saslStart');
    expect(double.queries()).toHaveLength(1);
  });

  it('answers 503 again when the server goes away under a connected client, and recovers when it returns', async () => {
    await double.down();
    const lost = await getActions();
    outputs.push(lost.output);
    expect(lost.response.statusCode).toBe(503);
    expect(lost.ms).toBeLessThan(4_000);

    await double.up();
    const back = await getActions();
    outputs.push(back.output);
    expect(back.response.statusCode).toBe(200);
  });

  it('never writes the password of the MongoDB URI to the logs', () => {
    const all = outputs.join('\n');
    // The handler did log these requests (a 503 is logged as a warning with its cause) …
    expect(all).toMatch(/"status":503/);
    expect(all).toMatch(/"message":"request failed"/);
    // … but neither the password nor the credentials part of the URI.
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(encodeURIComponent(PASSWORD));
    expect(all).not.toMatch(/billing:[^@\s"]*@/);
  });
});

describe('a matching worker whose MongoDB is unreachable (against the DynamoDB and S3 emulators)', () => {
  const local = useEmulators();

  it('records the run as failed with the cause, asks Lambda for a retry, and the retry succeeds', async () => {
    const cfg = loadConfig({ MONGODB_URI: double.uri(), MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000' });
    const ledger = local().ledger();
    const worker = createMatchingWorker({
      ledger,
      bucket: new ResultsBucket(local().s3(), local().emulators.bucket),
      store: () => getDocumentStore(cfg),
      lambdaRetries: true,
    });
    const runId = newRunId();
    await ledger.create({ runId, policy: 'chronological', trigger: 'http' });

    await resetDocumentStore();
    await double.down();
    const { output } = await captureOutput(async () => {
      await expect(worker({ kind: 'matching-run', runId }, lambdaContext('w1', 900_000))).rejects.toThrow(
        /failed transiently/,
      );
    });
    expect(await ledger.get(runId)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: expect.stringMatching(/MongoDB is unavailable/),
    });
    expect(output).not.toContain(PASSWORD);

    await double.up();
    const retried = await captureOutput(() =>
      worker({ kind: 'matching-run', runId }, lambdaContext('w2', 900_000)),
    );
    expect(retried.result).toMatchObject({ status: 'succeeded', runId });
    expect(await ledger.get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(double.queries().map((query) => query.command.find)).toEqual(
      expect.arrayContaining(['accrual', 'payment']),
    );
    expect(retried.output).not.toContain(PASSWORD);
  });
});
