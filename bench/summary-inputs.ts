import { ACTION_TYPES } from '../lib/summary/index.js';
import { createRandom } from './inputs.js';

/** The account every actions-summary measurement reads (a well-formed 13-character number). */
export const SUMMARY_ACCOUNT_NUMBER = '7800000000001';

export const SUMMARY_SHAPE = {
  /** Actions per session in the rows that vary the number of sessions. */
  actionsPerSession: 10,
  /** The warm-up account: this many sessions (fewer when the measured account has fewer). */
  warmUpSessions: 100,
  warmUpRuns: 3,
  /** A first timed run longer than this is not repeated (keeps the suite short). */
  slowRunMs: 3000,
} as const;

/** One `{ type, last, count }` of a summary, `last` as an ISO string so results compare as JSON. */
export interface SummaryEntry {
  readonly type: string;
  readonly last: string | null;
  readonly count: number;
}

interface GeneratedAccount {
  readonly number: string;
  readonly name: string;
  readonly sessions: {
    session_id: string;
    created_at: Date;
    actions: { type: string; created_at: Date }[];
  }[];
}

/** The four canonical types and two extra ones, which the summary appends in ascending order. */
const TYPES: readonly string[] = [...ACTION_TYPES, 'login', 'export'];
const MINUTE_MS = 60_000;

/**
 * One `Account` document (SPEC §2) with `sessions` sessions of `actionsPerSession` actions, the same
 * for the same seed: sessions a few hours apart, actions minutes apart, every date a `Date`.
 */
export function generateAccount(sessions: number, actionsPerSession: number, seed: number): GeneratedAccount {
  const random = createRandom(seed);
  const int = (bound: number): number => Math.floor(random() * bound);
  let sessionStart = Date.UTC(2023, 0, 1);
  return {
    number: SUMMARY_ACCOUNT_NUMBER,
    name: 'Пользователь №1',
    sessions: Array.from({ length: sessions }, (_, s) => {
      sessionStart += (1 + int(24 * 60)) * MINUTE_MS;
      let at = sessionStart;
      const actions = Array.from({ length: actionsPerSession }, () => {
        at += (1 + int(10)) * MINUTE_MS;
        return { type: TYPES[int(TYPES.length)] as string, created_at: new Date(at) };
      });
      return { session_id: `s${s}`, created_at: new Date(sessionStart), actions };
    }),
  };
}

/** The summary computed in plain JavaScript (canonical types first, then the others ascending). */
export function expectedSummary(account: GeneratedAccount): SummaryEntry[] {
  const byType = new Map<string, { last: number; count: number }>();
  for (const action of account.sessions.flatMap((s) => s.actions)) {
    const seen = byType.get(action.type) ?? { last: Number.NEGATIVE_INFINITY, count: 0 };
    byType.set(action.type, {
      count: seen.count + 1,
      last: Math.max(seen.last, action.created_at.getTime()),
    });
  }
  const extra = [...byType.keys()]
    .filter((type) => !(ACTION_TYPES as readonly string[]).includes(type))
    .sort();
  return [...ACTION_TYPES, ...extra].map((type) => {
    const seen = byType.get(type);
    return seen === undefined
      ? { type, last: null, count: 0 }
      : { type, last: new Date(seen.last).toISOString(), count: seen.count };
  });
}
