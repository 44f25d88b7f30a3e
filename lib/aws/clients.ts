/**
 * AWS SDK v3 clients, created lazily once per container and reused across invocations, for
 * scripts and tests that want all of them in one import.
 *
 * Lambda code imports the per-service module it needs instead (dynamodb-client.ts, s3-client.ts,
 * lambda-client.ts, sfn-client.ts): importing this file loads the DynamoDB, S3 and Lambda clients together, and
 * loading an SDK client is a large part of a function's cold start.
 *
 * With an emulator endpoint (DYNAMODB_ENDPOINT / S3_ENDPOINT / LAMBDA_ENDPOINT) the clients use
 * static dummy credentials, so a developer machine needs no AWS profile.
 */

export {
  AWS_MAX_ATTEMPTS,
  type AwsClientOptions,
  LOCAL_CREDENTIALS,
  resetAwsClients,
} from './client-cache.js';
export { createDynamoClient, dynamoClient, dynamoDocumentClient } from './dynamodb-client.js';
export { createLambdaClient, lambdaClient } from './lambda-client.js';
export { createS3Client, s3Client } from './s3-client.js';
export { createSfnClient, sfnClient } from './sfn-client.js';
