import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../lib/aws/client-cache.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { freePort, type StackState } from '../../scripts/local-stack.js';

/**
 * `npm start` and `npm run event:payments-imported` as a newcomer runs them, in child processes:
 * the banner's commands pasted as printed, events sent, Ctrl-C (SIGINT to the whole process
 * group, as a terminal sends it), a port that is taken, and a stack that is gone. Each stack gets
 * its own ports, data, state file, esbuild folder and TMPDIR, so nothing here touches a developer's
 * running `npm start`.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const execFileAsync = promisify(execFile);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where one `npm start` keeps its things, and the environment that points it (and the event script) there. */
interface Sandbox {
  readonly dir: string;
  readonly tmpDir: string;
  readonly stateFile: string;
  readonly workFolder: string;
  readonly env: NodeJS.ProcessEnv;
}

async function sandbox(extra: Record<string, string> = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'npm-start-test-'));
  const tmpDir = path.join(dir, 'tmp');
  await mkdir(tmpDir);
  const stateFile = path.join(dir, 'stack.json');
  const workFolder = `.esbuild/npm-start-${randomUUID().slice(0, 8)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: path.join(dir, 'data'),
    STACK_STATE_FILE: stateFile,
    ESBUILD_WORK_FOLDER: workFolder,
    TMPDIR: tmpDir,
    npm_config_update_notifier: 'false',
    ...extra,
  };
  delete env.MONGODB_URI;
  return { dir, tmpDir, stateFile, workFolder, env };
}

/** Runs a command to its end (no shell unless asked), never throwing on a non-zero exit. */
async function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { cwd: ROOT, env, timeout });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}

/**
 * What `npm run event:payments-imported -- …args` runs, against the sandbox's stack (without npm,
 * which takes seconds to start on a loaded machine; the banner's test runs it through npm).
 */
function sendEvent(box: Sandbox, ...args: string[]): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', 'scripts/send-event.ts', ...args], box.env);
}

/** `npm start` in its own process group (as a terminal runs a foreground job), output collected. */
function npmStart(box: Sandbox) {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: box.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Proc {
  readonly pid: number;
  readonly command: string;
}

/** Every descendant of `pid` (children, grandchildren, …), from `ps`. */
async function descendants(pid: number): Promise<Proc[]> {
  const { stdout } = await execFileAsync('ps', ['-A', '-o', 'pid=,ppid=,args=']);
  const children = new Map<number, Proc[]>();
  for (const line of stdout.trim().split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const parent = Number(match[2]);
    children.set(parent, [
      ...(children.get(parent) ?? []),
      { pid: Number(match[1]), command: String(match[3]) },
    ]);
  }
  const found: Proc[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Those of `procs` that still run. */
async function stillRunning(procs: readonly Proc[]): Promise<Proc[]> {
  const left: Proc[] = [];
  for (const proc of procs) if (await running(proc.pid)) left.push(proc);
  return left;
}

/** Whether a process runs (a zombie waiting for its parent to reap it does not). */
async function running(pid: number): Promise<boolean> {
  const { stdout } = await execFileAsync('ps', ['-o', 'stat=', '-p', String(pid)]).catch(() => ({
    stdout: '',
  }));
  const state = stdout.trim();
  return state !== '' && !state.startsWith('Z');
}

const s3rverFolders = async (box: Sandbox) =>
  (await readdir(box.tmpDir)).filter((name) => name.startsWith('s3rver-'));

describe('npm start, used as the banner says, then Ctrl-C', () => {
  let box: Sandbox;
  let stack: ReturnType<typeof npmStart>;
  let state: StackState;
  let startedPids: Proc[];

  beforeAll(async () => {
    box = await sandbox({ PORT: String(await freePort()), LAMBDA_PORT: String(await freePort()) });
    stack = npmStart(box);
    await until(
      'the banner',
      () => {
        if (stack.stdout().includes('Ctrl-C stops everything')) return true;
        if (stack.child.exitCode !== null) throw new Error(`npm start exited:\n${stack.stderr()}`);
        return undefined;
      },
      150_000,
    );
    state = JSON.parse(await readFile(box.stateFile, 'utf8')) as StackState;
    startedPids = await descendants(stack.child.pid ?? -1);
  }, 180_000);

  afterAll(async () => {
    // Only if a test failed before the Ctrl-C test: stop the group we started, by its pid.
    if (stack?.child.exitCode === null && stack.child.pid !== undefined) {
      try {
        process.kill(-stack.child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await stack.exited;
    }
    if (box) {
      await rm(path.join(ROOT, box.workFolder), { recursive: true, force: true });
      await rm(box.dir, { recursive: true, force: true });
    }
  }, 60_000);

  /** The banner: what `npm start` printed once it was ready. */
  const bannerText = () => {
    const text = stack.stdout();
    return text.slice(text.indexOf('Local stack ready'));
  };

  it('prints only URLs that answer: no Lambda invoke URLs on the HTTP port', () => {
    const output = stack.stdout();
    expect(output).toContain(`Local stack ready: ${state.baseUrl}`);
    expect(output).not.toContain('/2015-03-31/functions');
    for (const url of output.match(/http:\/\/[\w.:]+\/\S*/g) ?? []) {
      expect(url.startsWith(`${state.baseUrl}/`) || url === `${state.baseUrl}/`, url).toBe(true);
    }
  });

  it("runs every curl command of the banner as printed, with 2xx answers (the run's poll too)", async () => {
    const commands = bannerText()
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('curl '));
    expect(commands.length).toBeGreaterThanOrEqual(5);
    let runId: string | undefined;
    for (const printed of commands) {
      const command = printed
        .replace('<runId>', runId ?? '<runId>')
        .replace(/^curl /, "curl -w '\\n%{http_code}' ");
      const answer = await run('sh', ['-c', command], box.env);
      expect(answer.code, printed).toBe(0);
      const lines = answer.stdout.trimEnd().split('\n');
      const status = Number(lines.at(-1));
      expect(status, `${printed}\n${answer.stdout}`).toBeGreaterThanOrEqual(200);
      expect(status, `${printed}\n${answer.stdout}`).toBeLessThan(300);
      const body = lines.at(-2) ?? '';
      if (printed.includes('-X POST')) runId = String((JSON.parse(body) as { runId: string }).runId);
    }
    expect(runId).toMatch(/^[0-9A-Z]{26}$/);
  });

  it("serves the banner's AWS SDK endpoints: DynamoDB tables, the S3 bucket", async () => {
    const banner = bannerText();
    expect(banner).toContain(state.dynamodbEndpoint);
    expect(banner).toContain(state.s3Endpoint);
    expect(banner).toContain(state.lambdaEndpoint);
    expect(banner).toContain(
      `Step Functions ${state.stepFunctionsEndpoint} (state machine ${state.stateMachineArn})`,
    );
    const credentials = LOCAL_CREDENTIALS;
    const sfn = new SFNClient({ region: 'us-east-1', endpoint: state.stepFunctionsEndpoint, credentials });
    try {
      await expect(
        sfn.send(new DescribeExecutionCommand({ executionArn: `${state.stateMachineArn}:none` })),
      ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    } finally {
      sfn.destroy();
    }
    const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: state.dynamodbEndpoint, credentials });
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: state.s3Endpoint,
      credentials,
      forcePathStyle: true,
    });
    try {
      expect((await dynamo.send(new ListTablesCommand({}))).TableNames?.length).toBe(2);
      await s3.send(new HeadBucketCommand({ Bucket: 'matching-results' }));
    } finally {
      dynamo.destroy();
      s3.destroy();
    }
  });

  it("runs the banner's event command, and the Lambda endpoint it prints takes --lambda-endpoint", async () => {
    const line = bannerText()
      .split('\n')
      .map((text) => text.replace(/#.*$/, '').trim())
      .find((text) => text.startsWith('npm run event:payments-imported'));
    expect(line).toBeDefined();
    const printed = await run('sh', ['-c', String(line)], box.env);
    expect(printed.code, printed.stderr).toBe(0);
    const runId = derivedRunId('event', 'import-1');
    expect(printed.stdout).toContain(`run ${runId} succeeded`);

    const direct = await sendEvent(box, '--import-id', 'import-1', '--lambda-endpoint', state.lambdaEndpoint);
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain(`duplicate of run ${runId}`);
  });

  describe('npm run event:payments-imported', () => {
    const importId = `import-${randomUUID().slice(0, 8)}`;
    const runId = derivedRunId('event', importId);

    it('says which run succeeded and how to look at it', async () => {
      const sent = await sendEvent(box, '--import-id', importId);
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stdout).toMatch(new RegExp(`^run ${runId} succeeded: \\d+ payments, \\d+ matched`, 'm'));
      expect(sent.stdout).toContain(`details: curl -s ${state.baseUrl}/matching-runs/${runId}`);
    });

    it('says a redelivery was a duplicate of that run', async () => {
      const again = await sendEvent(box, '--import-id', importId);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(
        new RegExp(`^duplicate of run ${runId} \\(.+\\): nothing new was started$`, 'm'),
      );
    });

    it('says an import id reused with another policy was discarded, names no run, and fails', async () => {
      const logBefore = stack.stdout().length;
      const reused = await sendEvent(box, '--import-id', importId, '--policy', 'month-first');
      expect(reused.code).toBe(1);
      expect(reused.stderr).toMatch(
        new RegExp(
          `^discarded, no run started: importId ${importId} was already used with policy chronological`,
          'm',
        ),
      );
      expect(`${reused.stdout}${reused.stderr}`).not.toMatch(/runId|details:|poll/);
      // The worker logs it as a warning about a reused id: nothing is malformed.
      const logged = stack
        .stdout()
        .slice(logBefore)
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes(importId))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(
        logged.some((line) => line.level === 'WARN' && /importId is already used/.test(String(line.message))),
      ).toBe(true);
      expect(
        logged.filter((line) => line.level === 'ERROR' || /malformed/.test(String(line.message))),
      ).toEqual([]);
    });

    it('with --async, says it did not wait and that the run may not exist', async () => {
      const fresh = `import-${randomUUID().slice(0, 8)}`;
      const sent = await sendEvent(box, '--import-id', fresh, '--async');
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stdout).toContain('delivered without waiting');
      expect(sent.stdout).toContain(`404 unless the worker created run ${derivedRunId('event', fresh)}`);
    });

    it('says an empty import id is empty, and nothing else', async () => {
      const refused = await sendEvent(box, '--import-id', '');
      expect(refused.stderr.split('\n')[0]).toBe('--import-id: must not be empty');
    });

    it.each<[string, string[], RegExp]>([
      ['an empty import id', ['--import-id', ''], /^--import-id: must not be empty$/m],
      ['a control character', ['--import-id', 'a\tb'], /^--import-id: must not contain control characters$/m],
      ['an unknown policy', ['--policy', 'fifo'], /^--policy: must be one of chronological, month-first$/m],
      [
        'a bad payment count',
        ['--payment-count', 'many'],
        /^--payment-count: must be a non-negative integer/m,
      ],
      ['an unknown option', ['--bogus'], /^Unknown option '--bogus'/m],
      ['a stray argument', ['import-1'], /^Unexpected argument 'import-1'/m],
    ])('refuses %s with the reason and the usage (exit 2)', async (_case, args, reason) => {
      const refused = await sendEvent(box, ...args);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(reason);
      expect(refused.stderr).toMatch(/^usage: npm run event:payments-imported/m);
    });
  });

  it('stops everything on Ctrl-C, removes what it created, says so and exits 0', async () => {
    // npm, node, serverless offline and the esbuild services they run.
    expect(startedPids.some((proc) => proc.command.includes('serverless.js offline'))).toBe(true);
    expect(await s3rverFolders(box)).toHaveLength(1);
    expect(existsSync(path.join(ROOT, box.workFolder))).toBe(true);
    const pid = stack.child.pid ?? -1;

    process.kill(-pid, 'SIGINT');
    const { code, signal } = await stack.exited;

    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const lines = stack.stdout().trimEnd().split('\n');
    expect(lines).toContain('SIGINT: stopping the local stack…');
    expect(lines.at(-1)).toMatch(
      /^Local stack stopped: serverless offline, the Step Functions endpoint and both emulators are down/,
    );
    expect(stack.stderr()).not.toMatch(/error/i);
    expect(existsSync(box.stateFile)).toBe(false);
    expect(await s3rverFolders(box)).toEqual([]);
    expect(existsSync(path.join(ROOT, box.workFolder))).toBe(false);
    expect(await stillRunning(startedPids), 'processes npm start started that still run').toEqual([]);

    const after = await sendEvent(box, '--import-id', 'import-2');
    expect(after.code).toBe(1);
    expect(after.stderr.trim()).toBe(
      'no local stack is running: start one with `npm start` (in another terminal)',
    );
  }, 60_000);
});

describe('npm start, Ctrl-C before it is ready', () => {
  it('stops what it started so far, says so and exits 0', async () => {
    const box = await sandbox({ PORT: String(await freePort()), LAMBDA_PORT: String(await freePort()) });
    const stack = npmStart(box);
    try {
      // The emulators run (their S3 folder exists) and serverless offline is bundling.
      const pid = stack.child.pid ?? -1;
      const started = await until(
        'serverless offline to start',
        async () => {
          if (stack.child.exitCode !== null) throw new Error(`npm start exited:\n${stack.stderr()}`);
          const procs = await descendants(pid);
          const offline = procs.some((proc) => proc.command.includes('serverless.js offline'));
          return offline && (await s3rverFolders(box)).length === 1 ? procs : undefined;
        },
        90_000,
      );
      expect(stack.stdout()).not.toContain('Local stack ready');

      process.kill(-pid, 'SIGINT');
      expect(await stack.exited).toEqual({ code: 0, signal: null });
      expect(stack.stdout().trimEnd().split('\n').at(-1)).toBe(
        'Local stack stopped before it was ready; nothing is left running.',
      );
      expect(await s3rverFolders(box)).toEqual([]);
      expect(existsSync(box.stateFile)).toBe(false);
      expect(existsSync(path.join(ROOT, box.workFolder))).toBe(false);
      expect(await stillRunning(started), 'processes npm start started that still run').toEqual([]);
    } finally {
      if (stack.child.exitCode === null && stack.child.pid !== undefined) {
        process.kill(-stack.child.pid, 'SIGKILL');
      }
      await rm(path.join(ROOT, box.workFolder), { recursive: true, force: true });
      await rm(box.dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('npm start on a port that is taken', () => {
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => taken.close(resolve));
  });

  it.each(['PORT', 'LAMBDA_PORT'])(
    'says so in one line naming %s and how to choose another, and exits 1',
    async (name) => {
      const box = await sandbox({ [name]: String(port) });
      try {
        const started = Date.now();
        const result = await run('npm', ['start'], box.env, 60_000);
        expect(result.code).toBe(1);
        expect(result.stderr.trim().split('\n')).toEqual([
          `npm start: the local stack did not start: port ${port} is already in use on 127.0.0.1 (${name}=${port}): set ${name} to another port, or leave it unset for a free one`,
        ]);
        expect(`${result.stdout}${result.stderr}`).not.toMatch(/goroutine|EADDRINUSE|\n\s+at /);
        // Checked before anything started: quick, and nothing to clean up.
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(existsSync(box.stateFile)).toBe(false);
        expect(await s3rverFolders(box)).toEqual([]);
      } finally {
        await rm(box.dir, { recursive: true, force: true });
      }
    },
    70_000,
  );
});

describe('npm run event:payments-imported without a running stack', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await sandbox();
  });
  afterAll(async () => {
    await rm(box.dir, { recursive: true, force: true });
  });

  it('says no local stack is running when none was started', async () => {
    const result = await sendEvent(box, '--import-id', 'import-1');
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'no local stack is running: start one with `npm start` (in another terminal)',
    );
  });

  it('says so, and removes the file, when stack.json is left by a process that has exited', async () => {
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    const state: StackState = {
      baseUrl: 'http://127.0.0.1:1',
      lambdaEndpoint: 'http://127.0.0.1:1',
      dynamodbEndpoint: 'http://127.0.0.1:1',
      s3Endpoint: 'http://127.0.0.1:1',
      stepFunctionsEndpoint: 'http://127.0.0.1:1',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:zhkh-billing-local-matchingRun',
      workerFunctionName: 'zhkh-billing-local-matchingWorker',
      paymentsImportedWorkerFunctionName: 'zhkh-billing-local-paymentsImportedWorker',
      pid: gone.pid ?? -1,
    };
    await writeFile(box.stateFile, JSON.stringify(state));
    const result = await sendEvent(box, '--import-id', 'import-1');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^no local stack is running: .*stack\\.json was left by process ${gone.pid}, which has exited`,
      ),
    );
    expect(result.stderr).not.toContain('ECONNREFUSED');
    expect(existsSync(box.stateFile)).toBe(false);
  });

  it('says no stack answers when --lambda-endpoint points where nothing listens', async () => {
    const result = await sendEvent(box, '--lambda-endpoint', `http://127.0.0.1:${await freePort()}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^no local stack answers at http:\/\/127\.0\.0\.1:\d+: start one with `npm start`/,
    );
  });
});
