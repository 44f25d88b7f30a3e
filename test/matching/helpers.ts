import type { MatchOutcome } from '../../lib/matching/index.js';

/** Midnight UTC of a day of January 2024, as ISO text: the worked example's "day d". */
export function jan(day: number): string {
  return `2024-01-${String(day).padStart(2, '0')}`;
}

/** A stable text key for an output id: `17`, `"abc"`, `oid:…`. */
export function idKey(id: unknown): string {
  if (typeof id === 'object' && id !== null && typeof (id as { $oid?: unknown }).$oid === 'string') {
    return `oid:${(id as { $oid: string }).$oid}`;
  }
  return JSON.stringify(id);
}

/** `P3→A1 oldest`-style lines for matches, plus ids of unmatched payments and unpaid accruals. */
export function summarise(outcome: MatchOutcome): {
  matches: string[];
  unmatchedPayments: unknown[];
  unpaidAccruals: unknown[];
} {
  return {
    matches: [...outcome.matches()].map((m) => `P${String(m.payment.id)}→A${String(m.accrual.id)} ${m.rule}`),
    unmatchedPayments: [...outcome.unmatchedPayments()].map((r) => r.id),
    unpaidAccruals: [...outcome.unpaidAccruals()].map((r) => r.id),
  };
}

/** Rejection reasons by source, in output order. */
export function reasons(outcome: MatchOutcome): string[] {
  return [...outcome.rejected()].map((r) => `${r.source}: ${r.reason}`);
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF line ends) to rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else {
      cell += c;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** An async iterable over `items`, yielding to the event loop between records like a cursor. */
export async function* slowly<T>(items: readonly T[]): AsyncIterable<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

/** A one-shot sync iterable (not an array), like a generator. */
export function* once<T>(items: readonly T[]): Iterable<T> {
  yield* items;
}

/** Deterministic Fisher–Yates shuffle driven by `seed` (mulberry32). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = t;
  }
  return copy;
}
