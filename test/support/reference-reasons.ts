/**
 * A brute-force reference for the limitation period (SPEC §7) and the reasons (SPEC §6), written
 * straight from their definitions: plain objects, O(n·m) scans, JavaScript's own Date arithmetic
 * for the calendar. It shares no code with lib/matching.
 */

export interface ReasonRecord {
  readonly id: number;
  /** Epoch milliseconds. */
  readonly date: number;
  /** `YYYY-MM`. */
  readonly month: string;
}

export type ReasonPolicy = 'chronological' | 'month-first';

export interface ReasonOutcome {
  /** `P<payment id>→A<accrual id> <rule>`, in processing order. */
  readonly matches: string[];
  /** Payment id → reason, for every unmatched payment. */
  readonly unmatchedPayments: Map<number, string>;
  /** Accrual id → reason, for every unpaid accrual. */
  readonly unpaidAccruals: Map<number, string>;
}

/** `ms` moved back by `months` calendar months in UTC, the day clamped to the target month's length. */
export function referenceCutoff(ms: number, months: number): number {
  const d = new Date(ms);
  const target = new Date(0);
  target.setUTCFullYear(d.getUTCFullYear(), d.getUTCMonth() - months, 1);
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(target.getUTCFullYear(), target.getUTCMonth() + 1, 0);
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay.getUTCDate()));
  target.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return target.getTime();
}

function byDateThenId(a: ReasonRecord, b: ReasonRecord): number {
  return a.date - b.date || a.id - b.id;
}

/**
 * One partition's matching with an optional limitation period (`months`), then the reason of every
 * record left over, decided on the final state.
 */
export function referenceMatchWithReasons(
  accrualsIn: readonly ReasonRecord[],
  paymentsIn: readonly ReasonRecord[],
  policy: ReasonPolicy,
  months: number | undefined,
): ReasonOutcome {
  const accruals = [...accrualsIn].sort(byDateThenId);
  const payments = [...paymentsIn].sort(byDateThenId);
  const barred = (a: ReasonRecord, p: ReasonRecord): boolean =>
    months !== undefined && a.date < referenceCutoff(p.date, months);
  const paidBy = new Map<number, number>();
  const matchOf = new Map<number, number>();
  const matches: string[] = [];
  const take = (p: ReasonRecord, sameMonthOnly: boolean): boolean => {
    const open = accruals.filter((a) => !paidBy.has(a.id) && a.date < p.date);
    const same = open.find((a) => a.month === p.month);
    const chosen = same ?? (sameMonthOnly ? undefined : open.find((a) => !barred(a, p)));
    if (chosen === undefined) return false;
    paidBy.set(chosen.id, p.id);
    matchOf.set(p.id, chosen.id);
    matches.push(`P${p.id}→A${chosen.id} ${chosen === same ? 'same-month' : 'oldest'}`);
    return true;
  };
  if (policy === 'chronological') {
    for (const p of payments) take(p, false);
  } else {
    const pending = payments.filter((p) => !take(p, true));
    for (const p of pending) {
      const open = accruals.filter((a) => !paidBy.has(a.id) && a.date < p.date && !barred(a, p));
      const chosen = open[0];
      if (chosen === undefined) continue;
      paidBy.set(chosen.id, p.id);
      matchOf.set(p.id, chosen.id);
      matches.push(`P${p.id}→A${chosen.id} oldest`);
    }
  }
  const unmatchedPayments = new Map<number, string>();
  for (const p of payments) {
    if (matchOf.has(p.id)) continue;
    const earlier = accruals.filter((a) => a.date < p.date);
    if (earlier.length === 0) unmatchedPayments.set(p.id, 'no-earlier-accrual');
    else if (months !== undefined && earlier.every((a) => a.month !== p.month && barred(a, p)))
      unmatchedPayments.set(p.id, 'time-barred');
    else unmatchedPayments.set(p.id, 'earlier-accruals-paid');
  }
  const unpaidAccruals = new Map<number, string>();
  for (const a of accruals) {
    if (paidBy.has(a.id)) continue;
    const later = payments.filter((p) => p.date > a.date);
    if (later.length === 0) unpaidAccruals.set(a.id, 'no-later-payment');
    else if (months !== undefined && later.every((p) => p.month !== a.month && barred(a, p)))
      unpaidAccruals.set(a.id, 'time-barred');
    else unpaidAccruals.set(a.id, 'later-payments-used');
  }
  return { matches, unmatchedPayments, unpaidAccruals };
}
