/**
 * Child process: one actions-summary measurement, one account read by one pipeline. Started by
 * bench/run.ts as `node --expose-gc --import tsx bench/measure-summary.ts --pipeline P --sessions S
 * --actions A --runs R --seed N`; reports a SummaryMeasurement.
 *
 * Order inside the process: build the account document (S sessions × A actions) → warm up on a
 * small separate account → R times: collect the heap, put the document into a fresh
 * EmbeddedDocumentStore, one timed run up to the summary document. A run longer than
 * `SUMMARY_SHAPE.slowRunMs` is not repeated. Every result is checked against a summary computed in
 * plain JavaScript.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { Document } from 'mongodb';
import { Account } from '../lib/account.js';
import { EmbeddedDocumentStore } from '../lib/store/embedded-store.js';
import { getAccountActions } from '../lib/summary/index.js';
import { emitResult } from './child-process.js';
import { flatteningAccountActionsPipeline } from './flatten-summary.js';
import { settleHeap } from './memory.js';
import { median } from './stats.js';
import {
  expectedSummary,
  type GeneratedAccount,
  generateAccount,
  SUMMARY_ACCOUNT_NUMBER,
  SUMMARY_SHAPE,
  toSummaryEntries,
} from './summary-inputs.js';
import {
  SUMMARY_PIPELINES,
  type SummaryEntry,
  type SummaryMeasurement,
  type SummaryPipeline,
} from './summary-types.js';

function storeOf(account: GeneratedAccount): EmbeddedDocumentStore {
  return new EmbeddedDocumentStore({ collections: { [Account.COLLECTION]: [{ ...account }] } });
}

async function firstDocument(results: AsyncIterable<Document>): Promise<Document> {
  for await (const document of results) return document;
  throw new Error(`the pipeline found no account ${SUMMARY_ACCOUNT_NUMBER}`);
}

/** One summary of the account, through the pipeline under test. */
async function summarise(pipeline: SummaryPipeline, store: EmbeddedDocumentStore): Promise<unknown> {
  if (pipeline === 'per-session') {
    const summary = await getAccountActions(store, SUMMARY_ACCOUNT_NUMBER);
    if (summary === undefined)
      throw new Error(`getAccountActions found no account ${SUMMARY_ACCOUNT_NUMBER}`);
    return summary.actions;
  }
  const document = await firstDocument(
    store.aggregate(Account.COLLECTION, flatteningAccountActionsPipeline(SUMMARY_ACCOUNT_NUMBER)),
  );
  return document.actions;
}

async function timedRun(
  pipeline: SummaryPipeline,
  account: GeneratedAccount,
): Promise<{ ms: number; actions: unknown }> {
  const store = storeOf(account);
  const start = performance.now();
  const actions = await summarise(pipeline, store);
  const ms = performance.now() - start;
  await store.close();
  return { ms, actions };
}

function checked(
  actions: unknown,
  expected: readonly SummaryEntry[],
  pipeline: SummaryPipeline,
): SummaryEntry[] {
  const summary = toSummaryEntries(actions);
  if (!isDeepStrictEqual(summary, expected)) {
    throw new Error(
      `the ${pipeline} pipeline returned ${JSON.stringify(summary)}, expected ${JSON.stringify(expected)}`,
    );
  }
  return summary;
}

function parsePipeline(value: string | undefined): SummaryPipeline {
  const pipeline = SUMMARY_PIPELINES.find((p) => p === value);
  if (pipeline === undefined) throw new Error(`--pipeline must be one of ${SUMMARY_PIPELINES.join(', ')}`);
  return pipeline;
}

function positive(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pipeline: { type: 'string' },
      sessions: { type: 'string' },
      actions: { type: 'string' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
    },
  });
  const pipeline = parsePipeline(values.pipeline);
  const sessions = positive(values.sessions, 'sessions');
  const actionsPerSession = positive(values.actions, 'actions');
  const runs = positive(values.runs, 'runs');
  const seed = positive(values.seed, 'seed');

  const generateStart = performance.now();
  const account = generateAccount(sessions, actionsPerSession, seed);
  const expected = expectedSummary(account);
  const generateMs = performance.now() - generateStart;

  const warmUp = generateAccount(
    Math.min(sessions, SUMMARY_SHAPE.warmUpSessions),
    SUMMARY_SHAPE.actionsPerSession,
    seed + 1000,
  );
  const warmUpExpected = expectedSummary(warmUp);
  for (let i = 0; i < SUMMARY_SHAPE.warmUpRuns; i++)
    checked((await timedRun(pipeline, warmUp)).actions, warmUpExpected, pipeline);

  const runsMs: number[] = [];
  let summary: SummaryEntry[] = [];
  for (let run = 0; run < runs; run++) {
    settleHeap();
    const result = await timedRun(pipeline, account);
    runsMs.push(result.ms);
    summary = checked(result.actions, expected, pipeline);
    if (result.ms > SUMMARY_SHAPE.slowRunMs) break;
  }
  const measurement: SummaryMeasurement = {
    pipeline,
    sessions,
    actionsPerSession,
    seed,
    maxRuns: runs,
    runsMs,
    medianMs: median(runsMs),
    generateMs,
    summary,
  };
  emitResult(measurement);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
