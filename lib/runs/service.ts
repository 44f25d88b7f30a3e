import * as z from 'zod';
import { ConflictError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import type { Policy } from '../matching/types.js';
import type { WorkerDispatcher } from './dispatcher.js';
import { describeFailure, type MatchingRun, type RunLedger, type RunStatus } from './ledger.js';
import { RUN_OUTPUT_NAMES, type RunOutputName, runOutputKeys, shardedRunOutputKeys } from './outputs.js';
import { requestDifferences, runRequest, type Shards } from './request.js';
import type { ResultsBucket } from './results-bucket.js';
import { derivedRunId } from './run-id.js';
import { encodeRunCursor, type RunListFilters, type RunListQuery } from './run-index.js';
import { matchingRunSchema, perOutputSchema, type RecordedOutputKeys } from './run-record.js';

/** A run's output as shown over HTTP: the S3 key, plus a presigned download URL once the run succeeded. */
const runOutputViewSchema = z.object({ key: z.string(), url: z.string().optional() });
export type RunOutputView = z.infer<typeof runOutputViewSchema>;

/**
 * The HTTP representation of a matching run (`GET /matching-runs/{runId}`): the ledger's run
 * without its internal fields (the idempotency key, the claim's owner), plus `stale` and the
 * outputs with their download URLs. Derived from the run's schema, so a new field of the run
 * shows here unless it is listed as internal.
 */
const matchingRunViewSchema = matchingRunSchema
  .omit({ idempotencyKey: true, owner: true, outputs: true })
  .extend({
    /**
     * True when the ledger presumes the run's worker lost: `running` for longer than
     * RUN_STALE_AFTER_SECONDS, or `queued` for longer than QUEUED_RUN_STALE_AFTER_SECONDS. It may
     * never finish unless it is started again (a late worker may still pick a queued one up; only
     * one can claim it): a repeated POST with its Idempotency-Key, or the redelivered event.
     * `status` stays what the ledger holds.
     */
    stale: z.boolean(),
    /**
     * Always present: the keys; `url`s only once the run succeeded. A succeeded run lists what it
     * recorded: runs from before `unpaid-accruals.csv` and `result.xlsx` existed lack those, and
     * only partitioned runs have the partition lookup's `partitionsJsonl` and `partitionIndex`.
     */
    outputs: perOutputSchema(runOutputViewSchema),
  });
export type MatchingRunView = z.infer<typeof matchingRunViewSchema>;

/**
 * A run in a list (`GET /matching-runs`): the run's view without `outputs` (download links are
 * signed per run: follow `url`), plus `url`, the path of the run.
 */
const listedRunSchema = matchingRunViewSchema.omit({ outputs: true }).extend({ url: z.string() });
export type ListedRun = z.infer<typeof listedRunSchema>;

/** One page of `GET /matching-runs`: `after` is the cursor of the next page, null on the last one. */
export interface MatchingRunPage {
  readonly items: ListedRun[];
  readonly after: string | null;
}

/** A presigned download URL per output the run has. */
type OutputUrls = Readonly<Partial<Record<RunOutputName, string>>>;

/** What `POST /matching-runs` asks for. */
export interface StartRunRequest {
  readonly policy?: Policy;
  readonly partitionBy?: string;
  /** An ISO 8601 period of whole years and/or months (SPEC §7); equal periods may be spelt differently. */
  readonly limitationPeriod?: string;
  /** `auto` or a number of shards (only with partitionBy): the run goes through the state machine. */
  readonly shards?: Shards;
  /** From the `Idempotency-Key` header: repeated requests with one key give one run. */
  readonly idempotencyKey?: string;
}

/** The 202 answer of `POST /matching-runs`; `created` is false when the idempotency key was seen before. */
export interface StartedRun {
  readonly runId: string;
  readonly status: RunStatus;
  readonly url: string;
  readonly created: boolean;
}

export interface MatchingRunsDeps {
  readonly ledger: RunLedger;
  readonly bucket: ResultsBucket;
  readonly dispatcher: WorkerDispatcher;
  /** Lifetime of presigned download URLs (PRESIGNED_URL_TTL_SECONDS, at most 900). */
  readonly presignTtlSeconds: number;
  /** Makes the id of a run started without an idempotency key. */
  readonly newRunId: () => string;
}

/** The path of a run's status resource, used for `url` and `Location`. */
export function runPath(runId: string): string {
  return `/matching-runs/${runId}`;
}

/**
 * The HTTP-facing service of matching runs: records a run and dispatches the worker
 * (`POST /matching-runs`), and describes a run with download links (`GET /matching-runs/{runId}`).
 */
export class MatchingRuns {
  readonly #deps: MatchingRunsDeps;

  constructor(deps: MatchingRunsDeps) {
    this.#deps = deps;
  }

  /**
   * Records a `queued` run and starts the worker asynchronously. With an idempotency key the run
   * id is derived from it, so repeated and concurrent requests find the same ledger item: only
   * the request that created it dispatches, the others get the same run id. A key reused with a
   * different policy, partition field or limitation period is a ConflictError (`P36M` and `P3Y`
   * are the same period). If the dispatch fails the run is marked failed (if no worker claimed
   * it meanwhile) and a ServiceUnavailableError (503) is thrown. Repeating the request with the same key dispatches the run again whenever it is
   * failed (its dispatch failed, or the run failed after Lambda's retries), its worker died
   * (stale running), or it was left `queued` longer than QUEUED_RUN_STALE_AFTER_SECONDS (its
   * dispatch was lost, or failed and could not be recorded). Such a run is first put back to `queued` with
   * a conditional write, so of concurrent repeats exactly one dispatches it; `status` in the
   * answer is always what the ledger holds.
   */
  async start(request: StartRunRequest): Promise<StartedRun> {
    const { ledger, dispatcher } = this.#deps;
    const asked = runRequest(request);
    const runId =
      request.idempotencyKey === undefined
        ? this.#deps.newRunId()
        : derivedRunId('http', request.idempotencyKey);
    const { run, created } = await ledger.create({
      runId,
      ...asked,
      trigger: 'http',
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
    });
    const differences = created ? [] : requestDifferences(run, asked);
    if (differences.length > 0) {
      throw new ConflictError(
        `Idempotency-Key was already used for a run with a different ${differences.join(' and ')}`,
      );
    }
    // A repeat runs the run again when it failed (its worker could not be started, or the run
    // failed after Lambda's retries), when its worker died (stale running), or when it was never
    // started (still queued long after).
    const redispatch =
      !created && (run.status === 'failed' || ledger.isStale(run) || ledger.isStuckInQueue(run));
    let current = run;
    if (redispatch) {
      const requeue = await ledger.requeue(run);
      current = requeue.run;
      // Another request requeued it first and dispatches it.
      if (!requeue.requeued) return { runId, status: current.status, url: runPath(runId), created };
    } else if (!created) {
      return { runId, status: run.status, url: runPath(runId), created };
    }
    try {
      // The recorded run decides how it runs: a repeat that asks for other shards is that same run.
      await dispatcher.dispatch(runId, current);
    } catch (error) {
      await this.#recordDispatchFailure(runId, error);
      throw new ServiceUnavailableError('the matching worker could not be started', 5, { cause: error });
    }
    return { runId, status: current.status, url: runPath(runId), created };
  }

  async #recordDispatchFailure(runId: string, error: unknown): Promise<void> {
    try {
      // Only while it is still queued: an invocation whose answer was lost may have started the
      // worker after all, and its claim must not be overwritten.
      await this.#deps.ledger.markFailed(runId, `could not start the worker: ${describeFailure(error)}`, [
        'queued',
      ]);
    } catch {
      // The run stays as it is (queued, or running under that worker); the caller still gets a
      // 503 and may repeat the request.
    }
  }

  /**
   * The run with the S3 keys of its outputs (where they are, or will be, written) and, once it
   * succeeded, presigned download URLs. Throws NotFoundError for an unknown run.
   */
  async describe(runId: string): Promise<MatchingRunView> {
    const { ledger } = this.#deps;
    const run = await ledger.get(runId);
    if (!run) throw new NotFoundError(`matching run ${runId} does not exist`);
    const stale = ledger.isStale(run) || ledger.isStuckInQueue(run);
    return toRunView(
      run,
      stale,
      run.status === 'succeeded' ? await this.#presignAll(run.outputs) : undefined,
    );
  }

  async #presignAll(outputs: RecordedOutputKeys | undefined): Promise<OutputUrls | undefined> {
    if (!outputs) return undefined;
    const ttl = this.#deps.presignTtlSeconds;
    const urls = await Promise.all(
      presentOutputs(outputs).map(async ([name, key]) => [name, await this.#deps.bucket.presign(key, ttl)]),
    );
    return Object.fromEntries(urls) as OutputUrls;
  }
}

/**
 * One page of runs, newest first (`GET /matching-runs`), with the cursor of the next page, which
 * is valid only with the same filters.
 */
export async function listRunViews(ledger: RunLedger, query: RunListQuery): Promise<MatchingRunPage> {
  const page = await ledger.list(query);
  const filters: RunListFilters = {
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.trigger === undefined ? {} : { trigger: query.trigger }),
  };
  return {
    items: page.runs.map((run) =>
      listedRunSchema.parse({
        ...run,
        stale: ledger.isStale(run) || ledger.isStuckInQueue(run),
        url: runPath(run.runId),
      }),
    ),
    after: page.next === undefined ? null : encodeRunCursor(page.next, filters),
  };
}

/**
 * The HTTP view of a ledger item (see {@link MatchingRunView}): the output keys always (the
 * recorded ones once succeeded, else where the worker writes them), URLs added when given. Only
 * outputs the run has are listed (runs recorded before an output was added lack it).
 */
export function toRunView(run: MatchingRun, stale: boolean, urls?: OutputUrls): MatchingRunView {
  const keys: RecordedOutputKeys =
    run.outputs ??
    (run.shards === undefined ? runOutputKeys(run.runId, run.partitionBy) : shardedRunOutputKeys(run.runId));
  const outputs = Object.fromEntries(
    presentOutputs(keys).map(([name, key]) => {
      const url = urls?.[name];
      return [name, url === undefined ? { key } : { key, url }];
    }),
  );
  // Parsing strips the internal fields.
  return matchingRunViewSchema.parse({ ...run, stale, outputs });
}

/** The outputs a run has, with their keys, in upload order. */
function presentOutputs(keys: RecordedOutputKeys): Array<[RunOutputName, string]> {
  return RUN_OUTPUT_NAMES.flatMap((name) => {
    const key = keys[name];
    return key === undefined ? [] : [[name, key] as [RunOutputName, string]];
  });
}
