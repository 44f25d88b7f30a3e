import * as z from 'zod';

/**
 * Runtime configuration, read and validated once per cold start. A bad deploy fails at module
 * load, not in the middle of a request. Secrets (the MongoDB URI) are never logged: use
 * `describeConfig` for log lines.
 */
const optionalUrl = z.url().optional();

/** An optional non-negative integer where an empty string counts as unset (`VAR=` in a shell or a YAML file). */
const optionalMillis = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.coerce.number().int().nonnegative().optional(),
);

/** Worker Lambda timeout (serverless.yml) plus a margin: a `running` run older than this has lost its worker. */
export const DEFAULT_RUN_STALE_AFTER_SECONDS = 960;

/** A running run's progress is written at most this often, besides its phase changes (SPEC §9). */
export const DEFAULT_RUN_PROGRESS_INTERVAL_MS = 5_000;

/** A run still `queued` this long after its last change was never picked up by a worker. */
export const DEFAULT_QUEUED_RUN_STALE_AFTER_SECONDS = 60;

export const configSchema = z.object({
  /** When set, data comes from MongoDB; otherwise from the embedded store in DATA_DIR. */
  MONGODB_URI: z.string().min(1).optional(),
  /** SSM SecureString parameter holding the URI (deployed stages); read at cold start. */
  MONGODB_URI_PARAMETER: z.string().min(1).optional(),
  MONGODB_DB: z.string().min(1).default('billing'),
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  DATA_DIR: z.string().min(1).default('.data/store'),
  RUNS_TABLE: z.string().min(1).default('matching-runs'),
  IDEMPOTENCY_TABLE: z.string().min(1).default('idempotency'),
  RESULTS_BUCKET: z.string().min(1).default('matching-results'),
  WORKER_FUNCTION_NAME: z.string().min(1).default('matching-worker'),
  /** Emulator endpoints for local runs and tests; unset in AWS. */
  DYNAMODB_ENDPOINT: optionalUrl,
  S3_ENDPOINT: optionalUrl,
  LAMBDA_ENDPOINT: optionalUrl,
  PRESIGNED_URL_TTL_SECONDS: z.coerce.number().int().min(1).max(900).default(300),
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(86_400),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /**
   * Comma-separated browser origins allowed by CORS (`https://app.example.com`, `*` for any).
   * Empty: no CORS headers. Deployed stages authenticate with a JWT, so no origin is trusted by default.
   */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
    ),
  /** The worker stops this long before its Lambda time limit; unset: lib/runs/job.ts's default. */
  WORKER_SAFETY_MARGIN_MS: optionalMillis,
  /**
   * A run `running` for longer than this is presumed orphaned (its worker crashed or was killed) and
   * may be claimed again. Must exceed the worker's Lambda timeout, or two workers could run one run.
   */
  RUN_STALE_AFTER_SECONDS: z.coerce.number().int().positive().default(DEFAULT_RUN_STALE_AFTER_SECONDS),
  /**
   * A run `queued` for longer than this was never started (the dispatch was lost, or it failed and
   * could not be recorded): a repeated POST with the same Idempotency-Key dispatches it again.
   */
  QUEUED_RUN_STALE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULT_QUEUED_RUN_STALE_AFTER_SECONDS),
  /**
   * Time between two progress writes of a running run, besides the writes at each phase change: a
   * run writes about (duration / this) + 2 progress updates, whatever its size.
   */
  RUN_PROGRESS_INTERVAL_MS: z.coerce.number().int().positive().default(DEFAULT_RUN_PROGRESS_INTERVAL_MS),
  /**
   * Sharded runs (issue 12). `shards: "auto"` shards a partitioned run when the collections'
   * estimated size reaches SHARD_AUTO_THRESHOLD_RECORDS (accruals + payments), with about
   * SHARD_RECORDS records per shard; no run has more than MAX_SHARDS shards (requests asking for
   * more are refused).
   */
  SHARD_AUTO_THRESHOLD_RECORDS: z.coerce.number().int().positive().default(2_000_000),
  SHARD_RECORDS: z.coerce.number().int().positive().default(1_000_000),
  MAX_SHARDS: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** How many shards of one run run at once (the Map state's MaxConcurrency, given in the execution input). */
  SHARD_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(100),
  /** The state machine that runs sharded runs (serverless.yml `matchingRun`); unset: sharded runs cannot start. */
  MATCHING_STATE_MACHINE_ARN: z.string().min(1).optional(),
  /** A local Step Functions endpoint (scripts/local-step-functions.ts); unset in AWS. */
  SFN_ENDPOINT: optionalUrl,
  /** Set to `true` by serverless-offline: no Lambda retries there (see lib/runs/workers/matching-worker.ts). */
  IS_OFFLINE: z
    .string()
    .optional()
    .transform((value) => value === 'true'),
});

export type Config = z.infer<typeof configSchema>;

let cached: Config | undefined;

/** Parses `env` (default `process.env`). Throws a readable error naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The process-wide configuration, parsed on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** Test hook: forget the cached configuration so the next `config()` re-reads the environment. */
export function resetConfig(): void {
  cached = undefined;
}

/** A loggable view of the configuration: the MongoDB URI is reduced to its host list. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    store: c.MONGODB_URI || c.MONGODB_URI_PARAMETER ? 'mongodb' : 'embedded',
    mongoHosts: c.MONGODB_URI ? redactMongoUri(c.MONGODB_URI) : undefined,
    database: c.MONGODB_DB,
    runsTable: c.RUNS_TABLE,
    resultsBucket: c.RESULTS_BUCKET,
  };
}

/** Removes credentials and query options from a MongoDB connection string. */
export function redactMongoUri(uri: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/]*@)?([^/?]*)/.exec(uri);
  return match ? `${match[1]}${match[2]}` : '<unparseable uri>';
}
