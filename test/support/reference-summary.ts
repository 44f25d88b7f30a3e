import type { Document } from 'mongodb';
import type { AccountActions, ActionSummary } from '../../lib/summary/index.js';

/**
 * A plain TypeScript statement of SPEC §2, written without any MongoDB machinery, for property
 * tests to compare the pipeline against. Strings are ordered by Unicode code point, as MongoDB's
 * binary string comparison (UTF-8 bytes) orders them.
 */

const CANONICAL = ['create', 'read', 'update', 'delete'];

/** Summaries of every account whose `number` is a string, ascending by `number`. */
export function referenceSummaries(accounts: readonly Document[]): AccountActions[] {
  return accounts
    .filter((account): account is Document & { number: string } => typeof account.number === 'string')
    .map(referenceSummary)
    .sort((a, b) => compareCodePoints(a.number, b.number));
}

/** The page after `after` (exclusive) of at most `limit` summaries. */
export function referencePage(
  accounts: readonly Document[],
  page: { after?: string; limit: number },
): AccountActions[] {
  const { after } = page;
  return referenceSummaries(accounts)
    .filter((summary) => after === undefined || compareCodePoints(summary.number, after) > 0)
    .slice(0, page.limit);
}

export function referenceSummary(account: Document & { number: string }): AccountActions {
  const byType = new Map<string, ActionSummary>(
    CANONICAL.map((type) => [type, { type, last: null, count: 0 }]),
  );
  for (const action of countableActions(account.sessions)) {
    const summary = byType.get(action.type) ?? { type: action.type, last: null, count: 0 };
    summary.count += 1;
    const createdAt: unknown = action.created_at;
    if (createdAt instanceof Date && (summary.last === null || createdAt > summary.last)) {
      summary.last = createdAt;
    }
    byType.set(action.type, summary);
  }
  const extras = [...byType.values()]
    .filter((summary) => !CANONICAL.includes(summary.type))
    .sort((a, b) => compareCodePoints(a.type, b.type));
  const canonical = CANONICAL.map((type) => byType.get(type) ?? { type, last: null, count: 0 });
  return { number: account.number, actions: [...canonical, ...extras] };
}

function* countableActions(sessions: unknown): Iterable<Document & { type: string }> {
  if (!Array.isArray(sessions)) return;
  for (const session of sessions) {
    if (!isPlainObject(session) || !Array.isArray(session.actions)) continue;
    for (const action of session.actions) {
      if (isPlainObject(action) && typeof action.type === 'string') {
        yield { ...action, type: action.type };
      }
    }
  }
}

/** A BSON embedded document: a plain object, not null, an array, a Date or another class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function compareCodePoints(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}
