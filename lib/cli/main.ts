/**
 * The command line for operators and auditors working on exported data (mongoexport NDJSON or
 * JSON arrays, Extended JSON): `zhkh-billing match …` and `zhkh-billing summary …`, built into
 * one file (dist/cli.mjs, scripts/build-cli.ts) that Node runs without a TypeScript step. It runs
 * the same matcher, output writers and pipelines as the Lambda functions, in-process, with no AWS.
 *
 * Output is JSON on stdout (or files, `match --out DIR`). Errors are one line on stderr with an
 * exit code from {@link EXIT}. Rejected records are part of the result, they do not fail the
 * command. A reader that stops early (`| head`) ends the command quietly, exit code 0.
 */
import { ValidationError } from '../errors.js';
import { rerunWithLargerHeap } from './heap.js';
import { CommandError, EXIT, USAGE } from './usage.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'match' || command === 'summary') {
    const code = await rerunWithLargerHeap(argv);
    if (code !== undefined) {
      process.exitCode = code;
      return;
    }
  }
  // Each command is loaded when called: `--help` and a typo do not pay for the matcher or mingo.
  if (command === 'match') return (await import('./match-command.js')).runMatch(rest);
  if (command === 'summary') return (await import('./summary-command.js')).runSummary(rest);
  throw new CommandError(
    command ? `unknown command "${command}" (try --help)` : 'missing command (try --help)',
  );
}

function isBrokenPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE';
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** The one line an error is reported with, and the exit code. */
function report(error: unknown): { line: string; code: number } {
  if (error instanceof CommandError) return { line: error.message, code: error.exitCode };
  // A malformed --number, and any other argument a domain rule refuses.
  if (error instanceof ValidationError) return { line: error.message, code: EXIT.usage };
  if (isParseArgsError(error)) {
    return { line: `${(error as Error).message} (try --help)`, code: EXIT.usage };
  }
  return { line: error instanceof Error ? error.message : String(error), code: EXIT.failure };
}

// `zhkh-billing match … | head` closes the pipe before the output ends: stop there, quietly, like
// other Unix tools, instead of an unhandled 'error' event and a stack trace.
process.stdout.on('error', (error) => {
  if (!isBrokenPipe(error)) throw error;
  process.exit(EXIT.ok);
});

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isBrokenPipe(error)) return;
  const { line, code } = report(error);
  process.stderr.write(`error: ${line.split('\n')[0]}\n`);
  process.exitCode = code;
});
