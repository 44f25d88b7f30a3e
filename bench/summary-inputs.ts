import { ACTION_TYPES } from '../lib/summary/index.js';
import { createRandom } from './random.js';
import type { SummaryEntry } from './summary-types.js';

/** The account every actions-summary measurement reads (a well-formed 13-character number). */
export const SUMMARY_ACCOUNT_NUMBER = '7800000000001';

/** The shape of the actions-summary measurement, shared by the child and the report. */
export const SUMMARY_SHAPE = {
  /** Actions per session in the rows that vary the number of sessions. */
  actionsPerSession: 10,
  /** The warm-up account: this many sessions (fewer when the measured account has fewer). */
  warmUpSessions: 100,
  warmUpRuns: 3,
  /** A first timed run longer than this is not repeated (keeps the suite short). */
  slowRunMs: 3000,
} as const;

/** The four canonical types and two extra ones, which the summary appends in ascending order. */
export const GENERATED_ACTION_TYPES: readonly string[] = [...ACTION_TYPES, 'login', 'export'];

export interface GeneratedAction {
  readonly type: string;
  readonly created_at: Date;
}

export interface GeneratedSession {
  readonly session_id: string;
  readonly created_at: Date;
  readonly actions: GeneratedAction[];
}

/** One document of collection `Account` (SPEC §2). */
export interface GeneratedAccount {
  readonly number: string;
  readonly name: string;
  readonly sessions: GeneratedSession[];
}

const FIRST_SESSION = Date.UTC(2023, 0, 1);
const MINUTE_MS = 60_000;

/**
 * One account with `sessions` sessions of `actionsPerSession` actions each, the same for the same
 * seed: types drawn from {@link GENERATED_ACTION_TYPES}, sessions a few hours apart, actions a few
 * minutes apart inside their session, every date a `Date`.
 *
 * @example
 * const account = generateAccount(1000, 10, 1); // 10,000 actions
 */
export function generateAccount(sessions: number, actionsPerSession: number, seed: number): GeneratedAccount {
  const random = createRandom(seed);
  const generated: GeneratedSession[] = [];
  let sessionStart = FIRST_SESSION;
  for (let s = 0; s < sessions; s++) {
    sessionStart += (1 + random.int(24 * 60)) * MINUTE_MS;
    const actions: GeneratedAction[] = [];
    let at = sessionStart;
    for (let a = 0; a < actionsPerSession; a++) {
      at += (1 + random.int(10)) * MINUTE_MS;
      const type = GENERATED_ACTION_TYPES[random.int(GENERATED_ACTION_TYPES.length)] as string;
      actions.push({ type, created_at: new Date(at) });
    }
    generated.push({ session_id: `s${s}`, created_at: new Date(sessionStart), actions });
  }
  return { number: SUMMARY_ACCOUNT_NUMBER, name: 'Пользователь №1', sessions: generated };
}

/**
 * The summary of a generated account computed in plain JavaScript (SPEC §2: the four canonical
 * types first, then the others ascending), a check on what the pipelines return.
 */
export function expectedSummary(account: GeneratedAccount): SummaryEntry[] {
  const byType = new Map<string, { last: number; count: number }>();
  for (const session of account.sessions) {
    for (const action of session.actions) {
      const seen = byType.get(action.type) ?? { last: Number.NEGATIVE_INFINITY, count: 0 };
      seen.count++;
      seen.last = Math.max(seen.last, action.created_at.getTime());
      byType.set(action.type, seen);
    }
  }
  const canonical: readonly string[] = ACTION_TYPES;
  const extra = [...byType.keys()].filter((type) => !canonical.includes(type)).sort();
  return [...canonical, ...extra].map((type) => {
    const seen = byType.get(type);
    return seen === undefined
      ? { type, last: null, count: 0 }
      : { type, last: new Date(seen.last).toISOString(), count: seen.count };
  });
}

/** A summary as {@link SummaryEntry} values (ISO dates), from `getAccountActions` or a raw document. */
export function toSummaryEntries(actions: unknown): SummaryEntry[] {
  if (!Array.isArray(actions)) throw new Error(`the summary has no actions array: ${String(actions)}`);
  return actions.map((entry: unknown): SummaryEntry => {
    if (typeof entry !== 'object' || entry === null) throw new Error('a summary entry is not a document');
    const { type, last, count } = entry as { type?: unknown; last?: unknown; count?: unknown };
    if (typeof type !== 'string' || typeof count !== 'number') {
      throw new Error(`malformed summary entry ${JSON.stringify(entry)}`);
    }
    return { type, last: last instanceof Date ? last.toISOString() : null, count };
  });
}
