import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  DEFAULT_POLICY,
  limitationPeriodProblem,
  type MatchOptions,
  matchPayments,
  POLICIES,
  type Policy,
  resultJsonChunks,
} from '../matching/index.js';
import { outcomeOutputs } from '../runs/output-source.js';
import { UNPARTITIONABLE_FIELDS } from '../runs/request.js';
import { readDocuments, readDocumentsFile } from '../store/documents-file.js';
import { readingInputs } from './input-files.js';
import { writeOutputFiles } from './output-files.js';
import { printChunks } from './stdout.js';
import { CommandError, MATCH_USAGE } from './usage.js';

/** Dotted paths are allowed here (not in requests): exports of nested documents. */
const PARTITION_FIELD = /^[A-Za-z_][A-Za-z0-9_.]{0,63}$/;

function required(value: string | undefined, name: string): string {
  if (!value) throw new CommandError(`missing --${name} (try match --help)`);
  return value;
}

function matchOptions(values: {
  policy: string;
  'partition-by'?: string | undefined;
  'limitation-period'?: string | undefined;
}): MatchOptions {
  const policy = values.policy as Policy;
  if (!POLICIES.includes(policy)) {
    throw new CommandError(`unknown --policy "${values.policy}" (expected ${POLICIES.join(' or ')})`);
  }
  const partitionBy = values['partition-by'];
  if (
    partitionBy !== undefined &&
    (!PARTITION_FIELD.test(partitionBy) || UNPARTITIONABLE_FIELDS.includes(partitionBy))
  ) {
    throw new CommandError(`invalid --partition-by "${partitionBy}"`);
  }
  const limitationPeriod = values['limitation-period'];
  const problem = limitationPeriod === undefined ? undefined : limitationPeriodProblem(limitationPeriod);
  if (problem !== undefined)
    throw new CommandError(`invalid --limitation-period "${limitationPeriod}": ${problem}`);
  return {
    policy,
    ...(partitionBy === undefined ? {} : { partitionBy }),
    ...(limitationPeriod === undefined ? {} : { limitationPeriod }),
  };
}

/**
 * `match`: both exports are read as streams, never as whole strings. Without a partition field
 * the records go straight into the matcher, which orders them; with one, each file is read into
 * an array first, because a file may list partitions in any order and the matcher groups arrays
 * itself. Every element is passed on, documents or not: the matcher rejects what is not a record.
 */
export async function runMatch(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      accruals: { type: 'string' },
      payments: { type: 'string' },
      policy: { type: 'string', default: DEFAULT_POLICY },
      'partition-by': { type: 'string' },
      'limitation-period': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${MATCH_USAGE}\n`);
    return;
  }
  const options = matchOptions(values);
  const accrualsPath = required(values.accruals, 'accruals');
  const paymentsPath = required(values.payments, 'payments');
  const keep = { nonObjects: 'keep' } as const;
  const outcome = await readingInputs(async () =>
    options.partitionBy === undefined
      ? matchPayments(readDocuments(accrualsPath, keep), readDocuments(paymentsPath, keep), options)
      : matchPayments(
          ...(await Promise.all([
            readDocumentsFile(accrualsPath, keep),
            readDocumentsFile(paymentsPath, keep),
          ])),
          options,
        ),
  );
  const meta = { runId: `cli-${randomUUID()}`, generatedAt: new Date().toISOString() };
  if (values.out === undefined) {
    await printChunks(resultJsonChunks(outcome, meta));
    return;
  }
  const written = await writeOutputFiles(values.out, outcomeOutputs(outcome), meta);
  process.stdout.write(`${written.join('\n')}\n`);
}
