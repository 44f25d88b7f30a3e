import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { toAppError } from '../aws/aws-errors.js';
import { RUN_ID_PATTERN } from './run-id.js';
import {
  type MatchingRun,
  parseRun,
  RUN_STATUSES,
  RUN_TRIGGERS,
  type RunStatus,
  type RunTrigger,
} from './run-record.js';

/**
 * Listing runs newest first (`GET /matching-runs`), on a global secondary index of the runs table.
 *
 * The index (`byStatus`) is keyed by the run's `status` and a sort key `listKey` =
 * `{trigger}#{createdAt}#{runId}`, written once when the run is created (none of the three ever
 * changes; `status` is rewritten by every transition, and DynamoDB moves the index entry with it).
 * So every combination of filters is a union of exact key ranges, each already newest first:
 * `status` and `trigger` given → one range; one of them → 2 or 4 ranges; neither → all 8. A page
 * takes the newest `limit + 1` of each range (in parallel) and merges them: no FilterExpression,
 * so a sparse filter (the few `running` runs among thousands that succeeded) reads no more than
 * a dense one. The order is `(createdAt, runId)` descending whatever the status, so paging
 * without a status filter neither repeats nor skips a run that changes status meanwhile.
 *
 * Why not one constant partition key with a FilterExpression: filtering happens after the read,
 * so a page of `status=running` could read the whole table to find none. Why not one index per
 * filter: three indexes to keep in step for the same answers. Partition keys: four statuses is
 * low cardinality, but an index partition takes 1,000 writes a second and a run makes a few dozen
 * writes in its life, so it would take dozens of runs starting every second to heat one.
 */

/** The runs table's index for listing (serverless.yml and scripts/tables.ts create it). */
export const RUNS_LIST_INDEX = 'byStatus';
/** The index's partition key: the run's status. */
export const RUNS_LIST_INDEX_HASH_KEY = 'status';
/** The index's sort key attribute, see {@link listKey}. */
export const RUNS_LIST_INDEX_SORT_KEY = 'listKey';

/** The sort key of a run in the list index: trigger first (one range per trigger), then creation order. */
export function listKey(run: Pick<MatchingRun, 'trigger' | 'createdAt' | 'runId'>): string {
  return `${run.trigger}#${run.createdAt}#${run.runId}`;
}

/** Where a page ends: the last run it listed. The next page starts strictly after it. */
export interface RunListPosition {
  readonly createdAt: string;
  readonly runId: string;
}

/** The filters of a listing; the cursor of a page is valid only with the same filters. */
export interface RunListFilters {
  readonly status?: RunStatus;
  readonly trigger?: RunTrigger;
}

export interface RunListQuery extends RunListFilters {
  /** 1..100 runs per page. */
  readonly limit: number;
  /** The position after which the page starts (from the previous page's cursor). */
  readonly after?: RunListPosition;
}

export interface RunListPage {
  /** Newest first: `createdAt` descending, then `runId` descending. */
  readonly runs: MatchingRun[];
  /** The last run listed when more runs follow it; undefined on the last page. */
  readonly next?: RunListPosition;
}

/** `(createdAt, runId)` as one string that sorts like the list (ISO timestamps sort as text). */
function orderKey(run: RunListPosition): string {
  return `${run.createdAt}#${run.runId}`;
}

function newestFirst(a: MatchingRun, b: MatchingRun): number {
  const [x, y] = [orderKey(a), orderKey(b)];
  return x < y ? 1 : x > y ? -1 : 0;
}

/**
 * One page of runs from the list index: the newest `query.limit` runs after `query.after` that
 * pass the filters. The index is eventually consistent (a run created or changed a moment ago may
 * show its previous state); a run whose status changes between the parallel reads of one page
 * can be found twice and is listed once, as the later of the two.
 */
export async function queryRunList(
  client: DynamoDBDocumentClient,
  tableName: string,
  query: RunListQuery,
): Promise<RunListPage> {
  const statuses = query.status === undefined ? RUN_STATUSES : [query.status];
  const triggers = query.trigger === undefined ? RUN_TRIGGERS : [query.trigger];
  const want = query.limit + 1;
  const ranges = statuses.flatMap((status) => triggers.map((trigger) => ({ status, trigger })));
  const found = await Promise.all(
    ranges.map((range) => newestInRange(client, tableName, range, query.after, want)),
  );
  const byRunId = new Map<string, MatchingRun>();
  for (const run of found.flat()) {
    const seen = byRunId.get(run.runId);
    if (seen === undefined || seen.updatedAt < run.updatedAt) byRunId.set(run.runId, run);
  }
  const merged = [...byRunId.values()].sort(newestFirst);
  const runs = merged.slice(0, query.limit);
  const last = runs.at(-1);
  return merged.length > query.limit && last !== undefined
    ? { runs, next: { createdAt: last.createdAt, runId: last.runId } }
    : { runs };
}

/**
 * The newest `want` runs of one (status, trigger) range strictly after `after`. Reads `want + 1`
 * index entries per request (the range is inclusive of the cursor's own run, which is skipped)
 * and reads on only when a response stopped at DynamoDB's 1 MB page limit.
 */
async function newestInRange(
  client: DynamoDBDocumentClient,
  tableName: string,
  range: { readonly status: RunStatus; readonly trigger: RunTrigger },
  after: RunListPosition | undefined,
  want: number,
): Promise<MatchingRun[]> {
  const prefix = `${range.trigger}#`;
  const runs: MatchingRun[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    let page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> };
    try {
      page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: RUNS_LIST_INDEX,
          KeyConditionExpression:
            after === undefined
              ? '#status = :status AND begins_with(#listKey, :low)'
              : '#status = :status AND #listKey BETWEEN :low AND :high',
          ExpressionAttributeNames: {
            '#status': RUNS_LIST_INDEX_HASH_KEY,
            '#listKey': RUNS_LIST_INDEX_SORT_KEY,
          },
          ExpressionAttributeValues: {
            ':status': range.status,
            ':low': prefix,
            ...(after === undefined ? {} : { ':high': `${prefix}${orderKey(after)}` }),
          },
          ScanIndexForward: false,
          Limit: want + 1,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
    } catch (error) {
      throw toAppError('DynamoDB', error);
    }
    for (const item of page.Items ?? []) {
      const run = parseRun(item);
      if (after === undefined || orderKey(run) < orderKey(after)) runs.push(run);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined && runs.length < want);
  return runs.slice(0, want);
}

/** The cursor's content: where the page ended and the filters it was listed with. */
const cursorSchema = z.strictObject({
  v: z.literal(1),
  createdAt: z.iso.datetime({ precision: 3 }),
  runId: z.string().regex(RUN_ID_PATTERN),
  status: z.enum(RUN_STATUSES).optional(),
  trigger: z.enum(RUN_TRIGGERS).optional(),
});

/** Longest cursor accepted: a real one is about 150 characters. */
const MAX_CURSOR_LENGTH = 512;

/**
 * The opaque `after` cursor of a page: base64url of a small JSON object (the last run's position
 * and the filters). Opaque to clients, but neither secret nor signed: it only says where to
 * resume, and a client that forges one just resumes elsewhere in a list it may read anyway.
 */
export function encodeRunCursor(position: RunListPosition, filters: RunListFilters): string {
  const content: z.infer<typeof cursorSchema> = {
    v: 1,
    createdAt: position.createdAt,
    runId: position.runId,
    ...(filters.status === undefined ? {} : { status: filters.status }),
    ...(filters.trigger === undefined ? {} : { trigger: filters.trigger }),
  };
  return Buffer.from(JSON.stringify(content), 'utf8').toString('base64url');
}

/** A decoded cursor, or why the text is not one this service issued. */
export type DecodedRunCursor =
  | { readonly ok: true; readonly position: RunListPosition; readonly filters: RunListFilters }
  | { readonly ok: false; readonly problem: string };

const NOT_A_CURSOR = 'is not a cursor returned by this API (pass the previous page’s after as it is)';

/**
 * Decodes an `after` cursor. Never throws: anything that is not exactly what
 * {@link encodeRunCursor} writes (other characters, padding, bytes changed, fields added) is
 * reported as a problem, so a malformed or tampered cursor is a 400, not a 500.
 */
export function decodeRunCursor(text: string): DecodedRunCursor {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) {
    return { ok: false, problem: NOT_A_CURSOR };
  }
  const bytes = Buffer.from(text, 'base64url');
  // Node decodes leniently (a dangling character is dropped): only the canonical encoding is ours.
  if (bytes.toString('base64url') !== text) return { ok: false, problem: NOT_A_CURSOR };
  let content: unknown;
  try {
    content = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, problem: NOT_A_CURSOR };
  }
  const parsed = cursorSchema.safeParse(content);
  if (!parsed.success) return { ok: false, problem: NOT_A_CURSOR };
  const { createdAt, runId, status, trigger } = parsed.data;
  return {
    ok: true,
    position: { createdAt, runId },
    filters: { ...(status === undefined ? {} : { status }), ...(trigger === undefined ? {} : { trigger }) },
  };
}
