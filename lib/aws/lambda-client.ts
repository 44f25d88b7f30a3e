import { LambdaClient } from '@aws-sdk/client-lambda';
import { type Config, config } from '../config.js';
import { AWS_MAX_ATTEMPTS, type AwsClientOptions, cachedClient, endpointSettings } from './client-cache.js';

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

/** The cached Lambda client for `cfg` (LAMBDA_ENDPOINT: serverless-offline's invoke endpoint locally). */
export function lambdaClient(cfg: Config = config()): LambdaClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.LAMBDA_ENDPOINT };
  return cachedClient('lambda', options, () => createLambdaClient(options));
}
