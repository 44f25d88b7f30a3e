/**
 * A deliberately naive matcher written straight from SPEC §3, to check the real one against:
 * plain objects, a comparator sort, and O(n·m) scans. It takes records whose fields are already
 * normalised (the caller knows what each generated record means) and shares no code with
 * lib/matching.
 */

/** An id in BSON sort order: kind 0 = number, 1 = string, 2 = ObjectId (value = lower-case hex). */
export interface RefId {
  readonly kind: 0 | 1 | 2;
  readonly value: number | string;
}

export interface RefRecord {
  /** Identifies the record in the outcome (e.g. its id rendered as a string). */
  readonly key: string;
  readonly id: RefId;
  /** Epoch milliseconds. */
  readonly date: number;
  /** Normalised month: bare integer 1–12 or `YYYY-MM`. */
  readonly month: number | string;
}

export type RefPolicy = 'chronological' | 'month-first';

export interface RefMatch {
  readonly payment: string;
  readonly accrual: string;
  readonly rule: 'same-month' | 'oldest';
}

export interface RefOutcome {
  readonly matches: RefMatch[];
  readonly unmatchedPayments: string[];
  readonly unpaidAccruals: string[];
}

function codePoints(s: string): number[] {
  return Array.from(s, (c) => c.codePointAt(0) as number);
}

/** MongoDB order of ids: numbers numerically, then strings by code point, then ObjectIds by bytes. */
export function compareRefIds(a: RefId, b: RefId): number {
  if (a.kind !== b.kind) return a.kind - b.kind;
  if (a.kind === 0) return (a.value as number) - (b.value as number);
  const x = a.kind === 1 ? codePoints(a.value as string) : hexBytes(a.value as string);
  const y = b.kind === 1 ? codePoints(b.value as string) : hexBytes(b.value as string);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  }
  return x.length - y.length;
}

function hexBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

export function sameRefId(a: RefId, b: RefId): boolean {
  return compareRefIds(a, b) === 0;
}

/** "Records are ordered by (date, id)". */
export function compareRefRecords(a: RefRecord, b: RefRecord): number {
  return a.date !== b.date ? a.date - b.date : compareRefIds(a.id, b.id);
}

/**
 * Drops every record whose id occurs more than once among `ids` (all ids read from the
 * collection, including those of records rejected for other reasons).
 */
export function withoutRepeatedIds(records: readonly RefRecord[], ids: readonly RefId[]): RefRecord[] {
  return records.filter((record) => ids.filter((id) => sameRefId(id, record.id)).length === 1);
}

/** Runs one policy on records that are all valid and have unique ids. */
export function referenceMatch(
  accruals: readonly RefRecord[],
  payments: readonly RefRecord[],
  policy: RefPolicy,
): RefOutcome {
  const sortedAccruals = [...accruals].sort(compareRefRecords);
  const sortedPayments = [...payments].sort(compareRefRecords);
  const paid = new Set<RefRecord>();
  const matchedPayments = new Set<RefRecord>();
  const matches: RefMatch[] = [];

  // "a payment can pay only an accrual with a strictly earlier date", oldest first.
  const oldestUnpaid = (payment: RefRecord, sameMonthOnly: boolean): RefRecord | undefined =>
    sortedAccruals.find(
      (accrual) =>
        !paid.has(accrual) &&
        accrual.date < payment.date &&
        (!sameMonthOnly || accrual.month === payment.month),
    );
  const pay = (payment: RefRecord, accrual: RefRecord, rule: RefMatch['rule']): void => {
    paid.add(accrual);
    matchedPayments.add(payment);
    matches.push({ payment: payment.key, accrual: accrual.key, rule });
  };

  if (policy === 'chronological') {
    for (const payment of sortedPayments) {
      const sameMonth = oldestUnpaid(payment, true);
      if (sameMonth !== undefined) {
        pay(payment, sameMonth, 'same-month');
        continue;
      }
      const oldest = oldestUnpaid(payment, false);
      if (oldest !== undefined) pay(payment, oldest, 'oldest');
    }
  } else {
    for (const payment of sortedPayments) {
      const sameMonth = oldestUnpaid(payment, true);
      if (sameMonth !== undefined) pay(payment, sameMonth, 'same-month');
    }
    for (const payment of sortedPayments) {
      if (matchedPayments.has(payment)) continue;
      const oldest = oldestUnpaid(payment, false);
      if (oldest !== undefined) pay(payment, oldest, 'oldest');
    }
  }
  return {
    matches,
    unmatchedPayments: sortedPayments.filter((p) => !matchedPayments.has(p)).map((p) => p.key),
    unpaidAccruals: sortedAccruals.filter((a) => !paid.has(a)).map((a) => a.key),
  };
}

/**
 * Size of a maximum matching between payments and accruals where a payment may take any accrual
 * with a strictly earlier date (with `sameMonth`, only one of its own month), by augmenting paths
 * (Kuhn's algorithm). For small inputs only.
 */
export function maximumMatchingSize(
  accruals: readonly RefRecord[],
  payments: readonly RefRecord[],
  options: { readonly sameMonth?: boolean } = {},
): number {
  const accrualOwner = new Array<number>(accruals.length).fill(-1);
  const canPay = (payment: RefRecord, accrual: RefRecord): boolean =>
    accrual.date < payment.date && (!options.sameMonth || accrual.month === payment.month);
  const tryAssign = (p: number, visited: boolean[]): boolean => {
    const payment = payments[p] as RefRecord;
    for (let a = 0; a < accruals.length; a++) {
      if (visited[a] || !canPay(payment, accruals[a] as RefRecord)) continue;
      visited[a] = true;
      const owner = accrualOwner[a] as number;
      if (owner === -1 || tryAssign(owner, visited)) {
        accrualOwner[a] = p;
        return true;
      }
    }
    return false;
  };
  let size = 0;
  for (let p = 0; p < payments.length; p++) {
    if (tryAssign(p, new Array<boolean>(accruals.length).fill(false))) size++;
  }
  return size;
}
