/**
 * Child process: one actions-summary measurement, one account read by one pipeline, started by
 * bench/run.ts as `node --expose-gc --import tsx bench/measure-summary.ts --pipeline P --sessions S
 * --actions A --runs R --seed N`. `per-session` is `getAccountActions` of lib/summary/,
 * `flattening` the baseline of bench/flatten-summary.ts.
 *
 * Order: build the account → warm up on a small separate account → R times: collect the heap, put
 * the document into a fresh EmbeddedDocumentStore, one timed run to the summary document. A run
 * longer than `SUMMARY_SHAPE.slowRunMs` is not repeated. Every result is checked against a
 * summary computed in plain JavaScript.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { Account } from '../lib/account.js';
import { EmbeddedDocumentStore } from '../lib/store/embedded-store.js';
import { getAccountActions } from '../lib/summary/index.js';
import { emitResult } from './child-process.js';
import { flatteningAccountActionsPipeline } from './flatten-summary.js';
import { settleHeap } from './memory.js';
import {
  expectedSummary,
  generateAccount,
  SUMMARY_ACCOUNT_NUMBER,
  SUMMARY_SHAPE,
  type SummaryEntry,
} from './summary-inputs.js';
import { median } from './targets.js';

export const SUMMARY_PIPELINES = ['per-session', 'flattening'] as const;
export type SummaryPipeline = (typeof SUMMARY_PIPELINES)[number];

export interface SummaryMeasurement {
  readonly pipeline: SummaryPipeline;
  readonly sessions: number;
  readonly actionsPerSession: number;
  /** Wall time of each timed run (fewer than asked when the first was slow). */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** What the pipeline returned, to cross-check the two pipelines. */
  readonly summary: readonly SummaryEntry[];
}

/** The summary's `actions` array through the pipeline under test, dates as ISO strings. */
async function summarise(pipeline: SummaryPipeline, store: EmbeddedDocumentStore): Promise<SummaryEntry[]> {
  let actions: unknown;
  if (pipeline === 'per-session') {
    actions = (await getAccountActions(store, SUMMARY_ACCOUNT_NUMBER))?.actions;
  } else {
    const stages = flatteningAccountActionsPipeline(SUMMARY_ACCOUNT_NUMBER);
    for await (const document of store.aggregate(Account.COLLECTION, stages)) actions ??= document.actions;
  }
  if (!Array.isArray(actions)) throw new Error(`the ${pipeline} pipeline returned no actions array`);
  return actions.map(({ type, last, count }) => ({
    type,
    last: last instanceof Date ? last.toISOString() : null,
    count,
  }));
}

async function timedRun(
  pipeline: SummaryPipeline,
  account: ReturnType<typeof generateAccount>,
): Promise<{ ms: number; summary: SummaryEntry[] }> {
  const store = new EmbeddedDocumentStore({ collections: { [Account.COLLECTION]: [{ ...account }] } });
  const start = performance.now();
  const summary = await summarise(pipeline, store);
  const ms = performance.now() - start;
  await store.close();
  const expected = expectedSummary(account);
  if (!isDeepStrictEqual(summary, expected)) {
    throw new Error(`${pipeline} returned ${JSON.stringify(summary)}, expected ${JSON.stringify(expected)}`);
  }
  return { ms, summary };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pipeline: { type: 'string' },
      sessions: { type: 'string' },
      actions: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const pipeline = SUMMARY_PIPELINES.find((p) => p === values.pipeline);
  if (pipeline === undefined) throw new Error(`--pipeline must be one of ${SUMMARY_PIPELINES.join(', ')}`);
  const [sessions, actionsPerSession, runs, seed] = [
    values.sessions,
    values.actions,
    values.runs,
    values.seed,
  ].map((value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${value}`);
    return n;
  }) as [number, number, number, number];

  const account = generateAccount(sessions, actionsPerSession, seed);
  const warmUp = generateAccount(
    Math.min(sessions, SUMMARY_SHAPE.warmUpSessions),
    SUMMARY_SHAPE.actionsPerSession,
    seed + 1000,
  );
  for (let i = 0; i < SUMMARY_SHAPE.warmUpRuns; i++) await timedRun(pipeline, warmUp);

  const runsMs: number[] = [];
  let summary: SummaryEntry[] = [];
  for (let run = 0; run < runs; run++) {
    settleHeap();
    const result = await timedRun(pipeline, account);
    runsMs.push(result.ms);
    summary = result.summary;
    if (result.ms > SUMMARY_SHAPE.slowRunMs) break;
  }
  const measurement: SummaryMeasurement = {
    pipeline,
    sessions,
    actionsPerSession,
    runsMs,
    medianMs: median(runsMs),
    summary,
  };
  emitResult(measurement);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
