import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { isOutage } from '../../aws/aws-errors.js';
import { config } from '../../config.js';
import { logger } from '../../logger.js';
import { getDocumentStore } from '../../store/get-document-store.js';
import { lazyDocumentStore } from '../../store/lazy-store.js';
import { describeFailure } from '../failure-reason.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import { RunLedger } from '../ledger.js';
import { ResultsBucket } from '../results-bucket.js';
import { runIdSchema } from '../run-id.js';
import {
  type FailInput,
  failShardedRun,
  mergeMatchingRun,
  type PlanResult,
  planMatchingRun,
  runMatchingShard,
  type ShardOptions,
  type ShardResult,
  type ShardStepDeps,
} from '../shards/index.js';
import { describeIssues } from './invocation.js';
import type { WorkerDeps } from './worker-core.js';

/**
 * The four Lambda functions of the matching state machine (serverless/matching-state-machine.yml):
 * plan, one shard, merge and fail. Each parses its input, builds the steps' dependencies as the
 * matching worker does and calls its step (lib/runs/shards/). A failure is thrown, never returned,
 * so that Step Functions sees it: the error's `name` is the state machine's `Error` (an outage is
 * `TransientError`, which the states Retry; anything else goes to the Catch) and its one-line
 * message the `Cause`.
 */

/** The Error name the state machine retries: an AWS service or MongoDB was unreachable or throttled. */
export const TRANSIENT_ERROR = 'TransientError';
/** The Error name of an input the state machine should never have sent (not retried). */
export const INVALID_STEP_INPUT = 'InvalidStepInput';
/** The Error name of a merge that ended with the run recorded failed (not an outage). */
export const RUN_FAILED = 'RunFailed';

/** An error for Step Functions: `name` is its `Error`, `message` (one line) its `Cause`. */
export class StepFailure extends Error {
  constructor(name: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** What a step threw, as Step Functions should see it: outages become {@link TRANSIENT_ERROR}. */
export function stepFailure(error: unknown): StepFailure {
  if (error instanceof StepFailure) return error;
  const name = isOutage(error)
    ? TRANSIENT_ERROR
    : error instanceof Error && /^[A-Za-z][A-Za-z0-9_.]{0,99}$/.test(error.name)
      ? error.name
      : 'Error';
  return new StepFailure(name, describeFailure(error), { cause: error });
}

/** The steps the handlers call (tests give their own). */
export interface ShardSteps {
  readonly plan: (runId: string, deps: ShardStepDeps) => Promise<PlanResult>;
  readonly shard: (item: { runId: string; shard: number }, deps: ShardStepDeps) => Promise<ShardResult>;
  readonly merge: (runId: string, deps: ShardStepDeps) => Promise<MatchingJobOutcome>;
  readonly fail: (input: FailInput, deps: ShardStepDeps) => Promise<MatchingJobOutcome>;
}

const PRODUCTION_STEPS: ShardSteps = {
  plan: planMatchingRun,
  shard: runMatchingShard,
  merge: mergeMatchingRun,
  fail: failShardedRun,
};

export interface ShardWorkerDeps extends Omit<WorkerDeps, 'bucket' | 'lambdaRetries'> {
  readonly bucket: ResultsBucket;
  readonly shardOptions: ShardOptions;
}

/** The dependencies the four functions take from the configuration. */
export function productionShardWorkerDeps(): ShardWorkerDeps {
  const cfg = config();
  return {
    ledger: new RunLedger(),
    bucket: new ResultsBucket(),
    store: () => getDocumentStore(cfg),
    progressIntervalMs: cfg.RUN_PROGRESS_INTERVAL_MS,
    shardOptions: {
      autoThresholdRecords: cfg.SHARD_AUTO_THRESHOLD_RECORDS,
      recordsPerShard: cfg.SHARD_RECORDS,
      maxShards: cfg.MAX_SHARDS,
    },
    ...(cfg.WORKER_SAFETY_MARGIN_MS === undefined ? {} : { safetyMarginMs: cfg.WORKER_SAFETY_MARGIN_MS }),
  };
}

/** One invocation's step dependencies (as lib/runs/workers/worker-core.ts's jobDeps, with the ResultsBucket). */
function stepDeps(deps: ShardWorkerDeps, context: Context): ShardStepDeps {
  return {
    store: lazyDocumentStore(deps.store),
    ledger: deps.ledger,
    bucket: deps.bucket,
    deadline: () => context.getRemainingTimeInMillis(),
    owner: context.awsRequestId,
    shardOptions: deps.shardOptions,
    ...(deps.safetyMarginMs === undefined ? {} : { safetyMarginMs: deps.safetyMarginMs }),
    ...(deps.progressIntervalMs === undefined ? {} : { progressIntervalMs: deps.progressIntervalMs }),
  };
}

const runInput = z.object({ runId: runIdSchema });
/**
 * The plan's input: `owner` is the execution's name ($$.Execution.Name), so a retried Plan task,
 * a new Lambda request, claims the run as the same owner (RunLedger.markRunning) instead of
 * finding it held by its own earlier attempt.
 */
const planInput = runInput.extend({ owner: z.string().min(1).max(80).optional() });
const shardInput = z.object({ runId: runIdSchema, shard: z.number().int().nonnegative() });
const failInput = z.object({
  runId: runIdSchema,
  shard: z.number().int().nonnegative().optional(),
  // Step Functions' Catch output ({ Error, Cause }); Cause may be any JSON a service gave.
  error: z.object({ Error: z.string().optional(), Cause: z.unknown().optional() }).optional(),
});

function parse<T>(schema: z.ZodType<T>, event: unknown): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success)
    throw new StepFailure(INVALID_STEP_INPUT, `malformed step input: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** A Catch's Cause as one line of text (a Lambda's Cause is the JSON of its error). */
function causeText(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  const text = typeof cause === 'string' ? cause : JSON.stringify(cause);
  try {
    const parsed = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: the text itself.
  }
  return text;
}

/** The handlers' logic, independent of Lambda plumbing. */
export function createShardWorkers(deps: ShardWorkerDeps, steps: ShardSteps = PRODUCTION_STEPS) {
  async function step<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const failure = stepFailure(error);
      logger.error('sharded run step failed', { error: failure.name, reason: failure.message });
      throw failure;
    }
  }

  return {
    /** `{ runId }` → the plan (claimed false: the run was not claimable, the execution ends). */
    plan: (event: unknown, context: Context): Promise<PlanResult> =>
      step(async () => {
        const { runId, owner } = parse(planInput, event);
        logger.appendKeys({ runId });
        return steps.plan(runId, { ...stepDeps(deps, context), ...(owner === undefined ? {} : { owner }) });
      }),

    /** `{ runId, shard }` → that shard's stats (its outputs and shard.json are in S3). */
    shard: (event: unknown, context: Context): Promise<ShardResult> =>
      step(async () => {
        const item = parse(shardInput, event);
        logger.appendKeys({ runId: item.runId, shard: item.shard });
        return steps.shard(item, stepDeps(deps, context));
      }),

    /** `{ runId }` → the run's outcome; a failed merge throws (an outage: TransientError). */
    merge: (event: unknown, context: Context): Promise<MatchingJobOutcome> =>
      step(async () => {
        const { runId } = parse(runInput, event);
        logger.appendKeys({ runId });
        const outcome = await steps.merge(runId, stepDeps(deps, context));
        if (outcome.status === 'failed')
          throw new StepFailure(outcome.transient ? TRANSIENT_ERROR : RUN_FAILED, outcome.reason);
        return outcome;
      }),

    /** `{ runId, shard?, error? }` (a Catch's output) → the run recorded failed. */
    fail: (event: unknown, context: Context): Promise<MatchingJobOutcome> =>
      step(async () => {
        const input = parse(failInput, event);
        logger.appendKeys({
          runId: input.runId,
          ...(input.shard === undefined ? {} : { shard: input.shard }),
        });
        const cause = causeText(input.error?.Cause);
        const error =
          input.error === undefined
            ? undefined
            : {
                ...(input.error.Error === undefined ? {} : { Error: input.error.Error }),
                ...(cause === undefined ? {} : { Cause: cause }),
              };
        return steps.fail(
          {
            runId: input.runId,
            ...(input.shard === undefined ? {} : { shard: input.shard }),
            ...(error === undefined ? {} : { error }),
          },
          stepDeps(deps, context),
        );
      }),
  };
}

type ShardWorkers = ReturnType<typeof createShardWorkers>;

/** One step as a Lambda handler: Powertools context in every log line; dependencies built at cold start. */
function stepHandler<K extends keyof ShardWorkers>(key: K, deps?: ShardWorkerDeps) {
  const handle = createShardWorkers(deps ?? productionShardWorkerDeps())[key];
  return middy<unknown, Awaited<ReturnType<ShardWorkers[K]>>>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(handle as (event: unknown, context: Context) => Promise<Awaited<ReturnType<ShardWorkers[K]>>>);
}

export const planMatchingRunHandler = (deps?: ShardWorkerDeps) => stepHandler('plan', deps);
export const matchingShardHandler = (deps?: ShardWorkerDeps) => stepHandler('shard', deps);
export const mergeMatchingRunHandler = (deps?: ShardWorkerDeps) => stepHandler('merge', deps);
export const failMatchingRunHandler = (deps?: ShardWorkerDeps) => stepHandler('fail', deps);
