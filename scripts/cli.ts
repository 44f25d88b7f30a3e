/**
 * Command line for operators and auditors working on exported data (mongoexport NDJSON or JSON
 * arrays). Runs the same pipeline objects and matcher as the Lambda functions, in-process.
 *
 *   npm run --silent match -- --accruals FILE --payments FILE [--policy P] [--partition-by FIELD]
 *   npm run --silent summary -- --accounts FILE [--number N]
 *
 * Output is JSON on stdout. Usage errors and unreadable files: one line on stderr, exit code 2.
 * Rejected records are part of the result, they do not fail the command: for `match` that
 * includes file elements that are not objects (`42`, `[1, 2]`), which the matcher rejects as
 * "not an object". A reader that stops early (`| head`) ends the command quietly, exit code 0.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { Document } from 'mongodb';
import { Account } from '../lib/account.js';
import { AppError } from '../lib/errors.js';
import { matchPayments, resultJsonChunks } from '../lib/matching/index.js';
import { DEFAULT_POLICY, POLICIES, type Policy } from '../lib/matching/types.js';
import { UNPARTITIONABLE_FIELDS } from '../lib/runs/request.js';
import { EmbeddedDocumentStore, readDocumentsFile } from '../lib/store/index.js';
import { type AccountActions, getAccountActions, listAccountActions } from '../lib/summary/index.js';

/** A problem with how the command was called: reported on one line, exit code 2. */
class UsageError extends Error {}

const USAGE = [
  'usage: cli match --accruals FILE --payments FILE [--policy chronological|month-first] [--partition-by FIELD]',
  '       cli summary --accounts FILE [--number N]',
].join('\n');

async function writeChunks(chunks: Iterable<string>): Promise<void> {
  for (const chunk of chunks) {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  process.stdout.write('\n');
}

function requireOption(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`missing --${name}`);
  return value;
}

/** A file the command cannot read or parse is a usage problem (exit code 2), named by its path. */
async function asUsage<T>(path: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new UsageError(`cannot read ${path}: ${detail}`);
  }
}

/** Matching inputs: every element, documents or not; the matcher rejects what is not a record. */
function readRecords(path: string): Promise<unknown[]> {
  return asUsage(path, readDocumentsFile(path, { nonObjects: 'keep' }));
}

/** Accounts for the embedded store, which holds documents only. */
function readDocuments(path: string): Promise<Document[]> {
  return asUsage(path, readDocumentsFile(path));
}

async function runMatch(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      accruals: { type: 'string' },
      payments: { type: 'string' },
      policy: { type: 'string', default: DEFAULT_POLICY },
      'partition-by': { type: 'string' },
    },
    strict: true,
  });
  const policy = values.policy as Policy;
  if (!POLICIES.includes(policy)) {
    throw new UsageError(`unknown --policy "${values.policy}" (expected ${POLICIES.join(' or ')})`);
  }
  const partitionBy = values['partition-by'];
  if (
    partitionBy !== undefined &&
    (!/^[A-Za-z_][A-Za-z0-9_.]{0,63}$/.test(partitionBy) || UNPARTITIONABLE_FIELDS.includes(partitionBy))
  ) {
    throw new UsageError(`invalid --partition-by "${partitionBy}"`);
  }
  const accrualsPath = requireOption(values.accruals, 'accruals');
  const paymentsPath = requireOption(values.payments, 'payments');
  const [accruals, payments] = await Promise.all([readRecords(accrualsPath), readRecords(paymentsPath)]);
  const outcome = await matchPayments(accruals, payments, partitionBy ? { policy, partitionBy } : { policy });
  await writeChunks(
    resultJsonChunks(outcome, { runId: `cli-${randomUUID()}`, generatedAt: new Date().toISOString() }),
  );
}

async function runSummary(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { accounts: { type: 'string' }, number: { type: 'string' } },
    strict: true,
  });
  const documents = await readDocuments(requireOption(values.accounts, 'accounts'));
  const store = new EmbeddedDocumentStore({ collections: { [Account.COLLECTION]: documents } });
  const summaries: AccountActions[] = [];
  if (values.number !== undefined) {
    const one = await getAccountActions(store, values.number);
    if (one) summaries.push(one);
  } else {
    let after: string | undefined;
    for (;;) {
      const page = await listAccountActions(
        store,
        after === undefined ? { limit: 1000 } : { after, limit: 1000 },
      );
      summaries.push(...page.items);
      if (page.after === null) break;
      after = page.after;
    }
  }
  await writeChunks([JSON.stringify(summaries, null, 2)]);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'match') return runMatch(rest);
  if (command === 'summary') return runSummary(rest);
  throw new UsageError(
    command ? `unknown command "${command}" (try --help)` : 'missing command (try --help)',
  );
}

function isBrokenPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE';
}

// `cli match … | head` closes the pipe before the output ends: stop there, quietly, like other
// Unix tools, instead of an unhandled 'error' event and a stack trace.
process.stdout.on('error', (error) => {
  if (!isBrokenPipe(error)) throw error;
  process.exit(0);
});

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isBrokenPipe(error)) return;
  const message = error instanceof Error ? error.message : String(error);
  // Usage mistakes, unreadable files and invalid arguments (e.g. a malformed --number) exit 2.
  const isUsage = error instanceof UsageError || error instanceof AppError || isParseArgsError(error);
  process.stderr.write(`error: ${message.split('\n')[0]}\n`);
  process.exitCode = isUsage ? 2 : 1;
});

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
