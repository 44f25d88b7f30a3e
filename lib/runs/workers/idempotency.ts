import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyConfigOptions } from '@aws-lambda-powertools/idempotency/types';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toAppError } from '../../aws/aws-errors.js';
import { dynamoClient } from '../../aws/dynamodb-client.js';
import { type Config, config } from '../../config.js';
import { ConflictError } from '../../errors.js';

/**
 * Powertools idempotency persistence on the IDEMPOTENCY_TABLE, through our cached DynamoDB client
 * so that it honours DYNAMODB_ENDPOINT and the fail-fast timeouts. The table uses Powertools'
 * default attribute names (key `id`, TTL `expiration`, see scripts/tables.ts), so none are mapped.
 *
 * @example
 * ```ts
 * const persistenceStore = idempotencyPersistenceLayer();
 * const idempotency = idempotencyConfig({ eventKeyJmesPath: 'id' });
 * export const handler = makeIdempotent(work, { persistenceStore, config: idempotency });
 * ```
 */
export function idempotencyPersistenceLayer(
  cfg: Config = config(),
  client: DynamoDBClient = dynamoClient(cfg),
): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({ tableName: cfg.IDEMPOTENCY_TABLE, awsSdkV3Client: client });
}

/**
 * An IdempotencyConfig whose records expire after IDEMPOTENCY_TTL_SECONDS. In a Lambda handler call
 * `registerLambdaContext(context)` on it (the middy middleware does this itself): without the
 * context an interrupted invocation's INPROGRESS record blocks retries until the record expires,
 * with it only until that invocation's timeout.
 */
export function idempotencyConfig(
  options: IdempotencyConfigOptions = {},
  cfg: Config = config(),
): IdempotencyConfig {
  return new IdempotencyConfig({ expiresAfterSeconds: cfg.IDEMPOTENCY_TTL_SECONDS, ...options });
}

/**
 * Maps Powertools idempotency failures onto the AppError family: a duplicate still being processed
 * → ConflictError (409, retry later gets the stored answer); the same key with a different payload
 * → ConflictError; DynamoDB unreachable → ServiceUnavailableError. Anything else is returned as is.
 */
export function idempotencyErrorToAppError(error: unknown): unknown {
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return new ConflictError('a request with the same idempotency key is still in progress', {
      cause: error,
    });
  }
  if (error instanceof IdempotencyValidationError) {
    return new ConflictError('the idempotency key was already used with a different payload', {
      cause: error,
    });
  }
  return toAppError('DynamoDB', error);
}
