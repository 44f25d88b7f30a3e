import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every measurement runs in a fresh Node process, so peak RSS, JIT state and heap size belong to
 * that measurement alone. A child reports one JSON value on a line starting with
 * {@link RESULT_MARKER}; everything else it prints is ignored.
 */
export const RESULT_MARKER = '@@bench-result ';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Prints the child's result for the parent; call once. */
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

interface Started<T> {
  /** The first value the child reports; rejects if it exits first. */
  readonly result: Promise<T>;
  /** Resolves when the child has exited, with its exit code (null when killed). */
  readonly exited: Promise<number | null>;
  readonly stdin: NodeJS.WritableStream | null;
  kill(): void;
}

function start<T>(script: readonly string[], options: ChildOptions): Started<T> {
  const args = [
    ...(options.nodeFlags ?? []),
    ...(options.typescript === false ? [] : ['--import', 'tsx']),
    ...script,
  ];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
  });
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const result = new Promise<T>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const at = stdout.indexOf(RESULT_MARKER);
      const end = at === -1 ? -1 : stdout.indexOf('\n', at);
      if (at === -1) stdout = stdout.slice(-RESULT_MARKER.length);
      else if (end !== -1) {
        try {
          resolve(JSON.parse(stdout.slice(at + RESULT_MARKER.length, end)) as T);
        } catch (error) {
          reject(error);
        }
      }
    });
    exited.then(
      (code) =>
        reject(new Error(`${script.join(' ')} ended (exit code ${code}) without a result\n${stderr}`)),
      reject,
    );
  });
  // Settled by whichever comes first; the other outcome is expected and ignored.
  result.catch(() => undefined);
  return { result, exited, stdin: child.stdin, kill: () => child.kill('SIGKILL') };
}

/**
 * Runs `script` (a path, then its arguments) to completion in a fresh Node process and returns
 * the value it reported with {@link emitResult}. Rejects on a non-zero exit or a missing result.
 */
export async function runChild<T>(script: readonly string[], options: ChildOptions = {}): Promise<T> {
  const child = start<T>(script, options);
  child.stdin?.end();
  const [result, code] = await Promise.all([child.result, child.exited]);
  if (code !== 0) throw new Error(`${script.join(' ')} ended with exit code ${code}`);
  return result;
}

/** A long-running child (the emulators) and the value it reported once ready. */
export interface ServiceChild<T> {
  readonly ready: T;
  /** Closes its stdin (its signal to shut down), then kills it by pid if it lingers. */
  stop(): Promise<void>;
}

/** Starts `script` and resolves once it has reported its result; the child keeps running. */
export async function startServiceChild<T>(
  script: readonly string[],
  options: ChildOptions = {},
): Promise<ServiceChild<T>> {
  const child = start<T>(script, options);
  const ready = await child.result;
  return {
    ready,
    stop: async () => {
      child.stdin?.end();
      const timer = setTimeout(child.kill, 10_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}
