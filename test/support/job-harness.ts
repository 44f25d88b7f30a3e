import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createDynamoClient } from '../../lib/aws/clients.js';
import {
  type NewMatchingRun,
  newRunId,
  type RunLedger,
  type RunLedgerOptions,
} from '../../lib/runs/ledger.js';
import { RUN_OUTPUTS_PREFIX, runOutputKeys } from '../../lib/runs/outputs.js';
import { MatchingRuns, type MatchingRunsDeps } from '../../lib/runs/service.js';
import type { PaymentsImportedWorkerDeps } from '../../lib/runs/workers/payments-imported-worker.js';
import type { DocumentStore } from '../../lib/store/document-store.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { type DemoData, type DemoDataOptions, generateDemoData } from '../../scripts/demo-data.js';
import { lambdaContext } from '../http/request-events.js';
import type { EmulatorContext } from './emulators.js';
import { listKeys, WatchedBucket } from './instrumented.js';

/**
 * What the tests of the matching job, the workers and the run service share, against the
 * DynamoDB and S3 emulators (test/support/emulators.ts): demo inputs, runs in the ledger, the
 * watched results bucket, the objects a run left, the service and the workers' dependencies.
 */

/** Demo accruals and payments, and a fresh embedded store over them. */
export interface DemoInputs {
  readonly data: DemoData;
  /** A new store over copies of the data (a store takes ownership of the arrays it is given). */
  store(): EmbeddedDocumentStore;
}

export function demoInputs(options: DemoDataOptions): DemoInputs {
  const data = generateDemoData(options);
  return {
    data,
    store: () =>
      new EmbeddedDocumentStore({ collections: { accrual: [...data.accrual], payment: [...data.payment] } }),
  };
}

/** The keys of a run's complete set of outputs, in the order {@link JobHarness.outputsOf} lists them. */
export function completeOutputs(runId: string): string[] {
  return Object.values(runOutputKeys(runId)).sort();
}

/** A Lambda context for a worker invocation with its 15 minutes ahead of it. */
export function workerContext(requestId = 'worker-test') {
  return lambdaContext(requestId, 900_000);
}

export interface JobHarness {
  /** A run ledger on the emulated table (with the harness's options, then these). */
  ledger(options?: RunLedgerOptions): RunLedger;
  /** A watched results bucket on the emulated bucket, with an S3 client of its own. */
  bucket(): WatchedBucket;
  /** Records a `queued` run (chronological, started over HTTP unless told otherwise); its id. */
  queuedRun(fields?: Partial<NewMatchingRun>): Promise<string>;
  /** The keys of the objects under the run's output prefix, sorted. */
  outputsOf(runId: string): Promise<string[]>;
  /** The text of an object, or undefined when there is none. */
  objectText(key: string): Promise<string | undefined>;
  /** The bytes of an object, or undefined when there is none. */
  objectBytes(key: string): Promise<Uint8Array | undefined>;
  /** The MatchingRuns service on the harness's ledger and bucket; its dispatcher does nothing. */
  service(deps?: Partial<MatchingRunsDeps>): MatchingRuns;
  /** Dependencies of either worker function: the harness's ledger, bucket and store, Lambda retries on. */
  workerDeps(deps?: Partial<PaymentsImportedWorkerDeps>): PaymentsImportedWorkerDeps;
  /** The records of the emulated Powertools idempotency table. */
  idempotencyRecords(): Promise<Array<{ status: string | undefined; expiration: number }>>;
}

/**
 * The harness on `local`'s emulators; `store` makes the document store of each worker.
 *
 * @example
 * ```ts
 * const inputs = demoInputs({ accounts: 10, accruals: 40, payments: 35, seed: 1 });
 * const jobs = jobHarness(useEmulators(), { store: inputs.store });
 * it('…', async () => { const runId = await jobs.queuedRun(); … });
 * ```
 */
export function jobHarness(
  local: () => EmulatorContext,
  options: { readonly store: () => DocumentStore; readonly ledger?: RunLedgerOptions },
): JobHarness {
  const ledger = (more?: RunLedgerOptions) => local().ledger({ ...options.ledger, ...more });
  const bucket = () => new WatchedBucket(local().s3(), local().emulators.bucket);
  async function objectBytes(key: string): Promise<Uint8Array | undefined> {
    const s3 = local().s3();
    try {
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: local().emulators.bucket, Key: key }));
      return await Body?.transformToByteArray();
    } catch {
      return undefined;
    } finally {
      s3.destroy();
    }
  }
  return {
    ledger,
    bucket,
    async queuedRun(fields = {}) {
      const runId = newRunId();
      await ledger().create({ runId, policy: 'chronological', trigger: 'http', ...fields });
      return runId;
    },
    async outputsOf(runId) {
      const s3 = local().s3();
      try {
        return await listKeys(s3, local().emulators.bucket, `${RUN_OUTPUTS_PREFIX}${runId}/`);
      } finally {
        s3.destroy();
      }
    },
    async objectText(key) {
      const bytes = await objectBytes(key);
      return bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');
    },
    objectBytes,
    service: (deps = {}) =>
      new MatchingRuns({
        ledger: ledger(),
        bucket: bucket(),
        dispatcher: { dispatch: async () => undefined },
        presignTtlSeconds: 60,
        newRunId: () => newRunId(),
        ...deps,
      }),
    workerDeps: (deps = {}) => ({
      ledger: ledger(),
      bucket: bucket(),
      store: async () => options.store(),
      persistenceStore: local().idempotencyStore(),
      lambdaRetries: true,
      ...deps,
    }),
    async idempotencyRecords() {
      const { emulators } = local();
      const dynamo = createDynamoClient({ region: 'us-east-1', endpoint: emulators.dynamodbEndpoint });
      try {
        const { Items = [] } = await dynamo.send(
          new ScanCommand({ TableName: emulators.tables.idempotency }),
        );
        return Items.map((item) => ({ status: item.status?.S, expiration: Number(item.expiration?.N) }));
      } finally {
        dynamo.destroy();
      }
    },
  };
}
