import type { MatchOutcome } from './outcome.js';
import type { MatchResult, MatchStats, Policy } from './types.js';

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
    ...(outcome.limitationPeriod === undefined ? {} : { limitationPeriod: outcome.limitationPeriod }),
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
  const frame = resultJsonFrame(outcome.policy, meta, outcome.stats, outcome.limitationPeriod);
  yield frame[0];
  yield* jsonElements(outcome.matches());
  yield frame[1];
  yield* jsonElements(outcome.unmatchedPayments());
  yield frame[2];
  yield* jsonElements(outcome.unpaidAccruals());
  yield frame[3];
  yield* jsonElements(outcome.rejected());
  yield frame[4];
}

/**
 * The result document's text around its four arrays: `frame[0]`, the elements of `matches`,
 * `frame[1]`, of `unmatchedPayments`, `frame[2]`, of `unpaidAccruals`, `frame[3]`, of `rejected`,
 * `frame[4]` (elements as {@link jsonElements} writes them).
 */
export function resultJsonFrame(
  policy: Policy,
  meta: ResultMeta,
  stats: MatchStats,
  limitationPeriod?: string,
): readonly [string, string, string, string, string] {
  const limit =
    limitationPeriod === undefined ? '' : `"limitationPeriod":${JSON.stringify(limitationPeriod)},`;
  return [
    `{"runId":${JSON.stringify(meta.runId)},"policy":${JSON.stringify(policy)},"generatedAt":${JSON.stringify(meta.generatedAt)},${limit}"matches":[`,
    '],"unmatchedPayments":[',
    '],"unpaidAccruals":[',
    '],"rejected":[',
    `],"stats":${JSON.stringify(stats)}}`,
  ];
}

/**
 * The comma-separated elements of a JSON array, without the brackets, in chunks of a few hundred.
 * `continuing`: elements already precede these, so the first chunk starts with a comma.
 */
export function* jsonElements(items: Iterable<unknown>, continuing = false): Iterable<string> {
  let batch: unknown[] = [];
  let first = !continuing;
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
