import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCAL_CREDENTIALS } from '../lib/aws/client-cache.js';
import { config } from '../lib/config.js';
import { type DemoDataOptions, writeDemoData } from './demo-data.js';
import { type Emulators, startEmulators } from './emulators.js';
import { type LocalStepFunctions, startLocalStepFunctions } from './local-step-functions.js';
import { loadStateMachineDefinition, localDefinition } from './state-machine.js';

/**
 * The one-command local stack (`npm start`): DynamoDB and S3 emulators, demo data for the embedded
 * store (unless MONGODB_URI is set), `serverless offline` with every function, and a local Step
 * Functions endpoint running the sharded-run state machine against serverless offline's functions
 * (scripts/local-step-functions.ts), all on 127.0.0.1. Prints the base URL and ready-to-paste commands; Ctrl-C stops everything, removes
 * what it created and exits 0.
 *
 * Also the library behind test/support/offline.ts, so tests run exactly what `npm start` runs.
 */

const HOST = '127.0.0.1';
const SERVICE_DIR = path.resolve(import.meta.dirname, '..');
const SERVERLESS_CLI = path.join(SERVICE_DIR, 'node_modules/osls/bin/serverless.js');
/** Signals that stop `npm start`: Ctrl-C, `kill`, and the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** serverless offline bundles every function with esbuild first: allow for a loaded 2-core machine. */
const DEFAULT_START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_CHARS = 20_000_000;

/** The serverless.yml function keys; deployed names are `zhkh-billing-<stage>-<key>`. */
export type FunctionKey =
  | 'getAccountActions'
  | 'listAccountActions'
  | 'createMatchingRun'
  | 'listMatchingRuns'
  | 'getMatchingRun'
  | 'getMatchingRunPartition'
  | 'matchingWorker'
  | 'paymentsImportedWorker'
  | 'planMatchingRun'
  | 'matchingShard'
  | 'mergeMatchingRun'
  | 'failMatchingRun';

const LOCAL_FUNCTION_PREFIX = 'zhkh-billing-local-';

/** The name serverless offline (stage `local`) gives a function, for Lambda invocations. */
export function localFunctionName(key: FunctionKey): string {
  return `${LOCAL_FUNCTION_PREFIX}${key}`;
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

/** A port the stack was asked to listen on is taken by another process. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is already in use on ${HOST}`);
    this.name = 'PortInUseError';
  }
}

/** Resolves when `port` can be bound on 127.0.0.1 (and releases it); PortInUseError when it cannot. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port) : error),
    );
    server.listen(port, HOST, () => server.close(() => resolve()));
  });
}

/** serverless offline's own report of a port it could not bind. */
const OFFLINE_PORT_IN_USE = /EADDRINUSE: address already in use [\d.]+:(\d+)/;

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
  /**
   * Mirror serverless offline's output (function logs included) to this process's stdout once it
   * serves. Its start-up output is not mirrored: its route table lists Lambda invoke URLs on the
   * HTTP port, where they answer 404 (they are served on the Lambda port).
   */
  readonly echo?: boolean;
  readonly startTimeoutMs?: number;
  /** Abort the start: everything started so far is stopped, and the promise rejects. */
  readonly signal?: AbortSignal;
}

export interface LocalStack {
  /** `http://127.0.0.1:<port>`: the HTTP API (no stage prefix). */
  readonly baseUrl: string;
  /** serverless offline's Lambda endpoint (LambdaClient `endpoint`). */
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** The local Step Functions endpoint (SFN_ENDPOINT of the functions) and its executions. */
  readonly stepFunctions: LocalStepFunctions;
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
  signal: AbortSignal | undefined,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child.exitCode !== null || child.signalCode !== null) {
      const inUse = OFFLINE_PORT_IN_USE.exec(output());
      if (inUse) throw new PortInUseError(Number(inUse[1]));
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
  const { signal } = opts;
  try {
    // Before anything starts: a taken port is then one line and nothing to clean up.
    for (const port of [opts.port, opts.lambdaPort]) if (port !== undefined) await assertPortFree(port);

    const emulators = await startEmulators();
    cleanups.push(() => emulators.stop());
    signal?.throwIfAborted();

    const dataDir = path.resolve(SERVICE_DIR, opts.dataDir);
    const usesMongo = Boolean(opts.env?.MONGODB_URI ?? process.env.MONGODB_URI);
    if (!usesMongo && (opts.writeDemoData ?? true)) await writeDemoData(dataDir, opts.demo);
    signal?.throwIfAborted();

    const [httpPort, lambdaPort] = await Promise.all([
      opts.port ?? freePort(),
      opts.lambdaPort ?? freePort(),
    ]);
    const baseUrl = `http://${HOST}:${httpPort}`;
    const lambdaEndpoint = `http://${HOST}:${lambdaPort}`;
    const workFolder = opts.workFolder ?? '.esbuild';

    // Sharded runs: the deployed definition, its Distributed Map made inline, its tasks invoking
    // serverless offline's functions by name.
    const stepFunctions = await startLocalStepFunctions({
      name: `${LOCAL_FUNCTION_PREFIX}matchingRun`,
      definition: localDefinition(await loadStateMachineDefinition(), (key) =>
        localFunctionName(key as FunctionKey),
      ),
      lambdaEndpoint,
    });
    cleanups.push(() => stepFunctions.stop());
    signal?.throwIfAborted();

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
          SFN_ENDPOINT: stepFunctions.endpoint,
          MATCHING_STATE_MACHINE_ARN: stepFunctions.stateMachineArn,
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
    let serving = false;
    const collect = (chunk: Buffer): void => {
      if (serving && opts.echo) process.stdout.write(chunk);
      if (output.length < MAX_OUTPUT_CHARS) output += chunk.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);

    await waitUntilServing(
      baseUrl,
      child,
      () => output,
      opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      signal,
    );
    serving = true;

    let stopping: Promise<void> | undefined;
    return {
      baseUrl,
      lambdaEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      s3Endpoint: emulators.s3Endpoint,
      stepFunctions,
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
  /** The local Step Functions endpoint and the state machine of sharded runs. */
  readonly stepFunctionsEndpoint: string;
  readonly stateMachineArn: string;
  /** `matchingWorker`: asynchronous invocations from `POST /matching-runs`. */
  readonly workerFunctionName: string;
  /** `paymentsImportedWorker`: PaymentsImported events (`npm run event:payments-imported`). */
  readonly paymentsImportedWorkerFunctionName: string;
  /** The `npm start` process: the file is stale once it has exited. */
  readonly pid: number;
}

/** Where `npm start` records its endpoints: `.data/stack.json`, or STACK_STATE_FILE (tests, parallel stacks). */
export function stackStateFile(): string {
  return path.resolve(SERVICE_DIR, process.env.STACK_STATE_FILE || '.data/stack.json');
}

/** Whether a process with this id exists (EPERM: it does, under another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The recorded state of the running local stack. `missing`: no stack was started (or it stopped
 * cleanly); `stale`: the file is left over from a stack whose process is gone (killed, crashed).
 */
export async function readStackState(
  file = stackStateFile(),
): Promise<
  | { readonly kind: 'running'; readonly state: StackState }
  | { readonly kind: 'stale'; readonly pid?: number }
  | { readonly kind: 'missing' }
> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  let state: StackState;
  try {
    state = JSON.parse(text) as StackState;
  } catch {
    return { kind: 'stale' }; // cut short when its stack was killed while writing it
  }
  if (!Number.isInteger(state.pid)) return { kind: 'stale' };
  return processExists(state.pid) ? { kind: 'running', state } : { kind: 'stale', pid: state.pid };
}

/** Removes the state file if it is still this process's (a stack started later may have replaced it). */
async function removeOwnStackState(file: string): Promise<void> {
  const current = await readStackState(file).catch(() => undefined);
  if (current?.kind === 'running' && current.state.pid !== process.pid) return;
  await rm(file, { force: true });
}

function portFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

/** The banner: only URLs and commands that work as printed (test/scripts/local-stack.test.ts runs them). */
function banner(stack: LocalStack, usesMongo: boolean): string {
  const url = stack.baseUrl;
  return [
    '',
    `Local stack ready: ${url}  (data: ${usesMongo ? 'MongoDB from MONGODB_URI' : `embedded store, demo data in ${path.relative(SERVICE_DIR, stack.dataDir)}`})`,
    '',
    'Try:',
    `  curl -s ${url}/accounts/7800000000001/actions`,
    `  curl -s '${url}/accounts/actions?limit=3'`,
    `  curl -s '${url}/accounts/actions?limit=3&after=7800000000003'`,
    `  curl -s -i -X POST ${url}/matching-runs -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{"policy":"chronological"}'`,
    `  curl -s ${url}/matching-runs/<runId>          # poll until "succeeded", then open the outputs' url`,
    `  curl -s -i -X POST ${url}/matching-runs -H 'content-type: application/json' -d '{"partitionBy":"account","shards":3}'   # a sharded run (state machine)`,
    `  curl -s '${url}/matching-runs?limit=5'       # the latest runs; &status=running shows their progress`,
    '  npm run event:payments-imported -- --import-id import-1   # the PaymentsImported event path',
    '',
    `AWS SDK endpoints (credentials: ${LOCAL_CREDENTIALS.accessKeyId} / ${LOCAL_CREDENTIALS.secretAccessKey}):`,
    `  Lambda ${stack.lambdaEndpoint} (functions ${LOCAL_FUNCTION_PREFIX}<function>)   DynamoDB ${stack.dynamodbEndpoint}   S3 ${stack.s3Endpoint}`,
    `  Step Functions ${stack.stepFunctions.endpoint} (state machine ${stack.stepFunctions.stateMachineArn})`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/** One line for a start that failed, naming the variable that chose a taken port. */
function startFailure(
  error: unknown,
  ports: Readonly<Record<'PORT' | 'LAMBDA_PORT', number | undefined>>,
): string {
  if (error instanceof PortInUseError) {
    const name =
      error.port === ports.PORT ? 'PORT' : error.port === ports.LAMBDA_PORT ? 'LAMBDA_PORT' : undefined;
    return name === undefined
      ? `${error.message} (it was free a moment earlier): run npm start again`
      : `${error.message} (${name}=${error.port}): set ${name} to another port, or leave it unset for a free one`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Resolves once `signal` is aborted (at once if it already is). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function main(): Promise<number> {
  // Local tooling runs on Node 20 (Lambda runs nodejs22.x): the SDK's Node 22 notice is known, not news.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const usesMongo = Boolean(process.env.MONGODB_URI);
  const ports = { PORT: portFromEnv('PORT'), LAMBDA_PORT: portFromEnv('LAMBDA_PORT') };
  const stateFile = stackStateFile();

  // Handled from the start (a Ctrl-C while bundling must stop what started too), and every time:
  // a terminal's Ctrl-C reaches this process once directly and once more through npm, which
  // forwards it; the default action on the second would end the process half-way through stopping.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    process.stdout.write(`\n${signal}: stopping the local stack…\n`);
    stop.abort();
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  // After SIGHUP the terminal is gone and writing to it fails: that must not cut the cleanup short.
  process.stdout.on('error', () => undefined);

  process.stdout.write(
    'Starting the local stack (serverless offline bundles every function first: up to a minute)…\n',
  );
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      ...(ports.PORT === undefined ? {} : { port: ports.PORT }),
      ...(ports.LAMBDA_PORT === undefined ? {} : { lambdaPort: ports.LAMBDA_PORT }),
      dataDir: config().DATA_DIR,
      ...(process.env.ESBUILD_WORK_FOLDER ? { workFolder: process.env.ESBUILD_WORK_FOLDER } : {}),
      watch: true,
      echo: true,
      signal: stop.signal,
    });
  } catch (error) {
    if (!stop.signal.aborted) {
      console.error(`npm start: the local stack did not start: ${startFailure(error, ports)}`);
      return 1;
    }
    process.stdout.write('Local stack stopped before it was ready; nothing is left running.\n');
    return 0;
  }

  try {
    const state: StackState = {
      baseUrl: stack.baseUrl,
      lambdaEndpoint: stack.lambdaEndpoint,
      dynamodbEndpoint: stack.dynamodbEndpoint,
      s3Endpoint: stack.s3Endpoint,
      stepFunctionsEndpoint: stack.stepFunctions.endpoint,
      stateMachineArn: stack.stepFunctions.stateMachineArn,
      workerFunctionName: localFunctionName('matchingWorker'),
      paymentsImportedWorkerFunctionName: localFunctionName('paymentsImportedWorker'),
      pid: process.pid,
    };
    await mkdir(path.dirname(stateFile), { recursive: true });
    await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    process.stdout.write(banner(stack, usesMongo));
    await aborted(stop.signal);
  } finally {
    try {
      await stack.stop();
    } finally {
      await removeOwnStackState(stateFile);
    }
  }
  process.stdout.write(
    `Local stack stopped: serverless offline, the Step Functions endpoint and both emulators are down, ${path.relative(SERVICE_DIR, stateFile)} and the S3 emulator's files removed.\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error('npm start:', error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
