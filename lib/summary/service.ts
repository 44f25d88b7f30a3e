import type { Document } from 'mongodb';
import { Account } from '../account.js';
import type { DocumentStore } from '../store/document-store.js';
import {
  type AccountActions,
  type ActionSummary,
  type ActionsPage,
  accountActionsPipeline,
  actionsPagePipeline,
} from './pipeline.js';

/**
 * The actions summary of account `number`, or `undefined` when there is no such account.
 *
 * @throws ValidationError('number', reason) for a malformed number.
 */
export async function getAccountActions(
  store: DocumentStore,
  number: string,
): Promise<AccountActions | undefined> {
  const pipeline = accountActionsPipeline(number);
  for await (const document of store.aggregate(Account.COLLECTION, pipeline)) {
    // Leaving the loop closes the cursor; the unique index means there is no second document.
    return toAccountActions(document);
  }
  return undefined;
}

/**
 * One page of summaries ordered by `number`. `after` in the result is the cursor for the next page:
 * the last number when the page is full, otherwise `null` (there is nothing more).
 *
 * @throws ValidationError('after' | 'limit', reason)
 */
export async function listAccountActions(
  store: DocumentStore,
  page: ActionsPage,
): Promise<{ items: AccountActions[]; after: string | null }> {
  const pipeline = actionsPagePipeline(page);
  const items: AccountActions[] = [];
  for await (const document of store.aggregate(Account.COLLECTION, pipeline)) {
    items.push(toAccountActions(document));
  }
  const last = items.at(-1);
  return { items, after: last !== undefined && items.length === page.limit ? last.number : null };
}

/** Narrows a pipeline output document to its TypeScript shape (the pipeline guarantees it). */
function toAccountActions(document: Document): AccountActions {
  const actions: unknown = document.actions;
  return {
    number: String(document.number),
    actions: Array.isArray(actions) ? actions.map(toActionSummary) : [],
  };
}

function toActionSummary(summary: Document): ActionSummary {
  const last: unknown = summary.last;
  return {
    type: String(summary.type),
    last: last instanceof Date ? last : null,
    count: Number(summary.count),
  };
}
