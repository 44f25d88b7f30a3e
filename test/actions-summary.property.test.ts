import fc from 'fast-check';
import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { EmbeddedDocumentStore } from '../lib/store/index.js';
import {
  type AccountActions,
  accountActionsPipeline,
  actionsPagePipeline,
  listAccountActions,
} from '../lib/summary/index.js';
import { referencePage, referenceSummaries } from './support/reference-summary.js';
import { PipelineOnlyStore, runPipeline } from './support/run-pipeline.js';

const NUM_RUNS = 150;

// Few distinct instants, so ties between actions are common.
const date = fc.integer({ min: 0, max: 20 }).map((minute) => new Date(Date.UTC(2024, 0, 1, 0, minute)));

// Extra types are ASCII or Cyrillic: mingo compares strings by UTF-16 unit, MongoDB by code point,
// and the two agree below U+D800.
const actionType = fc.oneof(
  { arbitrary: fc.constantFrom('create', 'read', 'update', 'delete'), weight: 6 },
  { arbitrary: fc.constantFrom('archive', 'export', 'Export', 'архив', '', 'a b', 'zz'), weight: 3 },
  { arbitrary: fc.string({ maxLength: 3 }), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>(5, null, true, ['read'], { type: 'read' }), weight: 1 },
);

const createdAt = fc.oneof(
  { arbitrary: date, weight: 8 },
  { arbitrary: fc.constantFrom<unknown>(null, '2024-01-01T00:00:00Z', 1_704_067_200_000, {}), weight: 1 },
);

const action = fc.oneof(
  { arbitrary: fc.record({ type: actionType, created_at: createdAt }, { requiredKeys: [] }), weight: 10 },
  { arbitrary: fc.constantFrom<unknown>(null, 'read', 7, [{ type: 'read' }]), weight: 1 },
);

const actions = fc.oneof(
  { arbitrary: fc.array(action, { maxLength: 8 }), weight: 8 },
  { arbitrary: fc.constantFrom<unknown>(null, 'read', {}), weight: 1 },
);

const session = fc.oneof(
  {
    arbitrary: fc.record({ session_id: fc.string(), created_at: date, actions }, { requiredKeys: [] }),
    weight: 10,
  },
  { arbitrary: fc.constantFrom<unknown>(null, 3, 'session', [{ actions: [{ type: 'read' }] }]), weight: 1 },
);

const sessions = fc.oneof(
  { arbitrary: fc.array(session, { maxLength: 4 }), weight: 8 },
  { arbitrary: fc.constantFrom<unknown>(null, {}, 'none'), weight: 1 },
);

/** A 13-character number; a few in the `Account` range are bad on purpose (missing or numeric). */
const accountNumber = fc.integer({ min: 0, max: 60 }).map((n) => `78000000000${String(n).padStart(2, '0')}`);

const account = fc.record(
  { number: accountNumber, name: fc.constantFrom('Пользователь №', 'x'), sessions },
  { requiredKeys: ['number'] },
);

const accounts = fc.uniqueArray(account, { maxLength: 12, selector: (document) => document.number });

/** Documents that are no account: a numeric or missing number, or an array of string numbers. */
const strangeAccounts = fc.array(
  fc.oneof(
    fc.constantFrom<Document>({ number: 7800000000099 }, { name: 'no number' }),
    fc
      .array(accountNumber, { minLength: 1, maxLength: 3 })
      .map((numbers): Document => ({ number: numbers, sessions: [{ actions: [{ type: 'read' }] }] })),
  ),
  {
    maxLength: 2,
  },
);

/** Dates as epoch milliseconds, so equality does not depend on Date identity or subclassing. */
function comparable(summaries: readonly Document[]): unknown[] {
  return summaries.map((summary) => ({
    ...summary,
    actions: (summary.actions as Document[]).map((entry) => ({
      ...entry,
      last: entry.last instanceof Date ? entry.last.getTime() : entry.last,
    })),
  }));
}

describe('actions summary pipeline agrees with the reference summariser', () => {
  it('for every account of a random collection, in number order', () => {
    fc.assert(
      fc.property(accounts, strangeAccounts, (generated, strange) => {
        const collection = [...strange, ...generated];
        const output = runPipeline(collection, actionsPagePipeline({ limit: 1000 }));
        expect(comparable(output)).toEqual(comparable(referenceSummaries(collection)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('for one account, found by number', () => {
    fc.assert(
      fc.property(accounts, strangeAccounts, accountNumber, (generated, strange, number) => {
        const collection = [...strange, ...generated];
        const output = runPipeline(collection, accountActionsPipeline(number));
        const expected = referenceSummaries(collection).filter((summary) => summary.number === number);
        expect(comparable(output)).toEqual(comparable(expected));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('for one keyset page after any cursor', () => {
    fc.assert(
      fc.property(
        accounts,
        strangeAccounts,
        fc.option(accountNumber, { nil: undefined }),
        fc.integer({ min: 1, max: 5 }),
        (generated, strange, after, limit) => {
          const collection = [...strange, ...generated];
          const page = after === undefined ? { limit } : { after, limit };
          const output = runPipeline(collection, actionsPagePipeline(page));
          expect(comparable(output)).toEqual(comparable(referencePage(collection, page)));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('when walking all pages with listAccountActions: each account exactly once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(accounts, fc.integer({ min: 1, max: 5 }), async (collection, limit) => {
        const store = new PipelineOnlyStore({ Account: collection });
        const seen: AccountActions[] = [];
        let after: string | undefined;
        for (let pages = 0; pages <= collection.length + 1; pages++) {
          const page = await listAccountActions(store, after === undefined ? { limit } : { after, limit });
          seen.push(...page.items);
          if (page.after === null) break;
          after = page.after;
        }
        expect(comparable(seen)).toEqual(comparable(referenceSummaries(collection)));
      }),
      { numRuns: NUM_RUNS / 3 },
    );
  });
});

// The embedded store compares strings in MongoDB's binary (code point) order, unlike plain mingo,
// so types beyond the BMP and in the private-use area (where UTF-16 and code point order differ)
// are checked through it.
const wideType = fc.oneof(
  actionType,
  fc.constantFrom('\u{1F600}', '\uFF01', '\uE000', 'a\u{10000}', 'a\uFFFF', 'Ω'),
  fc.string({ unit: 'binary', maxLength: 3 }),
);

const wideAccounts = fc.uniqueArray(
  fc.record({
    number: accountNumber,
    sessions: fc.array(
      fc.record({ actions: fc.array(fc.record({ type: wideType, created_at: date }), { maxLength: 6 }) }),
      {
        maxLength: 2,
      },
    ),
  }),
  { maxLength: 6, selector: (document) => document.number },
);

describe('through the embedded document store', () => {
  it('agrees with the reference summariser, including code point order of unusual types', async () => {
    await fc.assert(
      fc.asyncProperty(wideAccounts, async (collection) => {
        const store = new EmbeddedDocumentStore({ collections: { Account: structuredClone(collection) } });
        const page = await listAccountActions(store, { limit: 1000 });
        expect(comparable(page.items)).toEqual(comparable(referenceSummaries(collection)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
