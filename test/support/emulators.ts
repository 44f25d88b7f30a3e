import { createServer } from 'node:net';
import type { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import {
  createDynamoClient,
  createS3Client,
  dynamoDocumentClient,
  resetAwsClients,
} from '../../lib/aws/clients.js';
import { type Config, loadConfig } from '../../lib/config.js';
import { RunLedger, type RunLedgerOptions } from '../../lib/runs/ledger.js';
import { idempotencyPersistenceLayer } from '../../lib/runs/workers/idempotency.js';
import { type EmulatorOptions, type Emulators, startEmulators } from '../../scripts/emulators.js';

/** What a test file gets from {@link useEmulators}, once `beforeAll` has run. */
export interface EmulatorContext {
  readonly emulators: Emulators;
  /** A configuration pointing at the emulators (for the cached client factories). */
  readonly cfg: Config;
  /** A run ledger on the emulated runs table. */
  ledger(options?: RunLedgerOptions): RunLedger;
  /** A new S3 client for the emulated S3 (the caller may destroy it). */
  s3(): S3Client;
  /** Powertools idempotency persistence on the emulated idempotency table, with its own client. */
  idempotencyStore(): DynamoDBPersistenceLayer;
}

function emulatorContext(emulators: Emulators): EmulatorContext {
  const cfg = loadConfig({ ...emulators.env(), AWS_REGION: 'us-east-1' });
  return {
    emulators,
    cfg,
    ledger: (options) => new RunLedger(dynamoDocumentClient(cfg), emulators.tables.runs, options),
    s3: () => createS3Client({ region: 'us-east-1', endpoint: emulators.s3Endpoint }),
    idempotencyStore: () =>
      idempotencyPersistenceLayer(
        cfg,
        createDynamoClient({ region: 'us-east-1', endpoint: emulators.dynamodbEndpoint }),
      ),
  };
}

/**
 * Starts the DynamoDB and S3 emulators in `beforeAll` and stops them in `afterAll` (also when a
 * test failed), destroying cached AWS clients so no keep-alive socket outlives the file.
 *
 * @example
 * ```ts
 * const local = useEmulators();
 * it('…', async () => { const run = await local().ledger().get(runId); });
 * ```
 */
export function useEmulators(options?: EmulatorOptions): () => EmulatorContext {
  let context: EmulatorContext | undefined;
  beforeAll(async () => {
    const emulators = await startEmulators(options);
    context = emulatorContext(emulators);
  });
  afterAll(async () => {
    resetAwsClients();
    await context?.emulators.stop();
  });
  return () => {
    if (!context)
      throw new Error('the emulators are not running: call useEmulators() at the top of a describe block');
    return context;
  };
}

/** An endpoint on 127.0.0.1 where nothing listens (a port that was free a moment ago): an outage. */
export async function closedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
