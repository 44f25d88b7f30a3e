import { parseArgs } from 'node:util';
import { Account } from '../account.js';
import { readDocumentsFile } from '../store/documents-file.js';
import { EmbeddedDocumentStore } from '../store/embedded-store.js';
import { type AccountActions, getAccountActions, listAccountActions } from '../summary/index.js';
import { readingInputs } from './input-files.js';
import { printChunks } from './stdout.js';
import { CommandError, EXIT, SUMMARY_USAGE } from './usage.js';

const PAGE = 1000;

/** `summary`: the accounts export in the embedded store, the same pipelines as the HTTP API. */
export async function runSummary(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      accounts: { type: 'string' },
      number: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${SUMMARY_USAGE}\n`);
    return;
  }
  if (!values.accounts) throw new CommandError('missing --accounts (try summary --help)');
  const path = values.accounts;
  const documents = await readingInputs(() => readDocumentsFile(path));
  const store = new EmbeddedDocumentStore({ collections: { [Account.COLLECTION]: documents } });
  const summaries: AccountActions[] = [];
  if (values.number !== undefined) {
    const one = await getAccountActions(store, values.number);
    // As `GET /accounts/{number}/actions` answers 404.
    if (one === undefined)
      throw new CommandError(`no account ${values.number} in ${values.accounts}`, EXIT.notFound);
    summaries.push(one);
  } else {
    let after: string | undefined;
    for (;;) {
      const page = await listAccountActions(
        store,
        after === undefined ? { limit: PAGE } : { after, limit: PAGE },
      );
      summaries.push(...page.items);
      if (page.after === null) break;
      after = page.after;
    }
  }
  await printChunks([JSON.stringify(summaries, null, 2)]);
}
