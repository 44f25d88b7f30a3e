import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { toAppError } from '../aws/aws-errors.js';
import { dynamoDocumentClient } from '../aws/dynamodb-client.js';
import { config } from '../config.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { sanitizeFailureReason } from './failure-reason.js';
import { type AnyRunOutputKeys, RUN_OUTPUT_NAMES } from './outputs.js';
import { assertRunId, isRunId } from './run-id.js';
import {
  listKey,
  queryRunList,
  RUNS_LIST_INDEX_SORT_KEY,
  type RunListPage,
  type RunListQuery,
} from './run-index.js';
import {
  INITIAL_PROGRESS,
  type MatchingRun,
  type NewMatchingRun,
  newRunSchema,
  parseRun,
  type RecordedOutputKeys,
  type RunProgress,
  type RunStats,
  type RunStatus,
  runOutputKeysSchema,
} from './run-record.js';

export { describeFailure, sanitizeFailureReason } from './failure-reason.js';
export { isRunId, newRunId, runIdSchema } from './run-id.js';
export type { RunListPage, RunListPosition, RunListQuery } from './run-index.js';
export type { MatchingRun, NewMatchingRun, RunProgress, RunStatus, RunTrigger } from './run-record.js';

/**
 * A transition the run's current status does not allow. Carries the run as DynamoDB found it when
 * it refused the write, so the caller needs no second read to see what it became.
 */
export class RunConflictError extends ConflictError {
  constructor(
    message: string,
    readonly run: MatchingRun,
  ) {
    super(message);
  }
}

/** Which claim of a run a worker holds: the attempt `markRunning` counted and the owner it recorded. */
export type RunClaim = Pick<MatchingRun, 'runId' | 'attempts' | 'owner'>;

/** Tuning of a {@link RunLedger}; the defaults come from the configuration. */
export interface RunLedgerOptions {
  /**
   * How long a run may stay `running` before another worker may take it over (default
   * RUN_STALE_AFTER_SECONDS). Must exceed the worker's Lambda timeout: a live worker is never stale.
   */
  readonly staleAfterMs?: number;
  /**
   * How long a run may stay `queued` before it counts as never started (default
   * QUEUED_RUN_STALE_AFTER_SECONDS): see {@link RunLedger.isStuckInQueue}.
   */
  readonly queuedStaleAfterMs?: number;
  /** The clock for timestamps and staleness (tests). */
  readonly now?: () => Date;
}

/**
 * The shards of a sharded run whose counts are in its progress (a number set; internal, not part
 * of the run record): {@link RunLedger.recordShardDone} adds each once. Cleared when the run is
 * claimed again.
 */
const SHARDS_COUNTED = 'shardsCounted';

/**
 * Asked of every conditional write: a refused write's exception then carries the item as it was
 * (absent when there is none), so learning why it was refused costs no second read.
 */
const RETURN_REFUSED_ITEM = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

function sameOutputs(a: RecordedOutputKeys | undefined, b: AnyRunOutputKeys): boolean {
  return a !== undefined && RUN_OUTPUT_NAMES.every((name) => a[name] === b[name]);
}

/** `input` without its `undefined` fields: an optional field of a run is absent, never `undefined`. */
function definedFields<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as T;
}

/** Placeholders for attribute names that are DynamoDB reserved words (`status`, `error`, `owner`). */
const RESERVED_NAMES: Readonly<Record<string, string>> = {
  '#status': 'status',
  '#error': 'error',
  '#owner': 'owner',
};

function attributeNames(...expressions: string[]): Record<string, string> {
  const text = expressions.join(' ');
  return Object.fromEntries(
    Object.entries(RESERVED_NAMES).filter(([placeholder]) => text.includes(placeholder)),
  );
}

/**
 * The run ledger: the lifecycle of every matching run in DynamoDB. Each transition is one
 * conditional write, so two workers racing on the same run cannot both start it, and a run that
 * succeeded can never be reopened or marked failed.
 *
 * ```
 * queued ──▶ running ──▶ succeeded
 *   │           │
 *   └────▶ failed ◀┘   (failed ──▶ running again on retry)
 * ```
 *
 * A `running` run whose worker died (out of memory, killed at the Lambda timeout, a crash between
 * two ledger writes) would otherwise stay `running` for ever: once its `startedAt` is older than
 * the stale threshold (RUN_STALE_AFTER_SECONDS, longer than the worker can live), `markRunning`
 * may take it over; the invocation that owns the claim (a Lambda retry of it) may take it back
 * at once.
 *
 * Transitions are idempotent: when a write committed but its answer was lost, the SDK's retry
 * finds the run already in the target state (succeeded with the same outputs, or failed) and gets
 * the run back instead of a ConflictError.
 *
 * Errors: DynamoDB unreachable or throttling → ServiceUnavailableError (503, Retry-After);
 * a transition not allowed from the current status → ConflictError; an unknown run → NotFoundError.
 *
 * @example
 * ```ts
 * const ledger = new RunLedger();
 * const { run } = await ledger.create({ runId: newRunId(), policy: 'chronological', trigger: 'http' });
 * await ledger.markRunning(run.runId);
 * await ledger.markSucceeded(run.runId, outcome.stats, runOutputKeys(run.runId));
 * ```
 */
export class RunLedger {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #staleAfterMs: number;
  readonly #queuedStaleAfterMs: number;
  readonly #now: () => Date;

  constructor(client?: DynamoDBDocumentClient, tableName?: string, options: RunLedgerOptions = {}) {
    this.#client = client ?? dynamoDocumentClient();
    this.#tableName = tableName ?? config().RUNS_TABLE;
    this.#staleAfterMs = options.staleAfterMs ?? config().RUN_STALE_AFTER_SECONDS * 1000;
    this.#queuedStaleAfterMs = options.queuedStaleAfterMs ?? config().QUEUED_RUN_STALE_AFTER_SECONDS * 1000;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * True when `run` is `running` but started longer ago than the stale threshold: its worker is
   * presumed dead and {@link markRunning} will let another worker claim it.
   */
  isStale(run: MatchingRun): boolean {
    return run.status === 'running' && run.startedAt !== undefined && run.startedAt < this.#staleBefore();
  }

  /** ISO timestamps sort as text; a `running` run that started before this one is stale. */
  #staleBefore(): string {
    return new Date(this.#now().getTime() - this.#staleAfterMs).toISOString();
  }

  /**
   * True when `run` is `queued` and has not changed for longer than the queued threshold: the
   * worker was never started (its dispatch was lost, or failed and could not be recorded), so
   * nothing will ever pick the run up unless it is dispatched again.
   */
  isStuckInQueue(run: MatchingRun): boolean {
    const before = new Date(this.#now().getTime() - this.#queuedStaleAfterMs).toISOString();
    return run.status === 'queued' && run.updatedAt < before;
  }

  /**
   * Records a new run as `queued`. Creating a run id that already exists changes nothing and
   * returns the stored run with `created: false`, so a retried request gets the same answer.
   */
  async create(input: NewMatchingRun): Promise<{ run: MatchingRun; created: boolean }> {
    assertRunId(input.runId);
    const now = this.#now().toISOString();
    const run: MatchingRun = {
      ...definedFields(newRunSchema.parse(input)),
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      attempts: 0,
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          // The list index's sort key is stored, not part of the run (lib/runs/run-index.ts).
          Item: { ...run, [RUNS_LIST_INDEX_SORT_KEY]: listKey(run) },
          ConditionExpression: 'attribute_not_exists(runId)',
          ...RETURN_REFUSED_ITEM,
        }),
      );
      return { run, created: true };
    } catch (error) {
      const existing = await this.#refusedBy(input.runId, error);
      // Runs are never deleted, so the item that failed the condition is still there.
      if (!existing)
        throw new ConflictError(`matching run ${input.runId} changed while it was being created`);
      return { run: existing, created: false };
    }
  }

  /** The run, read consistently (a status just written is visible), or undefined. */
  async get(runId: string): Promise<MatchingRun | undefined> {
    if (!isRunId(runId)) return undefined;
    try {
      const { Item } = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: { runId }, ConsistentRead: true }),
      );
      return Item === undefined ? undefined : parseRun(Item);
    } catch (error) {
      throw toAppError('DynamoDB', error);
    }
  }

  /**
   * Claims the run for a worker: `queued` or `failed` → `running`, counting the attempt, clearing
   * the previous failure, starting its progress at `reading` with nothing read, and recording
   * `owner` (the worker invocation's request id). A `running`
   * run is taken over only when it is stale (see {@link isStale}) or when `owner` is the one that
   * holds it (Lambda retrying the invocation that crashed); otherwise, and for a succeeded run,
   * this throws ConflictError (a duplicate delivery), so exactly one live worker does the work.
   * Without `owner` the claim has none, and no invocation can take it back early.
   * `options.progress`: the progress to start with (a sharded run's plan starts at `planning`).
   */
  async markRunning(
    runId: string,
    owner?: string,
    options: { readonly progress?: RunProgress } = {},
  ): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'running', ['queued', 'failed'], {
      UpdateExpression:
        'SET #status = :to, startedAt = :now, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one, progress = :progress' +
        (owner === undefined
          ? ` REMOVE #error, finishedAt, stats, outputs, #owner, ${SHARDS_COUNTED}`
          : `, #owner = :owner REMOVE #error, finishedAt, stats, outputs, ${SHARDS_COUNTED}`),
      ExpressionAttributeValues: {
        ':now': now,
        ':zero': 0,
        ':one': 1,
        ':progress': { ...(options.progress ?? INITIAL_PROGRESS) },
        ...(owner === undefined ? {} : { ':owner': owner }),
      },
      orCondition: {
        // `startedAt < :staleBefore` is false when the attribute is missing, so only a dated run is taken over.
        expression:
          '(#status = :to AND startedAt < :staleBefore)' +
          (owner === undefined ? '' : ' OR (#status = :to AND #owner = :owner)'),
        values: { ':staleBefore': this.#staleBefore() },
      },
    });
  }

  /**
   * `running` → `succeeded` with the final stats and the keys of outputs that are fully written.
   * A run already succeeded with the same outputs is returned as it is (a retried write).
   */
  async markSucceeded(runId: string, stats: RunStats, outputs: AnyRunOutputKeys): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'succeeded', ['running'], {
      alreadyDone: (current) => current.status === 'succeeded' && sameOutputs(current.outputs, outputs),
      UpdateExpression:
        'SET #status = :to, stats = :stats, outputs = :outputs, finishedAt = :now, updatedAt = :now REMOVE progress',
      ExpressionAttributeValues: {
        ':stats': { ...stats },
        ':outputs': runOutputKeysSchema.parse(outputs),
        ':now': now,
      },
    });
  }

  /**
   * `running` or `queued` (or only the statuses in `from`) → `failed`. The reason is stored as one
   * bounded line with any stack frames removed (it is shown over HTTP); use
   * `describeFailure(error)` to build it. A run already failed is returned as it is, with its first
   * reason; any other status in the way is a ConflictError.
   */
  async markFailed(
    runId: string,
    reason: string,
    from: readonly ('running' | 'queued')[] = ['running', 'queued'],
  ): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'failed', from, {
      alreadyDone: (current) => current.status === 'failed',
      UpdateExpression:
        'SET #status = :to, #error = :error, finishedAt = :now, updatedAt = :now REMOVE progress',
      ExpressionAttributeValues: { ':error': sanitizeFailureReason(reason), ':now': now },
    });
  }

  /**
   * Puts a run the caller decided to dispatch again (failed, stale `running`, stuck `queued`) back
   * to `queued`, but only if it is still exactly as `seen` (same status and
   * `updatedAt`): of several requests that saw the same run, one gets `requeued: true` and
   * dispatches; the others get the run as it is now. A succeeded run is never requeued.
   */
  async requeue(seen: MatchingRun): Promise<{ run: MatchingRun; requeued: boolean }> {
    if (seen.status === 'succeeded') {
      throw new ConflictError(`matching run ${seen.runId} is succeeded; it cannot become queued`);
    }
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { runId: seen.runId },
          UpdateExpression: `SET #status = :to, updatedAt = :now REMOVE #error, finishedAt, #owner, progress, ${SHARDS_COUNTED}`,
          ConditionExpression: '#status = :seenStatus AND updatedAt = :seenUpdatedAt',
          ExpressionAttributeNames: attributeNames('#status #error #owner'),
          ExpressionAttributeValues: {
            ':to': 'queued',
            ':now': this.#now().toISOString(),
            ':seenStatus': seen.status,
            ':seenUpdatedAt': seen.updatedAt,
          },
          ReturnValues: 'ALL_NEW',
          ...RETURN_REFUSED_ITEM,
        }),
      );
      return { run: parseRun(Attributes), requeued: true };
    } catch (error) {
      const current = await this.#refusedBy(seen.runId, error);
      if (!current) throw new NotFoundError(`matching run ${seen.runId} does not exist`);
      return { run: current, requeued: false };
    }
  }

  /**
   * Records the progress of a run, only while `claim` still holds it: the run is `running` in the
   * same attempt under the same owner. Never changes the status, so a late write cannot reopen a
   * run that ended or undo another worker's claim. Returns false when the claim no longer holds
   * (the run ended, or was taken over): the writer should stop.
   */
  async recordProgress(claim: RunClaim, progress: RunProgress): Promise<boolean> {
    if (!isRunId(claim.runId)) return false;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { runId: claim.runId },
          UpdateExpression: 'SET progress = :progress, updatedAt = :now',
          ConditionExpression:
            '#status = :running AND attempts = :attempts AND ' +
            (claim.owner === undefined ? 'attribute_not_exists(#owner)' : '#owner = :owner'),
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':progress': { ...progress },
            ':now': this.#now().toISOString(),
            ':running': 'running',
            ':attempts': claim.attempts,
            ...(claim.owner === undefined ? {} : { ':owner': claim.owner }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw toAppError('DynamoDB', error);
    }
  }

  /**
   * A shard of a sharded run finished: adds its counts and 1 to `shardsDone` in the run's
   * progress, in one conditional write, once per shard (a retried shard that already counted
   * changes nothing: `'already counted'`). The run must be `running` with a sharded progress (the
   * plan wrote `shardsTotal`); otherwise RunConflictError (the run failed or ended meanwhile),
   * NotFoundError for an unknown run.
   */
  async recordShardDone(
    runId: string,
    shard: number,
    counts: Pick<RunProgress, 'accrualsRead' | 'paymentsRead' | 'partitionsDone'>,
  ): Promise<'counted' | 'already counted'> {
    if (!isRunId(runId)) throw new NotFoundError(`matching run ${runId} does not exist`);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { runId },
          // ADD works on top-level attributes only: the nested counts are incremented with SET.
          UpdateExpression:
            'SET progress.accrualsRead = progress.accrualsRead + :accruals, ' +
            'progress.paymentsRead = progress.paymentsRead + :payments, ' +
            'progress.partitionsDone = progress.partitionsDone + :partitions, ' +
            'progress.shardsDone = progress.shardsDone + :one, updatedAt = :now ' +
            `ADD ${SHARDS_COUNTED} :shardSet`,
          ConditionExpression: `#status = :running AND attribute_exists(progress.shardsDone) AND NOT contains(${SHARDS_COUNTED}, :shard)`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':accruals': counts.accrualsRead,
            ':payments': counts.paymentsRead,
            ':partitions': counts.partitionsDone,
            ':one': 1,
            ':now': this.#now().toISOString(),
            ':running': 'running',
            ':shard': shard,
            ':shardSet': new Set([shard]),
          },
          ...RETURN_REFUSED_ITEM,
        }),
      );
      return 'counted';
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') {
        throw toAppError('DynamoDB', error);
      }
      const { Item } = error as { Item?: Parameters<typeof unmarshall>[0] };
      const item = Item === undefined ? undefined : unmarshall(Item);
      if (item === undefined) throw new NotFoundError(`matching run ${runId} does not exist`);
      const counted = item[SHARDS_COUNTED];
      if (item.status === 'running' && counted instanceof Set && counted.has(shard)) return 'already counted';
      const run = parseRun(item);
      throw new RunConflictError(
        `matching run ${runId} is ${run.status}${run.status === 'running' ? ' without a shard plan' : ''}; shard ${shard} cannot be counted`,
        run,
      );
    }
  }

  /**
   * One page of runs, newest first, optionally of one status and one trigger (see
   * lib/runs/run-index.ts: a query of the runs table's list index, never a scan).
   */
  list(query: RunListQuery): Promise<RunListPage> {
    return queryRunList(this.#client, this.#tableName, query);
  }

  async #transition(
    runId: string,
    to: RunStatus,
    from: readonly RunStatus[],
    update: {
      UpdateExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
      /** A further condition under which the transition is allowed too (may use `#status` and `:to`). */
      orCondition?: { expression: string; values: Record<string, unknown> };
      /** True when the refused run is already what this transition would make it: returned, not a conflict. */
      alreadyDone?: (current: MatchingRun) => boolean;
    },
  ): Promise<MatchingRun> {
    if (!isRunId(runId)) throw new NotFoundError(`matching run ${runId} does not exist`);
    const fromValues = Object.fromEntries(from.map((status, index) => [`:from${index}`, status]));
    // A missing item has no status, so this also refuses to create a run by updating it.
    const fromCondition = `#status IN (${Object.keys(fromValues).join(', ')})`;
    const condition = update.orCondition
      ? `${fromCondition} OR ${update.orCondition.expression}`
      : fromCondition;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { runId },
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: condition,
          ExpressionAttributeNames: attributeNames(update.UpdateExpression, condition),
          ExpressionAttributeValues: {
            ...update.ExpressionAttributeValues,
            ...update.orCondition?.values,
            ...fromValues,
            ':to': to,
          },
          ReturnValues: 'ALL_NEW',
          ...RETURN_REFUSED_ITEM,
        }),
      );
      return parseRun(Attributes);
    } catch (error) {
      const current = await this.#refusedBy(runId, error);
      if (!current) throw new NotFoundError(`matching run ${runId} does not exist`);
      if (update.alreadyDone?.(current)) return current;
      throw new RunConflictError(
        `matching run ${runId} is ${current.status}; it cannot become ${to}`,
        current,
      );
    }
  }

  /**
   * The run a conditional write was refused by, as the exception carries it
   * ({@link RETURN_REFUSED_ITEM}), or undefined when there is no such run. An exception without
   * the item means there was none; it is read once more only to stay right against a store that
   * ignores the request (the read then finds nothing too). Any other error is rethrown mapped.
   */
  async #refusedBy(runId: string, error: unknown): Promise<MatchingRun | undefined> {
    if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') {
      throw toAppError('DynamoDB', error);
    }
    const { Item } = error as { Item?: Parameters<typeof unmarshall>[0] };
    return Item === undefined ? this.get(runId) : parseRun(unmarshall(Item));
  }
}
