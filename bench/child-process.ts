import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every measurement runs in a fresh Node process, so peak RSS, JIT state and heap size belong to
 * that measurement alone. Children report one JSON value on a line starting with
 * {@link RESULT_MARKER}; everything else they print (logs) is passed through or ignored.
 */
export const RESULT_MARKER = '@@bench-result ';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Prints the child's result for the parent; call once, last. */
export function emitResult(value: unknown): void {
  process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify(value)}\n`);
}

export interface ChildOptions {
  /** Node flags before the script (`--expose-gc`, `--enable-source-maps`, ...). */
  readonly nodeFlags?: readonly string[];
  /** Load the TypeScript hook (`--import tsx`); off for plain JavaScript such as built bundles. */
  readonly typescript?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Kill the child (by its pid) after this long. */
  readonly timeoutMs?: number;
}

function nodeArgs(script: readonly string[], options: ChildOptions): string[] {
  return [
    ...(options.nodeFlags ?? []),
    ...(options.typescript === false ? [] : ['--import', 'tsx']),
    ...script,
  ];
}

function parseResult<T>(line: string): T | undefined {
  const at = line.indexOf(RESULT_MARKER);
  return at === -1 ? undefined : (JSON.parse(line.slice(at + RESULT_MARKER.length)) as T);
}

function spawnChild(script: readonly string[], options: ChildOptions): ChildProcess {
  return spawn(process.execPath, nodeArgs(script, options), {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Calls `onLine` for each complete stdout line. */
function onLines(child: ChildProcess, onLine: (line: string) => void): void {
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  child.stdout?.on('end', () => {
    if (pending !== '') onLine(pending);
  });
}

function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-8000);
  });
  return () => text.trim();
}

/**
 * Runs `script` (a path, then its arguments) to completion in a fresh Node process and returns
 * the value it reported with {@link emitResult}. Rejects on a non-zero exit or a missing result,
 * with the end of the child's stderr.
 */
export function runChild<T>(script: readonly string[], options: ChildOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(script, options);
    child.stdin?.end();
    let result: T | undefined;
    let found = false;
    onLines(child, (line) => {
      const parsed = parseResult<T>(line);
      if (parsed !== undefined) {
        result = parsed;
        found = true;
      }
    });
    const stderr = collectStderr(child);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs).unref();
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && found) resolve(result as T);
      else {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
        const why = found ? '' : ' without a result';
        reject(new Error(`${script.join(' ')} ended with ${how}${why}\n${stderr()}`));
      }
    });
  });
}

/** A long-running child (the emulators) and the value it reported once ready. */
export interface ServiceChild<T> {
  readonly ready: T;
  readonly pid: number | undefined;
  /** Closes its stdin (its signal to shut down), then kills it by pid if it lingers. */
  stop(): Promise<void>;
}

/** Starts `script` and resolves once it has reported its result; the child keeps running. */
export function startServiceChild<T>(
  script: readonly string[],
  options: ChildOptions = {},
): Promise<ServiceChild<T>> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(script, options);
    const stderr = collectStderr(child);
    let exited = false;
    const closed = new Promise<void>((done) =>
      child.on('close', () => {
        exited = true;
        done();
      }),
    );
    const stop = async (): Promise<void> => {
      if (exited) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      await closed;
      clearTimeout(timer);
    };
    let started = false;
    onLines(child, (line) => {
      const parsed = parseResult<T>(line);
      if (parsed === undefined || started) return;
      started = true;
      resolve({ ready: parsed, pid: child.pid, stop });
    });
    child.on('error', reject);
    void closed.then(() => {
      if (!started) reject(new Error(`${script.join(' ')} exited before it was ready\n${stderr()}`));
    });
  });
}
