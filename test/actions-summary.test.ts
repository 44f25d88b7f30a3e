import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EJSON } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.js';
import { EmbeddedDocumentStore } from '../lib/store/index.js';
import {
  ACTION_TYPES,
  type AccountActions,
  accountActionsPipeline,
  actionsPagePipeline,
  getAccountActions,
  listAccountActions,
  MAX_ACTIONS_CURSOR_LENGTH,
} from '../lib/summary/index.js';
import {
  ALL_ACCOUNTS,
  ALL_ZERO,
  never,
  seedAccount,
  withActionsAcrossSessions,
  withEmptySessions,
  withNullSessions,
  withOnlyUntypedActions,
  withoutSessionsField,
  withSessionsWithoutActions,
  withTiedTimestamps,
  withUnknownTypes,
} from './fixtures/accounts.js';
import { FAR_FUTURE, FAR_PAST, OutOfRangeDate } from './store/contract.js';
import { referenceSummaries } from './support/reference-summary.js';
import { PipelineOnlyStore, runPipeline } from './support/run-pipeline.js';

const at = (iso: string): Date => new Date(iso);
const numbersOf = (documents: readonly Document[]): unknown[] => documents.map((document) => document.number);

/** Every `$`-prefixed key anywhere in a pipeline: stages, expression and query operators. */
function operatorsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) operatorsIn(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('$')) found.add(key);
      operatorsIn(item, found);
    }
  }
  return found;
}

/**
 * Operators that both MongoDB 5.0 and mingo 7 implement with the same semantics. `$sortArray`
 * (5.2+), `$getField` and friends are deliberately absent.
 */
const PORTABLE_OPERATORS = new Set([
  ...['$match', '$sort', '$limit', '$project'],
  ...['$and', '$concatArrays', '$cond', '$eq', '$filter', '$gt', '$gte', '$ifNull', '$isArray', '$let'],
  ...['$literal', '$lt', '$lte', '$map', '$max', '$not', '$reduce', '$setDifference', '$setUnion', '$size'],
  ...['$sum', '$type'],
]);

const stageNames = (pipeline: readonly Document[]): string[] =>
  pipeline.map((stage) => Object.keys(stage).join());

describe('pipeline structure', () => {
  const pipelines = {
    'one account': accountActionsPipeline('7800000000000'),
    'first page': actionsPagePipeline({ limit: 10 }),
    'next page': actionsPagePipeline({ after: '7800000000000', limit: 10 }),
  };

  it('matches one account by number first, so the unique index is used (never an array number)', () => {
    const pipeline = accountActionsPipeline('7800000000005');
    expect(pipeline[0]).toEqual({
      $match: { number: { $eq: '7800000000005', $not: { $type: 'array' } } },
    });
    expect(stageNames(pipeline)).toEqual(['$match', '$project']);
  });

  it('pages by number: match after the cursor, sort, limit, then summarise only the page', () => {
    const pipeline = actionsPagePipeline({ after: '7800000000005', limit: 25 });
    expect(pipeline.slice(0, 3)).toEqual([
      { $match: { number: { $gt: '7800000000005', $not: { $type: 'array' } } } },
      { $sort: { number: 1 } },
      { $limit: 25 },
    ]);
    expect(stageNames(pipeline)).toEqual(['$match', '$sort', '$limit', '$project']);
  });

  it('starts the first page at the lowest string number', () => {
    expect(actionsPagePipeline({ limit: 10 })[0]).toEqual({
      $match: { number: { $type: 'string', $not: { $type: 'array' } } },
    });
  });

  it.each(Object.entries(pipelines))(
    '%s: no $unwind or $group anywhere (per-document work)',
    (_name, pipeline) => {
      const operators = operatorsIn(pipeline);
      expect(operators.has('$unwind')).toBe(false);
      expect(operators.has('$group')).toBe(false);
    },
  );

  it.each(Object.entries(pipelines))(
    '%s: only operators shared by MongoDB 5.0 and mingo',
    (_name, pipeline) => {
      const unportable = [...operatorsIn(pipeline)].filter((operator) => !PORTABLE_OPERATORS.has(operator));
      expect(unportable).toEqual([]);
    },
  );

  it('builds a fresh pipeline each time, so a caller mutating one cannot affect the next', () => {
    const first = accountActionsPipeline('7800000000000');
    const summaryStage: unknown = first[1]?.$project;
    expect(summaryStage).toHaveProperty('actions');
    Object.assign(Object(summaryStage), { actions: 'overwritten' });
    expect(accountActionsPipeline('7800000000000')[1]?.$project?.actions).not.toBe('overwritten');
  });
});

describe('pipeline input validation', () => {
  it.each([
    ['a short number', 'short'],
    ['a query operator smuggled in as a number', { $ne: null } as unknown as string],
  ])('refuses %s for one account before any query is built', (_case, number) => {
    expect(() => accountActionsPipeline(number)).toThrow(ValidationError);
  });

  it('takes any string as the page cursor, compared as a plain string, but names `after` when it is too long', () => {
    for (const after of ['123', '', '$gt', '{"$ne":null}', 'a\tb']) {
      expect(actionsPagePipeline({ after, limit: 10 })[0]).toEqual({
        $match: { number: { $gt: after, $not: { $type: 'array' } } },
      });
    }
    expect(() =>
      actionsPagePipeline({ after: 'x'.repeat(MAX_ACTIONS_CURSOR_LENGTH + 1), limit: 10 }),
    ).toThrow(/^after: must be at most 1024 characters$/);
  });

  it.each([0, -1, 1001, 1.5, Number.NaN])('refuses a page limit of %s', (limit) => {
    expect(() => actionsPagePipeline({ limit })).toThrow(
      expect.objectContaining({ field: 'limit', reason: 'must be an integer from 1 to 1000' }),
    );
  });

  it.each([1, 1000])('accepts a page limit of %s', (limit) => {
    expect(actionsPagePipeline({ limit })[2]).toEqual({ $limit: limit });
  });
});

describe('summary of one account (pipeline run by mingo)', () => {
  const summarise = (account: Document): Document[] =>
    runPipeline(ALL_ACCOUNTS, accountActionsPipeline(String(account.number)));

  it('summarises the assignment example: last action and count per type, all four types in order', () => {
    expect(summarise(seedAccount)).toEqual([
      {
        number: '7800000000000',
        actions: [
          { type: 'create', last: at('2016-01-01T01:33:59Z'), count: 1 },
          { type: 'read', last: at('2016-01-01T01:21:13Z'), count: 2 },
          { type: 'update', last: null, count: 0 },
          { type: 'delete', last: null, count: 0 },
        ],
      },
    ]);
  });

  it('outputs only number and actions (no _id, no other account fields)', () => {
    const [summary] = summarise(seedAccount);
    expect(Object.keys(summary ?? {}).sort()).toEqual(['actions', 'number']);
  });

  it.each([
    ['has no sessions field', withoutSessionsField],
    ['has an empty sessions array', withEmptySessions],
    ['has sessions: null', withNullSessions],
    ['has sessions without actions (absent, empty, null, not an array)', withSessionsWithoutActions],
    ['has only actions whose type is not a string (or that are not documents)', withOnlyUntypedActions],
  ])('keeps an account that %s, with all four types at zero', (_case, account) => {
    expect(summarise(account)).toEqual([{ number: account.number, actions: ALL_ZERO }]);
  });

  it('counts actions across sessions; last is the latest dated one; undated ones count without a last', () => {
    expect(summarise(withActionsAcrossSessions)).toEqual([
      {
        number: withActionsAcrossSessions.number,
        actions: [
          never('create'),
          { type: 'read', last: at('2024-03-01T09:00:00Z'), count: 3 },
          { type: 'update', last: at('2024-03-09T08:30:00Z'), count: 3 },
          { type: 'delete', last: null, count: 2 },
        ],
      },
    ]);
  });

  it('appends other types after the four, in ascending binary order (uppercase before lowercase)', () => {
    expect(summarise(withUnknownTypes)).toEqual([
      {
        number: withUnknownTypes.number,
        actions: [
          never('create'),
          { type: 'read', last: at('2024-04-01T00:00:00Z'), count: 1 },
          never('update'),
          never('delete'),
          { type: 'Export', last: null, count: 1 },
          { type: 'archive', last: at('2024-04-03T00:00:00Z'), count: 1 },
          { type: 'export', last: at('2024-04-04T00:00:00Z'), count: 2 },
        ],
      },
    ]);
  });

  it('counts every action of tied timestamps and reports that instant as last', () => {
    const [summary] = summarise(withTiedTimestamps);
    expect(summary?.actions?.[0]).toEqual({ type: 'create', last: at('2024-05-01T12:00:00Z'), count: 3 });
  });

  it('returns nothing for a number that is not in the collection', () => {
    expect(runPipeline(ALL_ACCOUNTS, accountActionsPipeline('7899999999999'))).toEqual([]);
  });

  it('lists the canonical types as ACTION_TYPES, in that order', () => {
    expect(ACTION_TYPES).toEqual(['create', 'read', 'update', 'delete']);
  });
});

describe('keyset pages (pipeline run by mingo)', () => {
  const allNumbers = numbersOf(ALL_ACCOUNTS);
  const shuffled = [...ALL_ACCOUNTS].reverse();

  it('orders by number whatever the stored order, and limits the first page', () => {
    expect(numbersOf(runPipeline(shuffled, actionsPagePipeline({ limit: 3 })))).toEqual(
      allNumbers.slice(0, 3),
    );
  });

  it('continues strictly after the cursor', () => {
    const page = runPipeline(shuffled, actionsPagePipeline({ after: '7800000000002', limit: 3 }));
    expect(numbersOf(page)).toEqual(['7800000000003', '7800000000004', '7800000000005']);
  });

  it('is empty after the last number', () => {
    expect(runPipeline(shuffled, actionsPagePipeline({ after: '7800000000008', limit: 3 }))).toEqual([]);
  });

  it('summarises each account of a page the same way as alone', () => {
    const page = runPipeline(shuffled, actionsPagePipeline({ after: '7800000000005', limit: 2 }));
    const alone = runPipeline(shuffled, accountActionsPipeline('7800000000006'));
    expect(page[0]).toEqual(alone[0]);
    expect(page[1]?.number).toBe('7800000000007');
  });

  it('skips documents whose number is missing or not a string (they could not be paged past)', () => {
    const withBadNumbers = [{ number: 7800000000009 }, { name: 'no number' }, ...ALL_ACCOUNTS];
    expect(numbersOf(runPipeline(withBadNumbers, actionsPagePipeline({ limit: 1000 })))).toEqual(allNumbers);
  });

  it('skips a number that is an array of strings on the first page, after a cursor and for one account', () => {
    // MongoDB matches an array when one element matches ($type, $gt, equality alike).
    const withArray = [{ number: ['7800000000003', '7800000000009'], sessions: [] }, ...ALL_ACCOUNTS];
    expect(numbersOf(runPipeline(withArray, actionsPagePipeline({ limit: 1000 })))).toEqual(allNumbers);
    expect(
      numbersOf(runPipeline(withArray, actionsPagePipeline({ after: '7800000000002', limit: 2 }))),
    ).toEqual(['7800000000003', '7800000000004']);
    expect(runPipeline([withArray[0] ?? {}], accountActionsPipeline('7800000000009'))).toEqual([]);
  });
});

describe('getAccountActions', () => {
  it('returns the summary of the account, queried from collection Account', async () => {
    const store = new PipelineOnlyStore({ Account: ALL_ACCOUNTS });
    const summary = await getAccountActions(store, '7800000000000');
    expect(summary?.number).toBe('7800000000000');
    expect(summary?.actions.map((action) => action.count)).toEqual([1, 2, 0, 0]);
    expect(summary?.actions[0]?.last).toEqual(at('2016-01-01T01:33:59Z'));
    expect(store.calls.map((call) => call.collection)).toEqual(['Account']);
  });

  it('returns undefined when there is no such account', async () => {
    const store = new PipelineOnlyStore({ Account: ALL_ACCOUNTS });
    expect(await getAccountActions(store, '7899999999999')).toBeUndefined();
  });

  it('rejects an invalid number without querying the store', async () => {
    const store = new PipelineOnlyStore({ Account: ALL_ACCOUNTS });
    await expect(getAccountActions(store, '780')).rejects.toMatchObject({ field: 'number', status: 400 });
    expect(store.calls).toEqual([]);
  });
});

describe('listAccountActions', () => {
  const store = new PipelineOnlyStore({ Account: ALL_ACCOUNTS });

  it('returns a cursor (the last number) when the page is full', async () => {
    const page = await listAccountActions(store, { limit: 4 });
    expect(page.items.map((item) => item.number)).toEqual(numbersOf(ALL_ACCOUNTS).slice(0, 4));
    expect(page.after).toBe('7800000000003');
  });

  it('returns a null cursor when the page is not full', async () => {
    const page = await listAccountActions(store, { after: '7800000000006', limit: 4 });
    expect(page.items.map((item) => item.number)).toEqual(['7800000000007', '7800000000008']);
    expect(page.after).toBeNull();
  });

  it.each([1, 2, 3, 9, 10])('walks every account exactly once, in order, with limit %i', async (limit) => {
    const seen: AccountActions[] = [];
    let after: string | undefined;
    for (let pages = 0; pages <= ALL_ACCOUNTS.length + 1; pages++) {
      const page = await listAccountActions(store, after === undefined ? { limit } : { after, limit });
      seen.push(...page.items);
      if (page.after === null) break;
      after = page.after;
    }
    expect(seen.map((item) => item.number)).toEqual(numbersOf(ALL_ACCOUNTS));
  });

  it('rejects an over-long cursor as field "after"', async () => {
    await expect(
      listAccountActions(store, { after: 'x'.repeat(MAX_ACTIONS_CURSOR_LENGTH + 1), limit: 1 }),
    ).rejects.toMatchObject({ field: 'after' });
  });

  it.each([1, 2, 5])(
    'walks every account with limit %i, also those whose stored number is not a valid account number',
    async (limit) => {
      const odd = ['', '780000000000', '78000000000001', '$where', 'a\tb', '7800000000001', 'ЛицевойСчёт'];
      const oddStore = new EmbeddedDocumentStore({
        collections: { Account: odd.map((number) => ({ number, sessions: [] })) },
      });
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages <= odd.length + 1; pages++) {
        const page = await listAccountActions(oddStore, after === undefined ? { limit } : { after, limit });
        seen.push(...page.items.map((item) => item.number));
        if (page.after === null) break;
        after = page.after;
      }
      expect(seen).toEqual([...odd].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    },
  );
});

describe('through the embedded document store', () => {
  it('serves every fixture account like the reference summariser, in number order', async () => {
    const store = new EmbeddedDocumentStore({
      collections: { Account: structuredClone([...ALL_ACCOUNTS].reverse()) },
    });
    const page = await listAccountActions(store, { limit: 1000 });
    expect(page.items).toEqual(referenceSummaries(ALL_ACCOUNTS));
    expect(page.after).toBeNull();
    await store.close();
  });

  it('agrees with the same pipeline run by plain mingo, account by account', async () => {
    const store = new EmbeddedDocumentStore({ collections: { Account: structuredClone([...ALL_ACCOUNTS]) } });
    for (const account of ALL_ACCOUNTS) {
      const number = String(account.number);
      expect(await getAccountActions(store, number)).toEqual(
        runPipeline(ALL_ACCOUNTS, accountActionsPipeline(number))[0],
      );
    }
    await store.close();
  });

  it('orders unusual types by code point, as MongoDB does (U+FF01 before U+1F600)', async () => {
    const account = {
      number: '7800000000100',
      sessions: [{ actions: [{ type: '\u{1F600}' }, { type: '\uFF01' }, { type: 'a' }] }],
    };
    const store = new EmbeddedDocumentStore({ collections: { Account: [account] } });
    const summary = await getAccountActions(store, account.number);
    expect(summary?.actions.slice(4).map((action) => action.type)).toEqual(['a', '\uFF01', '\u{1F600}']);
    await store.close();
  });

  it.each([
    ['as a server holds it', (ms: number): Date => new OutOfRangeDate(ms)],
    ['as a file or the driver reads it (an invalid Date)', (): Date => new Date(Number.NaN)],
  ])('counts an action dated beyond JavaScript’s range, but gives it no last (%s)', async (_case, far) => {
    const account = {
      number: '7800000000200',
      sessions: [
        {
          actions: [
            { type: 'read', created_at: at('2024-03-01T00:00:00Z') },
            { type: 'read', created_at: far(FAR_FUTURE) },
            { type: 'update', created_at: far(FAR_PAST) },
          ],
        },
      ],
    };
    const store = new EmbeddedDocumentStore({ collections: { Account: [account] } });
    expect((await getAccountActions(store, account.number))?.actions).toEqual([
      never('create'),
      { type: 'read', last: at('2024-03-01T00:00:00Z'), count: 2 },
      { type: 'update', last: null, count: 1 },
      never('delete'),
    ]);
    await store.close();
  });

  describe('reading an Extended JSON (mongoexport) file', () => {
    let dataDir = '';

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'actions-summary-store-'));
      const lines = ALL_ACCOUNTS.map((account) => EJSON.stringify(account, { relaxed: false }));
      await writeFile(join(dataDir, 'Account.ndjson'), `${lines.join('\n')}\n`);
    });

    afterAll(async () => {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('turns {"$date": ...} into dates, so last is a Date', async () => {
      const store = new EmbeddedDocumentStore({ dataDir });
      const summary = await getAccountActions(store, '7800000000000');
      expect(summary?.actions[0]).toEqual({ type: 'create', last: at('2016-01-01T01:33:59Z'), count: 1 });
      expect(summary?.actions[1]?.last).toBeInstanceOf(Date);
      await store.close();
    });
  });
});
