import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EJSON, ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { ValidationError } from '../lib/errors.js';

/** Sizes and seed of a demo data set. */
export interface DemoDataOptions {
  readonly accounts?: number;
  readonly accruals?: number;
  readonly payments?: number;
  readonly seed?: number;
  /** Add a few deliberately broken accruals and payments, so runs show `rejected` (default true). */
  readonly badRecords?: boolean;
}

/** A demo data set, by collection name. */
export interface DemoData {
  readonly Account: Document[];
  readonly accrual: Document[];
  readonly payment: Document[];
}

/** Defaults: a few thousand of each, enough to see matching and paging at work in seconds. */
export const DEMO_DEFAULTS = { accounts: 2000, accruals: 6000, payments: 5600, seed: 1 } as const;

/** First account number minus one: numbers are `7800000000001`, `7800000000002`, … (13 digits). */
const ACCOUNT_NUMBER_BASE = 7_800_000_000_000;
const MAX_ACCOUNTS = 99_999_999_999;
/** Billing starts in January 2024; accruals of month M are issued on the 1st–5th of M+1. */
const FIRST_YEAR = 2024;
const DAY_MS = 86_400_000;
const YEAR_START = Date.UTC(FIRST_YEAR, 0, 1);

const WEIGHTED_ACTION_TYPES = [
  'read',
  'read',
  'read',
  'read',
  'create',
  'update',
  'update',
  'delete',
] as const;
const RARE_ACTION_TYPES = ['export', 'login'] as const;
const PAYMENT_CHANNELS = ['bank', 'terminal', 'online', 'post'] as const;

/** mulberry32: tiny, fast, good enough for test data, and identical on every platform. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += this.int(0, 15).toString(16);
    return out;
  }
  /** An ObjectId whose timestamp part is `at`, the rest random: realistic and reproducible. */
  objectId(at: number): ObjectId {
    const seconds = Math.floor(at / 1000)
      .toString(16)
      .padStart(8, '0');
    return new ObjectId(`${seconds}${this.hex(16)}`);
  }
}

function monthKey(monthIndex: number): string {
  const year = FIRST_YEAR + Math.floor(monthIndex / 12);
  return `${year}-${String((monthIndex % 12) + 1).padStart(2, '0')}`;
}

function amount(random: Random, min: number, max: number): number {
  return Math.round((min + random.next() * (max - min)) * 100) / 100;
}

function count(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw new ValidationError(name, 'must be a non-negative integer');
  }
  return resolved;
}

function demoAccount(random: Random, index: number): Document {
  const number = String(ACCOUNT_NUMBER_BASE + index);
  const account: Document = {
    _id: random.objectId(YEAR_START + index * 1000),
    number,
    name: `Пользователь №${index}`,
  };
  const shape = random.next();
  // A few accounts never logged in: no `sessions` at all, or an empty list (SPEC §2 edge cases).
  if (shape < 0.03) return account;
  if (shape < 0.06) return { ...account, sessions: [] };
  const sessions: Document[] = [];
  const sessionCount = random.int(1, 4);
  for (let s = 0; s < sessionCount; s++) {
    const startedAt = YEAR_START + random.int(0, 364) * DAY_MS + random.int(0, DAY_MS - 1);
    const session: Document = { created_at: new Date(startedAt), session_id: random.hex(32) };
    const actionCount = random.int(0, 6);
    if (actionCount === 0 && random.chance(0.5)) {
      sessions.push(session);
      continue;
    }
    const actions: Document[] = [];
    let at = startedAt;
    for (let a = 0; a < actionCount; a++) {
      at += random.int(1, 300) * 1000;
      const type = random.chance(0.02) ? random.pick(RARE_ACTION_TYPES) : random.pick(WEIGHTED_ACTION_TYPES);
      // Rarely an action was logged without its time: counted, but it cannot be `last`.
      actions.push(random.chance(0.01) ? { type } : { type, created_at: new Date(at) });
    }
    sessions.push({ ...session, actions });
  }
  return { ...account, sessions };
}

function demoAccrual(random: Random, index: number, accountCount: number): Document {
  const monthIndex = Math.floor(index / accountCount);
  const issuedAt = Date.UTC(
    FIRST_YEAR + Math.floor((monthIndex + 1) / 12),
    (monthIndex + 1) % 12,
    random.int(1, 5),
    random.int(6, 20),
    random.int(0, 59),
  );
  return {
    _id: random.objectId(issuedAt),
    id: index + 1,
    account: String(ACCOUNT_NUMBER_BASE + (index % accountCount) + 1),
    month: monthKey(monthIndex),
    date: new Date(issuedAt),
    amount: amount(random, 800, 6500),
  };
}

function paymentId(random: Random, index: number, at: number): string | ObjectId {
  // Bank imports carry ObjectIds, cash desks carry strings: both kinds meet in one sort.
  return random.chance(0.1) ? random.objectId(at) : `PAY-${String(index + 1).padStart(7, '0')}`;
}

function demoPayment(
  random: Random,
  index: number,
  accruals: readonly Document[],
  accountCount: number,
): Document {
  const kind = random.next();
  const accrual = accruals[index];
  let account: string;
  let month: string;
  let paidAt: number;
  let sum: number;
  if (accrual && kind < 0.88) {
    const issuedAt = (accrual.date as Date).getTime();
    account = accrual.account as string;
    sum = accrual.amount as number;
    if (kind < 0.68) {
      // On time: within three weeks, for the month on the receipt.
      paidAt = issuedAt + random.int(1, 20) * DAY_MS + random.int(0, DAY_MS - 1);
      month = accrual.month as string;
    } else if (kind < 0.8) {
      // Late: one to four months after the receipt.
      paidAt = issuedAt + random.int(35, 120) * DAY_MS;
      month = accrual.month as string;
    } else {
      // The payer typed another month: matched to the oldest debt instead.
      paidAt = issuedAt + random.int(1, 20) * DAY_MS;
      const [year, monthNumber] = (accrual.month as string).split('-').map(Number);
      month = monthKey(((year ?? FIRST_YEAR) - FIRST_YEAR) * 12 + (monthNumber ?? 1) - 1 + random.int(1, 3));
    }
  } else {
    // An advance payment before the first receipt: there is no debt for it to pay.
    account = String(ACCOUNT_NUMBER_BASE + random.int(1, Math.max(accountCount, 1)));
    paidAt = YEAR_START + random.int(0, 25) * DAY_MS + random.int(0, DAY_MS - 1);
    month = monthKey(0);
    sum = amount(random, 500, 3000);
  }
  return {
    _id: random.objectId(paidAt),
    id: paymentId(random, index, paidAt),
    account,
    month,
    date: new Date(paidAt),
    amount: sum,
    channel: random.pick(PAYMENT_CHANNELS),
  };
}

/** Records that break SPEC §3 rules in the ways real imports do; each must come out `rejected`. */
function badRecords(random: Random, data: DemoData): void {
  const account = String(ACCOUNT_NUMBER_BASE + 1);
  const nextAccrualId = data.accrual.length + 1;
  const at = Date.UTC(FIRST_YEAR, 2, 3, 12);
  data.accrual.push(
    {
      _id: random.objectId(at),
      id: nextAccrualId,
      account,
      month: '2024-13',
      date: new Date(at),
      amount: 1000,
    },
    { _id: random.objectId(at), id: nextAccrualId + 1, account, month: '2024-02', amount: 1000 },
  );
  const nextPayment = data.payment.length;
  data.payment.push(
    {
      _id: random.objectId(at),
      id: `PAY-${nextPayment + 1}-X`,
      account,
      month: 'июнь',
      date: new Date(at),
      amount: 1,
    },
    {
      _id: random.objectId(at),
      id: `PAY-${nextPayment + 2}-X`,
      account,
      month: '2024-02',
      date: 'вчера',
      amount: 1,
    },
    {
      _id: random.objectId(at),
      id: `PAY-${nextPayment + 3}-X`,
      month: '2024-02',
      date: new Date(at),
      amount: 1,
    },
  );
}

/**
 * Generates a deterministic, realistic ЖКХ data set: the same options always give the same
 * documents (seeded PRNG, fixed dates, no clock).
 *
 * - `Account`: numbers `7800000000001`…, names `Пользователь №N`, sessions with create / read /
 *   update / delete actions (rarely another type, rarely no time), some accounts without sessions.
 * - `accrual`: monthly per personal account from 2024-01 (`account` = account number,
 *   `month: 'YYYY-MM'`, `date` on the 1st–5th of the next month, `amount`), numeric ids.
 * - `payment`: mostly on time for the receipt's month, some late, some for another month, some
 *   advance payments with no debt; string ids, about 10% ObjectIds.
 * - Unless `badRecords: false`: 2 broken accruals (bad month, no date) and 3 broken payments
 *   (bad month, bad date, no `account`).
 *
 * @example
 * ```ts
 * const { Account, accrual, payment } = generateDemoData({ accounts: 10, seed: 7 });
 * ```
 */
export function generateDemoData(opts: DemoDataOptions = {}): DemoData {
  const accounts = count('accounts', opts.accounts, DEMO_DEFAULTS.accounts);
  const accruals = count('accruals', opts.accruals, DEMO_DEFAULTS.accruals);
  const payments = count('payments', opts.payments, DEMO_DEFAULTS.payments);
  const seed = count('seed', opts.seed, DEMO_DEFAULTS.seed);
  if (accounts > MAX_ACCOUNTS)
    throw new ValidationError('accounts', `at most ${MAX_ACCOUNTS} (13-digit numbers)`);
  if (accounts === 0 && accruals > 0)
    throw new ValidationError('accounts', 'accruals need at least one account');
  // One generator per collection: changing the number of accounts does not reshuffle payments.
  const data: DemoData = { Account: [], accrual: [], payment: [] };
  const accountRandom = new Random(seed);
  for (let i = 1; i <= accounts; i++) data.Account.push(demoAccount(accountRandom, i));
  const accrualRandom = new Random(seed + 1);
  for (let i = 0; i < accruals; i++) data.accrual.push(demoAccrual(accrualRandom, i, accounts));
  const paymentRandom = new Random(seed + 2);
  for (let i = 0; i < payments; i++) data.payment.push(demoPayment(paymentRandom, i, data.accrual, accounts));
  if (opts.badRecords ?? true) badRecords(new Random(seed + 3), data);
  return data;
}

/** One file written by {@link writeDemoData}. */
export interface WrittenCollection {
  readonly collection: keyof DemoData;
  readonly path: string;
  readonly count: number;
}

/**
 * Writes {@link generateDemoData} output as `<dir>/<collection>.ndjson` (relaxed Extended JSON:
 * dates as `{"$date": "…Z"}`, ObjectIds as `{"$oid": …}`; what `mongoexport` writes and
 * `mongoimport` reads). Each file is written beside and renamed into place, so a reader never
 * sees half of one.
 */
export async function writeDemoData(dir: string, opts: DemoDataOptions = {}): Promise<WrittenCollection[]> {
  const data = generateDemoData(opts);
  await mkdir(dir, { recursive: true });
  const written: WrittenCollection[] = [];
  for (const collection of ['Account', 'accrual', 'payment'] as const) {
    const documents = data[collection];
    const path = join(dir, `${collection}.ndjson`);
    const text = documents.map((document) => EJSON.stringify(document, { relaxed: true })).join('\n');
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, documents.length > 0 ? `${text}\n` : '', 'utf8');
    await rename(temporary, path);
    written.push({ collection, path, count: documents.length });
  }
  return written;
}
