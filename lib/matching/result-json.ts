import type { MatchOutcome } from './outcome.js';
import type { MatchResult } from './types.js';

/** Run identity written into the result document. */
export interface ResultMeta {
  readonly runId: string;
  /** ISO 8601 UTC time the result was generated. */
  readonly generatedAt: string;
}

/**
 * The result document of SPEC §3 as one object. Materialises every output record: fine for the
 * HTTP API and tests; large runs should stream {@link resultJsonChunks} instead.
 */
export function toMatchResult(outcome: MatchOutcome, meta: ResultMeta): MatchResult {
  return {
    runId: meta.runId,
    policy: outcome.policy,
    generatedAt: meta.generatedAt,
    matches: [...outcome.matches()],
    unmatchedPayments: [...outcome.unmatchedPayments()],
    unpaidAccruals: [...outcome.unpaidAccruals()],
    rejected: [...outcome.rejected()],
    stats: outcome.stats,
  };
}

/** Records per chunk: big enough to amortise the per-chunk cost, small enough to stay flat in memory. */
const RECORDS_PER_CHUNK = 256;

/**
 * The same document as {@link toMatchResult}, serialised as JSON text in chunks of a few hundred
 * records, for streaming uploads: `JSON.parse([...chunks].join(''))` equals `toMatchResult(...)`.
 * Output records are built only while their chunk is produced.
 */
export function* resultJsonChunks(outcome: MatchOutcome, meta: ResultMeta): Iterable<string> {
  yield `{"runId":${JSON.stringify(meta.runId)},"policy":${JSON.stringify(outcome.policy)},"generatedAt":${JSON.stringify(meta.generatedAt)},"matches":[`;
  yield* arrayBody(outcome.matches());
  yield '],"unmatchedPayments":[';
  yield* arrayBody(outcome.unmatchedPayments());
  yield '],"unpaidAccruals":[';
  yield* arrayBody(outcome.unpaidAccruals());
  yield '],"rejected":[';
  yield* arrayBody(outcome.rejected());
  yield `],"stats":${JSON.stringify(outcome.stats)}}`;
}

/** The comma-separated elements of a JSON array, without the brackets. */
function* arrayBody(items: Iterable<unknown>): Iterable<string> {
  let batch: unknown[] = [];
  let first = true;
  for (const item of items) {
    batch.push(item);
    if (batch.length === RECORDS_PER_CHUNK) {
      yield elements(batch, first);
      first = false;
      batch = [];
    }
  }
  if (batch.length > 0) yield elements(batch, first);
}

function elements(batch: unknown[], first: boolean): string {
  const text = JSON.stringify(batch);
  return first ? text.slice(1, -1) : `,${text.slice(1, -1)}`;
}
