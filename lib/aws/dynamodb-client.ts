import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Config, config } from '../config.js';
import { AWS_MAX_ATTEMPTS, type AwsClientOptions, cachedClient, endpointSettings } from './client-cache.js';

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
 * The cached low-level DynamoDB client for `cfg` (default: the process configuration), created
 * once per container; DYNAMODB_ENDPOINT points it at an emulator.
 */
export function dynamoClient(cfg: Config = config()): DynamoDBClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.DYNAMODB_ENDPOINT };
  return cachedClient('dynamodb', options, () => createDynamoClient(options));
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
  return cachedClient('dynamodb-document', options, () =>
    DynamoDBDocumentClient.from(dynamoClient(cfg), { marshallOptions: { removeUndefinedValues: true } }),
  );
}
