import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { toAppError } from '../aws/aws-errors.js';
import { dynamoDocumentClient } from '../aws/dynamodb-client.js';
import { config } from '../config.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { type MatchStats, POLICIES, type Policy } from '../matching/types.js';
import { sanitizeFailureReason } from './failure-reason.js';
import type { RunOutputKeys } from './outputs.js';
import { assertRunId, isRunId } from './run-id.js';

export { describeFailure, sanitizeFailureReason } from './failure-reason.js';
export { isRunId, newRunId, runIdSchema } from './run-id.js';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TRIGGERS = ['http', 'event'] as const;
/** What started the run: `POST /matching-runs` or a `PaymentsImported` event. */
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** One matching run as recorded in the run ledger (DynamoDB, key `runId`). */
export interface MatchingRun {
  runId: string;
  status: RunStatus;
  policy: Policy;
  partitionBy?: string;
  trigger: RunTrigger;
  idempotencyKey?: string;
  /** ISO 8601 UTC timestamps. */
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** How many times a worker started this run (retries of a failed run count). */
  attempts: number;
  stats?: MatchStats;
  /** Why the last attempt failed: one line, no stack trace. */
  error?: string;
  outputs?: RunOutputKeys;
  /**
   * Who holds (or last held) the claim: the Lambda request id of the worker invocation that marked
   * the run `running`. Lambda's retries of one asynchronous invocation reuse its request id, so a
   * retry of a worker that crashed may take its own claim back at once instead of waiting for it
   * to go stale. Internal: not part of the HTTP view.
   */
  owner?: string;
}

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

/** What the caller decides when recording a run; the ledger fills in the rest. */
export interface NewMatchingRun {
  runId: string;
  policy: Policy;
  partitionBy?: string;
  trigger: RunTrigger;
  idempotencyKey?: string;
}

const statsSchema = z.object({
  accruals: z.number(),
  payments: z.number(),
  matched: z.number(),
  sameMonth: z.number(),
  oldest: z.number(),
  unmatched: z.number(),
  unpaid: z.number(),
  rejected: z.number(),
  reasons: z.object({
    unmatchedPayments: z.object({
      'no-earlier-accrual': z.number(),
      'time-barred': z.number(),
      'earlier-accruals-paid': z.number(),
    }),
    unpaidAccruals: z.object({
      'no-later-payment': z.number(),
      'time-barred': z.number(),
      'later-payments-used': z.number(),
    }),
  }),
  durationMs: z.number(),
});

const matchingRunSchema = z.object({
  runId: z.string(),
  status: z.enum(RUN_STATUSES),
  policy: z.enum(POLICIES),
  partitionBy: z.string().optional(),
  trigger: z.enum(RUN_TRIGGERS),
  idempotencyKey: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  stats: statsSchema.optional(),
  error: z.string().optional(),
  outputs: z
    .object({ resultJson: z.string(), matchesCsv: z.string(), unmatchedPaymentsCsv: z.string() })
    .optional(),
  owner: z.string().optional(),
});

function parseRun(item: unknown): MatchingRun {
  const parsed = matchingRunSchema.safeParse(item);
  if (!parsed.success) {
    // A corrupt item is our bug, not the client's: a plain Error becomes a generic 500.
    throw new Error(`run ledger item is malformed: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function sameOutputs(a: RunOutputKeys | undefined, b: RunOutputKeys): boolean {
  return (
    a !== undefined &&
    a.resultJson === b.resultJson &&
    a.matchesCsv === b.matchesCsv &&
    a.unmatchedPaymentsCsv === b.unmatchedPaymentsCsv
  );
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
      runId: input.runId,
      status: 'queued',
      policy: input.policy,
      ...(input.partitionBy === undefined ? {} : { partitionBy: input.partitionBy }),
      trigger: input.trigger,
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
      createdAt: now,
      updatedAt: now,
      attempts: 0,
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: run,
          ConditionExpression: 'attribute_not_exists(runId)',
        }),
      );
      return { run, created: true };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw toAppError('DynamoDB', error);
    }
    const existing = await this.get(input.runId);
    // Runs are never deleted, so the item that failed the condition is still there.
    if (!existing) throw new ConflictError(`matching run ${input.runId} changed while it was being created`);
    return { run: existing, created: false };
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
   * the previous failure and recording `owner` (the worker invocation's request id). A `running`
   * run is taken over only when it is stale (see {@link isStale}) or when `owner` is the one that
   * holds it (Lambda retrying the invocation that crashed); otherwise, and for a succeeded run,
   * this throws ConflictError (a duplicate delivery), so exactly one live worker does the work.
   * Without `owner` the claim has none, and no invocation can take it back early.
   */
  async markRunning(runId: string, owner?: string): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'running', ['queued', 'failed'], {
      UpdateExpression:
        'SET #status = :to, startedAt = :now, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one' +
        (owner === undefined
          ? ' REMOVE #error, finishedAt, stats, outputs, #owner'
          : ', #owner = :owner REMOVE #error, finishedAt, stats, outputs'),
      ExpressionAttributeValues: {
        ':now': now,
        ':zero': 0,
        ':one': 1,
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
  async markSucceeded(runId: string, stats: MatchStats, outputs: RunOutputKeys): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'succeeded', ['running'], {
      alreadyDone: (current) => current.status === 'succeeded' && sameOutputs(current.outputs, outputs),
      UpdateExpression:
        'SET #status = :to, stats = :stats, outputs = :outputs, finishedAt = :now, updatedAt = :now',
      ExpressionAttributeValues: {
        ':stats': { ...stats },
        ':outputs': {
          resultJson: outputs.resultJson,
          matchesCsv: outputs.matchesCsv,
          unmatchedPaymentsCsv: outputs.unmatchedPaymentsCsv,
        },
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
      UpdateExpression: 'SET #status = :to, #error = :error, finishedAt = :now, updatedAt = :now',
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
          UpdateExpression: 'SET #status = :to, updatedAt = :now REMOVE #error, finishedAt, #owner',
          ConditionExpression: '#status = :seenStatus AND updatedAt = :seenUpdatedAt',
          ExpressionAttributeNames: attributeNames('#status #error #owner'),
          ExpressionAttributeValues: {
            ':to': 'queued',
            ':now': this.#now().toISOString(),
            ':seenStatus': seen.status,
            ':seenUpdatedAt': seen.updatedAt,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { run: parseRun(Attributes), requeued: true };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw toAppError('DynamoDB', error);
    }
    const current = await this.get(seen.runId);
    if (!current) throw new NotFoundError(`matching run ${seen.runId} does not exist`);
    return { run: current, requeued: false };
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
        }),
      );
      return parseRun(Attributes);
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw toAppError('DynamoDB', error);
    }
    const current = await this.get(runId);
    if (!current) throw new NotFoundError(`matching run ${runId} does not exist`);
    if (update.alreadyDone?.(current)) return current;
    throw new ConflictError(`matching run ${runId} is ${current.status}; it cannot become ${to}`);
  }
}
