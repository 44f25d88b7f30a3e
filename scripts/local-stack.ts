import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCAL_CREDENTIALS } from '../lib/aws/client-cache.js';
import { config } from '../lib/config.js';
import { type DemoDataOptions, writeDemoData } from './demo-data.js';
import { type Emulators, startEmulators } from './emulators.js';

/**
 * The one-command local stack (`npm start`): DynamoDB and S3 emulators, demo data for the embedded
 * store (unless MONGODB_URI is set), and `serverless offline` with every function, all on
 * 127.0.0.1. Prints the base URL and ready-to-paste commands; Ctrl-C stops everything.
 *
 * Also the library behind test/support/offline.ts, so tests run exactly what `npm start` runs.
 */

const HOST = '127.0.0.1';
const SERVICE_DIR = path.resolve(import.meta.dirname, '..');
const SERVERLESS_CLI = path.join(SERVICE_DIR, 'node_modules/osls/bin/serverless.js');
/** Where `npm start` records its endpoints for `npm run event:payments-imported`. */
export const STACK_STATE_FILE = path.join(SERVICE_DIR, '.data/stack.json');
/** serverless offline bundles every function with esbuild first: allow for a loaded 2-core machine. */
const DEFAULT_START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_CHARS = 20_000_000;

/** The serverless.yml function keys; deployed names are `zhkh-billing-<stage>-<key>`. */
export type FunctionKey =
  | 'getAccountActions'
  | 'listAccountActions'
  | 'createMatchingRun'
  | 'getMatchingRun'
  | 'matchingWorker'
  | 'paymentsImportedWorker';

/** The name serverless offline (stage `local`) gives a function, for Lambda invocations. */
export function localFunctionName(key: FunctionKey): string {
  return `zhkh-billing-local-${key}`;
}

/** A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Stops a child started with `detached: true` by signalling its whole process group (esbuild's
 * service process and the worker threads go with it): SIGTERM, then SIGKILL after `timeoutMs`.
 */
export async function stopProcessGroup(child: ChildProcess, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-pid, name);
    } catch {
      // The group is already gone.
    }
  };
  const done = exited(child);
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs);
  });
  const killed = await Promise.race([done.then(() => false), timedOut]);
  clearTimeout(timer);
  if (killed) signal('SIGKILL');
  await done;
}

export interface LocalStackOptions {
  /** HTTP API port (default: a free one). */
  readonly port?: number;
  /** serverless offline's Lambda invoke port (default: a free one). */
  readonly lambdaPort?: number;
  /** Embedded-store directory; demo data is (re)written there unless MONGODB_URI is set. */
  readonly dataDir: string;
  /** Write demo data into `dataDir` first (default true; ignored when MONGODB_URI is set). */
  readonly writeDemoData?: boolean;
  readonly demo?: DemoDataOptions;
  /** Extra environment for the functions (e.g. MONGODB_URI, WORKER_SAFETY_MARGIN_MS). */
  readonly env?: Readonly<Record<string, string>>;
  /** esbuild work folder under the project (default `.esbuild`); parallel stacks need their own. */
  readonly workFolder?: string;
  /** Rebuild and reload functions when lib/ or functions/ change (default false). */
  readonly watch?: boolean;
  /** Mirror serverless offline's output (function logs included) to this process's stdout. */
  readonly echo?: boolean;
  readonly startTimeoutMs?: number;
}

export interface LocalStack {
  /** `http://127.0.0.1:<port>`: the HTTP API (no stage prefix). */
  readonly baseUrl: string;
  /** serverless offline's Lambda endpoint (LambdaClient `endpoint`). */
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  readonly dataDir: string;
  readonly emulators: Emulators;
  /** Everything serverless offline (and the functions in it) wrote so far. */
  output(): string;
  /** Stops serverless offline (its process group), then the emulators. Safe to call twice. */
  stop(): Promise<void>;
}

async function waitUntilServing(
  baseUrl: string,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `serverless offline exited (${child.exitCode ?? child.signalCode}):\n${output().slice(-5000)}`,
      );
    }
    // Printed once both the HTTP and the Lambda servers listen.
    if (output().includes('Server ready')) {
      try {
        await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(2000) });
        return;
      } catch {
        // Not accepting connections yet.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`serverless offline did not start within ${timeoutMs} ms:\n${output().slice(-5000)}`);
}

/** Starts emulators, data and serverless offline (stage `local`); everything is stopped again if a step fails. */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const emulators = await startEmulators();
    cleanups.push(() => emulators.stop());

    const dataDir = path.resolve(SERVICE_DIR, opts.dataDir);
    const usesMongo = Boolean(opts.env?.MONGODB_URI ?? process.env.MONGODB_URI);
    if (!usesMongo && (opts.writeDemoData ?? true)) await writeDemoData(dataDir, opts.demo);

    const [httpPort, lambdaPort] = await Promise.all([
      opts.port ?? freePort(),
      opts.lambdaPort ?? freePort(),
    ]);
    const baseUrl = `http://${HOST}:${httpPort}`;
    const lambdaEndpoint = `http://${HOST}:${lambdaPort}`;
    const workFolder = opts.workFolder ?? '.esbuild';

    const child = spawn(
      process.execPath,
      [
        SERVERLESS_CLI,
        'offline',
        'start',
        '--stage',
        'local',
        '--host',
        HOST,
        '--httpPort',
        String(httpPort),
      ].concat(['--lambdaPort', String(lambdaPort)]),
      {
        cwd: SERVICE_DIR,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ...emulators.env(),
          DATA_DIR: dataDir,
          LAMBDA_ENDPOINT: lambdaEndpoint,
          AWS_REGION: config().AWS_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          SLS_TELEMETRY_DISABLED: '1',
          ESBUILD_WORK_FOLDER: workFolder,
          // A reload terminates in-flight invocations; off unless asked for.
          ...(opts.watch ? {} : { ESBUILD_WATCH_PATTERN: '.esbuild/no-watch' }),
          ...opts.env,
        },
      },
    );
    cleanups.push(() => stopProcessGroup(child));
    if (workFolder !== '.esbuild')
      cleanups.push(() => rm(path.join(SERVICE_DIR, workFolder), { recursive: true, force: true }));

    let output = '';
    const collect = (chunk: Buffer): void => {
      if (opts.echo) process.stdout.write(chunk);
      if (output.length < MAX_OUTPUT_CHARS) output += chunk.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);

    await waitUntilServing(baseUrl, child, () => output, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);

    let stopping: Promise<void> | undefined;
    return {
      baseUrl,
      lambdaEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      s3Endpoint: emulators.s3Endpoint,
      dataDir,
      emulators,
      output: () => output,
      stop: () => {
        stopping ??= cleanup();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** What `npm start` records for `npm run event:payments-imported` and other tools. */
export interface StackState {
  readonly baseUrl: string;
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** `matchingWorker`: asynchronous invocations from `POST /matching-runs`. */
  readonly workerFunctionName: string;
  /** `paymentsImportedWorker`: PaymentsImported events (`npm run event:payments-imported`). */
  readonly paymentsImportedWorkerFunctionName: string;
  readonly pid: number;
}

function portFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

function banner(stack: LocalStack, usesMongo: boolean): string {
  const url = stack.baseUrl;
  return [
    '',
    `Local stack ready: ${url}  (data: ${usesMongo ? 'MongoDB from MONGODB_URI' : `embedded store, demo data in ${path.relative(SERVICE_DIR, stack.dataDir)}`})`,
    `  DynamoDB emulator ${stack.dynamodbEndpoint}   S3 emulator ${stack.s3Endpoint}   Lambda endpoint ${stack.lambdaEndpoint}`,
    '',
    'Try:',
    `  curl -s ${url}/accounts/7800000000001/actions`,
    `  curl -s '${url}/accounts/actions?limit=3'`,
    `  curl -s '${url}/accounts/actions?limit=3&after=7800000000003'`,
    `  curl -s -i -X POST ${url}/matching-runs -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{"policy":"chronological"}'`,
    `  curl -s ${url}/matching-runs/<runId>          # poll until "succeeded", then open the outputs' url`,
    '  npm run event:payments-imported -- --import-id import-1   # the PaymentsImported event path',
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  // Local tooling runs on Node 20 (Lambda runs nodejs22.x): the SDK's Node 22 notice is known, not news.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const usesMongo = Boolean(process.env.MONGODB_URI);
  const port = portFromEnv('PORT');
  const lambdaPort = portFromEnv('LAMBDA_PORT');
  const stack = await startLocalStack({
    ...(port === undefined ? {} : { port }),
    ...(lambdaPort === undefined ? {} : { lambdaPort }),
    dataDir: config().DATA_DIR,
    watch: true,
    echo: true,
  });
  const state: StackState = {
    baseUrl: stack.baseUrl,
    lambdaEndpoint: stack.lambdaEndpoint,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    s3Endpoint: stack.s3Endpoint,
    workerFunctionName: localFunctionName('matchingWorker'),
    paymentsImportedWorkerFunctionName: localFunctionName('paymentsImportedWorker'),
    pid: process.pid,
  };
  await mkdir(path.dirname(STACK_STATE_FILE), { recursive: true });
  await writeFile(STACK_STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  process.stdout.write(banner(stack, usesMongo));

  const shutdown = (signal: NodeJS.Signals): void => {
    process.stdout.write(`\n${signal}: stopping the local stack…\n`);
    stack
      .stop()
      .then(() => rm(STACK_STATE_FILE, { force: true }))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('failed to stop cleanly:', error);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error('failed to start the local stack:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
