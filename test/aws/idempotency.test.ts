import { IdempotencyAlreadyInProgressError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { dynamoClient } from '../../lib/aws/clients.js';
import { type Config, loadConfig } from '../../lib/config.js';
import { ConflictError, ServiceUnavailableError } from '../../lib/errors.js';
import {
  idempotencyConfig,
  idempotencyErrorToAppError,
  idempotencyPersistenceLayer,
} from '../../lib/runs/workers/idempotency.js';
import { closedEndpoint, useEmulators } from '../support/emulators.js';

type Event = { id: string; detail: { importId: string } };

/** What Powertools reads from the Lambda context: the time left bounds an INPROGRESS record. */
function lambdaContext(remainingMs: number): Context {
  const unused = () => undefined;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'matching-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:matching-worker',
    memoryLimitInMB: '1024',
    awsRequestId: 'request-1',
    logGroupName: '/aws/lambda/matching-worker',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs,
    done: unused,
    fail: unused,
    succeed: unused,
  };
}

function workerConfig(cfg: Config) {
  const made = idempotencyConfig({ eventKeyJmesPath: 'id' }, cfg);
  made.registerLambdaContext(lambdaContext(60_000));
  return made;
}

describe('idempotency records (Powertools on the DynamoDB emulator)', () => {
  const local = useEmulators();
  let sequence = 0;

  /** A fresh idempotent wrapper around a counting worker, keyed on the event's `id`. */
  function idempotentWorker(work: (event: Event) => Promise<unknown> = async (event) => event.detail) {
    const { cfg } = local();
    let executions = 0;
    const run = makeIdempotent(
      async (event: Event) => {
        executions += 1;
        return work(event);
      },
      {
        persistenceStore: idempotencyPersistenceLayer(cfg),
        config: workerConfig(cfg),
      },
    );
    return { run, executions: () => executions };
  }

  function event(): Event {
    sequence += 1;
    return { id: `event-${sequence}-${Date.now()}`, detail: { importId: `import-${sequence}` } };
  }

  it('runs a redelivered event once and answers the duplicate with the stored result', async () => {
    const worker = idempotentWorker();
    const delivered = event();

    const first = await worker.run(delivered);
    const second = await worker.run({ ...delivered });

    expect(worker.executions()).toBe(1);
    expect(second).toEqual(first);
    expect(first).toEqual(delivered.detail);
  });

  it('runs two different events twice', async () => {
    const worker = idempotentWorker();
    await worker.run(event());
    await worker.run(event());
    expect(worker.executions()).toBe(2);
  });

  it('runs concurrent deliveries of one event once; the others get the result or an in-progress error', async () => {
    const worker = idempotentWorker(async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return e.detail;
    });
    const delivered = event();

    const results = await Promise.allSettled([1, 2, 3].map(() => worker.run({ ...delivered })));

    expect(worker.executions()).toBe(1);
    expect(results.some((result) => result.status === 'fulfilled')).toBe(true);
    for (const result of results) {
      if (result.status === 'fulfilled') expect(result.value).toEqual(delivered.detail);
      else expect(result.reason).toBeInstanceOf(IdempotencyAlreadyInProgressError);
    }
  });

  it('does not remember a failed execution, so a retry runs again', async () => {
    let attempt = 0;
    const worker = idempotentWorker(async (e) => {
      attempt += 1;
      if (attempt === 1) throw new Error('transient failure');
      return e.detail;
    });
    const delivered = event();

    await expect(worker.run(delivered)).rejects.toThrow('transient failure');
    await expect(worker.run(delivered)).resolves.toEqual(delivered.detail);
    expect(worker.executions()).toBe(2);
  });

  it('stores records under key `id` with an `expiration` IDEMPOTENCY_TTL_SECONDS ahead and an in-progress bound', async () => {
    const { cfg, emulators } = local();
    const worker = idempotentWorker();
    const delivered = event();
    const before = Math.floor(Date.now() / 1000);
    await worker.run(delivered);

    const { Items = [] } = await dynamoClient(cfg).send(
      new ScanCommand({ TableName: emulators.tables.idempotency }),
    );
    const completed = Items.filter((item) => item.status?.S === 'COMPLETED');
    expect(completed.length).toBeGreaterThan(0);
    for (const item of completed) {
      expect(item.id?.S).toEqual(expect.any(String));
      const expiration = Number(item.expiration?.N);
      expect(expiration).toBeGreaterThanOrEqual(before + cfg.IDEMPOTENCY_TTL_SECONDS - 1);
      expect(expiration).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + cfg.IDEMPOTENCY_TTL_SECONDS + 1);
      // Milliseconds: the invocation's deadline, after which a crashed attempt no longer blocks retries.
      expect(Number(item.in_progress_expiration?.N)).toBeGreaterThan(before * 1000);
    }
  });

  describe('configuration', () => {
    it('takes the record lifetime from IDEMPOTENCY_TTL_SECONDS and keeps explicit options', () => {
      const made = idempotencyConfig(
        { eventKeyJmesPath: 'detail.importId' },
        loadConfig({ IDEMPOTENCY_TTL_SECONDS: '600' }),
      );
      expect(made.expiresAfterSeconds).toBe(600);
      expect(made.eventKeyJmesPath).toBe('detail.importId');
    });
  });

  describe('errors', () => {
    it('maps a duplicate still in progress to a ConflictError', () => {
      expect(idempotencyErrorToAppError(new IdempotencyAlreadyInProgressError('busy'))).toBeInstanceOf(
        ConflictError,
      );
    });

    it('maps an unreachable idempotency table to a ServiceUnavailableError', async () => {
      const cfg = loadConfig({ DYNAMODB_ENDPOINT: await closedEndpoint() });
      const run = makeIdempotent(async (e: Event) => e.detail, {
        persistenceStore: idempotencyPersistenceLayer(cfg),
        config: workerConfig(cfg),
      });

      const error = await run(event()).catch((e: unknown) => e);
      expect(idempotencyErrorToAppError(error)).toBeInstanceOf(ServiceUnavailableError);
    });
  });
});
