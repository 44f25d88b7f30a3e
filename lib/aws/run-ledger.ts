import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { config } from '../config.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { type MatchStats, POLICIES, type Policy } from '../matching/types.js';
import { toAppError } from './aws-errors.js';
import { dynamoDocumentClient } from './clients.js';
import { sanitizeFailureReason } from './failure-reason.js';
import { isRunId } from './run-id.js';
import type { RunOutputKeys } from './run-outputs.js';

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
}

/** Tuning of a {@link RunLedger}; the defaults come from the configuration. */
export interface RunLedgerOptions {
  /**
   * How long a run may stay `running` before another worker may take it over (default
   * RUN_STALE_AFTER_SECONDS). Must exceed the worker's Lambda timeout: a live worker is never stale.
   */
  readonly staleAfterMs?: number;
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
 * may take it over.
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
  readonly #now: () => Date;

  constructor(client?: DynamoDBDocumentClient, tableName?: string, options: RunLedgerOptions = {}) {
    this.#client = client ?? dynamoDocumentClient();
    this.#tableName = tableName ?? config().RUNS_TABLE;
    this.#staleAfterMs = options.staleAfterMs ?? config().RUN_STALE_AFTER_SECONDS * 1000;
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
   * Records a new run as `queued`. Creating a run id that already exists changes nothing and
   * returns the stored run with `created: false`, so a retried request gets the same answer.
   */
  async create(input: NewMatchingRun): Promise<{ run: MatchingRun; created: boolean }> {
    if (!isRunId(input.runId)) throw new ValidationError('runId', 'must be a run id (26-character ULID)');
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
   * Claims the run for a worker: `queued` or `failed` → `running`, counting the attempt and
   * clearing the previous failure. A `running` run is taken over only when it is stale (see
   * {@link isStale}); otherwise, and for a succeeded run, this throws ConflictError (a duplicate
   * delivery), so exactly one live worker does the work.
   */
  async markRunning(runId: string): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'running', ['queued', 'failed'], {
      UpdateExpression:
        'SET #status = :to, startedAt = :now, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one ' +
        'REMOVE #error, finishedAt, stats, outputs',
      ExpressionAttributeValues: { ':now': now, ':zero': 0, ':one': 1 },
      orCondition: {
        // `startedAt < :staleBefore` is false when the attribute is missing, so only a dated run is taken over.
        expression: '(#status = :to AND startedAt < :staleBefore)',
        values: { ':staleBefore': this.#staleBefore() },
      },
    });
  }

  /** `running` → `succeeded` with the final stats and the keys of outputs that are fully written. */
  async markSucceeded(runId: string, stats: MatchStats, outputs: RunOutputKeys): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'succeeded', ['running'], {
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
   * `running` or `queued` → `failed`. The reason is stored as one bounded line with any stack
   * frames removed (it is shown over HTTP); use `describeFailure(error)` to build it.
   */
  async markFailed(runId: string, reason: string): Promise<MatchingRun> {
    const now = this.#now().toISOString();
    return this.#transition(runId, 'failed', ['running', 'queued'], {
      UpdateExpression: 'SET #status = :to, #error = :error, finishedAt = :now, updatedAt = :now',
      ExpressionAttributeValues: { ':error': sanitizeFailureReason(reason), ':now': now },
    });
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
    },
  ): Promise<MatchingRun> {
    if (!isRunId(runId)) throw new NotFoundError(`matching run ${runId} does not exist`);
    const fromValues = Object.fromEntries(from.map((status, index) => [`:from${index}`, status]));
    // A missing item has no status, so this also refuses to create a run by updating it.
    const fromCondition = `#status IN (${Object.keys(fromValues).join(', ')})`;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { runId },
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: update.orCondition
            ? `${fromCondition} OR ${update.orCondition.expression}`
            : fromCondition,
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(update.UpdateExpression.includes('#error') ? { '#error': 'error' } : {}),
          },
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
    throw new ConflictError(`matching run ${runId} is ${current.status}; it cannot become ${to}`);
  }
}
