import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { resetAwsClients } from '../../lib/aws/clients.js';
import { type Config, loadConfig } from '../../lib/config.js';
import { type EmulatorOptions, type Emulators, startEmulators } from '../../scripts/emulators.js';

/** What a test file gets from {@link useEmulators}, once `beforeAll` has run. */
export interface EmulatorContext {
  readonly emulators: Emulators;
  /** A configuration pointing at the emulators (for the cached client factories). */
  readonly cfg: Config;
}

/**
 * Starts the DynamoDB and S3 emulators in `beforeAll` and stops them in `afterAll` (also when a
 * test failed), destroying cached AWS clients so no keep-alive socket outlives the file.
 *
 * @example
 * ```ts
 * const local = useEmulators();
 * it('…', async () => { const ledger = new RunLedger(dynamoDocumentClient(local().cfg), local().emulators.tables.runs); });
 * ```
 */
export function useEmulators(options?: EmulatorOptions): () => EmulatorContext {
  let context: EmulatorContext | undefined;
  beforeAll(async () => {
    const emulators = await startEmulators(options);
    context = { emulators, cfg: loadConfig({ ...emulators.env(), AWS_REGION: 'us-east-1' }) };
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
