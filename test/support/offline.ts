import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DemoDataOptions } from '../../scripts/demo-data.js';
import type { Emulators } from '../../scripts/emulators.js';
import { type FunctionKey, localFunctionName, startLocalStack } from '../../scripts/local-stack.js';
import type { LocalStepFunctions } from '../../scripts/local-step-functions.js';

/**
 * The local stack of `npm start`, for end-to-end and fault tests: DynamoDB and S3 emulators in this
 * process, demo (or given) data for the embedded store, and `serverless offline` as a child process
 * in its own process group, all on free ports of 127.0.0.1, with its own esbuild folder and no
 * file watching. Always `stop()` it in `afterAll` (that also runs when a test failed).
 */

export interface StackOptions {
  /** Serve this embedded-store directory as it is, instead of freshly generated demo data. */
  readonly dataDir?: string;
  /** Sizes and seed of the generated demo data (default: scripts/demo-data.ts defaults). */
  readonly demo?: DemoDataOptions;
  /** Extra environment for the functions (e.g. MONGODB_URI, WORKER_SAFETY_MARGIN_MS). */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}

export interface Stack {
  /** `http://127.0.0.1:<port>`: the HTTP API, no stage prefix. */
  readonly baseUrl: string;
  /** serverless offline's Lambda invoke endpoint (for LambdaClient `endpoint`). */
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** The local Step Functions endpoint the functions start sharded runs on, and its executions. */
  readonly stepFunctions: LocalStepFunctions;
  readonly dataDir: string;
  /** The emulators, with their table and bucket names and outage switches (`dynamodb.down()`, …). */
  readonly emulators: Emulators;
  /** The name of a function for Lambda invocations (`zhkh-billing-local-<key>`). */
  functionName(key: FunctionKey): string;
  /** Everything serverless offline and the functions in it wrote to stdout and stderr so far. */
  output(): string;
  /** Stops serverless offline (its whole process group) and the emulators; removes temp data. */
  stop(): Promise<void>;
}

/**
 * @example
 * ```ts
 * let stack: Stack;
 * beforeAll(async () => { stack = await startStack(); }, 120_000);
 * afterAll(async () => { await stack?.stop(); });
 * ```
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const ownDataDir =
    opts.dataDir === undefined ? await mkdtemp(path.join(os.tmpdir(), 'stack-data-')) : undefined;
  try {
    const local = await startLocalStack({
      dataDir: opts.dataDir ?? ownDataDir ?? '',
      writeDemoData: ownDataDir !== undefined,
      workFolder: `.esbuild/offline-${randomUUID().slice(0, 8)}`,
      watch: false,
      ...(opts.demo ? { demo: opts.demo } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    });
    let stopping: Promise<void> | undefined;
    return {
      ...local,
      functionName: localFunctionName,
      stop: () => {
        stopping ??= (async () => {
          try {
            await local.stop();
          } finally {
            if (ownDataDir) await rm(ownDataDir, { recursive: true, force: true });
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (ownDataDir) await rm(ownDataDir, { recursive: true, force: true });
    throw error;
  }
}
