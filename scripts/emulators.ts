import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import s3rverAccount from 's3rver/lib/models/account.js';
import { LOCAL_CREDENTIALS } from '../lib/aws/client-cache.js';
import { createDynamoClient } from '../lib/aws/dynamodb-client.js';
import { createS3Client } from '../lib/aws/s3-client.js';
import { config } from '../lib/config.js';
import { createTables, type TableNames } from './tables.js';

/**
 * Local DynamoDB (dynalite, in memory) and S3 (s3rver, files in a temp dir) emulators, served in
 * this process on 127.0.0.1 with free ports, with the project's tables and bucket created through
 * the real SDK clients. Used by tests, by the local stack, and directly:
 *
 *   npx tsx scripts/emulators.ts   # prints the endpoints as JSON, stops on Ctrl-C
 */

const HOST = '127.0.0.1';

export interface EmulatorOptions {
  /** s3rver's data directory; a fresh temp dir (removed on stop) when omitted. */
  s3Directory?: string;
  /** Table names; default RUNS_TABLE / IDEMPOTENCY_TABLE from the configuration. */
  tables?: TableNames;
  /** Bucket name; default RESULTS_BUCKET from the configuration. */
  bucket?: string;
}

/** Takes one emulator off the network and back, for fault tests. Its data survives. */
export interface EmulatorSwitch {
  /** Stops listening and severs open connections (in-flight requests fail, as in an outage). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

export interface Emulators {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  tables: TableNames;
  bucket: string;
  /** Where s3rver keeps objects (removed on stop unless the caller supplied it). */
  s3Directory: string;
  dynamodb: EmulatorSwitch;
  s3: EmulatorSwitch;
  /** Environment variables that point lib/config.ts at these emulators. */
  env(): Record<string, string>;
  /** Stops both emulators and removes the temp data dir; safe to call more than once. */
  stop(): Promise<void>;
}

// The plain http.Server methods, called on the prototype: dynalite replaces `close` with one that
// also closes its store, and after that `listen` with one that wipes it, so `up()` would lose the data.
const httpListen: (this: http.Server, port: number, host: string, onListening: () => void) => http.Server =
  http.Server.prototype.listen;
const httpClose: (this: http.Server, onClosed: (error?: Error) => void) => http.Server =
  http.Server.prototype.close;

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    httpListen.call(server, port, HOST, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('server has no TCP address'));
      else resolve(address.port);
    });
  });
}

function close(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    httpClose.call(server, (error) => (error ? reject(error) : resolve()));
    // Keep-alive sockets and requests in flight would otherwise hold the close open.
    server.closeAllConnections();
  });
}

async function switchable(server: http.Server): Promise<{ port: number; control: EmulatorSwitch }> {
  const port = await listen(server, 0);
  return {
    port,
    control: {
      down: () => close(server),
      up: async () => {
        if (!server.listening) await listen(server, port);
      },
    },
  };
}

async function createBucket(endpoint: string, bucket: string, region: string): Promise<void> {
  const client = createS3Client({ region, endpoint });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const reused = error instanceof Error && /^BucketAlready(OwnedByYou|Exists)$/.test(error.name);
    if (!reused) throw error;
  } finally {
    client.destroy();
  }
}

/**
 * Starts dynalite and s3rver on free ports of 127.0.0.1 and creates the tables and the bucket.
 *
 * @example
 * ```ts
 * const emulators = await startEmulators();
 * Object.assign(process.env, emulators.env());
 * // … run code against them …
 * await emulators.stop();
 * ```
 */
export async function startEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  const cfg = config();
  const tables = opts.tables ?? { runs: cfg.RUNS_TABLE, idempotency: cfg.IDEMPOTENCY_TABLE };
  const bucket = opts.bucket ?? cfg.RESULTS_BUCKET;
  const ownDirectory = opts.s3Directory === undefined;
  const s3Directory = opts.s3Directory ?? (await mkdtemp(path.join(os.tmpdir(), 's3rver-')));

  // s3rver accepts only access keys it knows; the project's clients sign with LOCAL_CREDENTIALS.
  s3rverAccount.DUMMY_ACCOUNT.createKeyPair(LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey);

  const dynamoServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const s3Server = http.createServer(new S3rver({ directory: s3Directory, silent: true }).callback());

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const results = await Promise.allSettled([close(dynamoServer), close(s3Server)]);
      if (ownDirectory) await rm(s3Directory, { recursive: true, force: true });
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) throw failure.reason;
    })();
    return stopping;
  };

  try {
    const [dynamo, s3] = await Promise.all([switchable(dynamoServer), switchable(s3Server)]);
    const dynamodbEndpoint = `http://${HOST}:${dynamo.port}`;
    const s3Endpoint = `http://${HOST}:${s3.port}`;

    const dynamoClient = createDynamoClient({ region: cfg.AWS_REGION, endpoint: dynamodbEndpoint });
    try {
      await Promise.all([
        createTables(dynamoClient, tables),
        createBucket(s3Endpoint, bucket, cfg.AWS_REGION),
      ]);
    } finally {
      dynamoClient.destroy();
    }

    return {
      dynamodbEndpoint,
      s3Endpoint,
      tables,
      bucket,
      s3Directory,
      dynamodb: dynamo.control,
      s3: s3.control,
      env: () => ({
        DYNAMODB_ENDPOINT: dynamodbEndpoint,
        S3_ENDPOINT: s3Endpoint,
        RUNS_TABLE: tables.runs,
        IDEMPOTENCY_TABLE: tables.idempotency,
        RESULTS_BUCKET: bucket,
      }),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

async function main(): Promise<void> {
  // Local tooling runs on Node 20 (Lambda runs nodejs22.x): the SDK's Node 22 notice is known, not news.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const emulators = await startEmulators();
  const { dynamodbEndpoint, s3Endpoint, tables, bucket } = emulators;
  process.stdout.write(`${JSON.stringify({ dynamodbEndpoint, s3Endpoint, tables, bucket })}\n`);
  // Every time, not once: a Ctrl-C can arrive twice (directly and relayed by npm or tsx), and the
  // default action on the second would end the process before the temp folder is removed.
  const shutdown = (): void => {
    emulators.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('failed to stop the emulators:', error);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error('failed to start the emulators:', error);
    process.exit(1);
  });
}
