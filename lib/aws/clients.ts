import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Config, config } from '../config.js';

/**
 * AWS SDK v3 clients, created lazily once per container and reused across invocations (sockets
 * and credentials are cached inside each client). The cache is keyed by region and endpoint, so
 * tests that point at different emulators get different clients.
 *
 * With an emulator endpoint (DYNAMODB_ENDPOINT / S3_ENDPOINT / LAMBDA_ENDPOINT) the clients use
 * static dummy credentials, so a developer machine needs no AWS profile.
 */

/** Credentials sent to the local emulators. s3rver only accepts keys it knows: scripts/emulators registers these. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Three attempts with the SDK's jittered backoff: enough to ride over a dropped keep-alive socket,
 * few enough that an outage surfaces as a 503 within seconds instead of at the Lambda timeout.
 */
export const AWS_MAX_ATTEMPTS = 3;

/** Where and how to reach one AWS service. */
export interface AwsClientOptions {
  readonly region: string;
  /** An emulator URL; unset in AWS. */
  readonly endpoint?: string | undefined;
}

function endpointSettings(endpoint: string | undefined) {
  return endpoint ? { endpoint, credentials: LOCAL_CREDENTIALS } : {};
}

/**
 * A new low-level DynamoDB client. DynamoDB calls are small, so a request that takes more than a
 * few seconds means the service is unreachable: fail it (`throwOnRequestTimeout`) rather than
 * only logging a warning, which is the SDK's default.
 */
export function createDynamoClient(options: AwsClientOptions): DynamoDBClient {
  return new DynamoDBClient({
    region: options.region,
    maxAttempts: AWS_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
    ...endpointSettings(options.endpoint),
  });
}

/**
 * A new S3 client. Uploads send 5 MiB parts, hence the longer request timeout. Emulators get
 * path-style addressing (no bucket DNS names on 127.0.0.1) and checksums only where S3 requires
 * them, because s3rver does not understand the SDK's default CRC32 trailers.
 */
export function createS3Client(options: AwsClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    maxAttempts: AWS_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    ...(options.endpoint
      ? {
          ...endpointSettings(options.endpoint),
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : {}),
  });
}

/**
 * A new Lambda client. No request timeout: a synchronous invocation legitimately lasts as long
 * as the function runs; connecting is what must fail fast.
 */
export function createLambdaClient(options: AwsClientOptions): LambdaClient {
  return new LambdaClient({
    region: options.region,
    maxAttempts: AWS_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 1000 },
    ...endpointSettings(options.endpoint),
  });
}

type Destroyable = { destroy(): void };
const cache = new Map<string, Destroyable>();

function cached<T extends Destroyable>(kind: string, options: AwsClientOptions, create: () => T): T {
  const key = `${kind}|${options.region}|${options.endpoint ?? ''}`;
  const existing = cache.get(key);
  if (existing) return existing as T;
  const client = create();
  cache.set(key, client);
  return client;
}

/** The cached low-level DynamoDB client for `cfg` (default: the process configuration). */
export function dynamoClient(cfg: Config = config()): DynamoDBClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.DYNAMODB_ENDPOINT };
  return cached('dynamodb', options, () => createDynamoClient(options));
}

/**
 * The cached DynamoDB document client for `cfg`, sharing the low-level client of
 * {@link dynamoClient}. `undefined` attributes are dropped instead of rejected, so optional
 * fields of a run can be written as they are.
 *
 * @example
 * ```ts
 * const ledger = new RunLedger(dynamoDocumentClient(), config().RUNS_TABLE);
 * ```
 */
export function dynamoDocumentClient(cfg: Config = config()): DynamoDBDocumentClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.DYNAMODB_ENDPOINT };
  return cached('dynamodb-document', options, () =>
    DynamoDBDocumentClient.from(dynamoClient(cfg), { marshallOptions: { removeUndefinedValues: true } }),
  );
}

/** The cached S3 client for `cfg`. */
export function s3Client(cfg: Config = config()): S3Client {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.S3_ENDPOINT };
  return cached('s3', options, () => createS3Client(options));
}

/** The cached Lambda client for `cfg` (LAMBDA_ENDPOINT: serverless-offline's invoke endpoint locally). */
export function lambdaClient(cfg: Config = config()): LambdaClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.LAMBDA_ENDPOINT };
  return cached('lambda', options, () => createLambdaClient(options));
}

/**
 * Test hook: destroys every cached client (closing its keep-alive sockets) and forgets it, so the
 * next call builds a fresh one from the then-current configuration.
 */
export function resetAwsClients(): void {
  for (const client of cache.values()) client.destroy();
  cache.clear();
}
