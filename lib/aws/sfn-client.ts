import { SFNClient } from '@aws-sdk/client-sfn';
import { type Config, config } from '../config.js';
import { AWS_MAX_ATTEMPTS, type AwsClientOptions, cachedClient, endpointSettings } from './client-cache.js';

/** A new Step Functions client: connecting fails fast, StartExecution answers in milliseconds. */
export function createSfnClient(options: AwsClientOptions): SFNClient {
  return new SFNClient({
    region: options.region,
    maxAttempts: AWS_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 5000 },
    ...endpointSettings(options.endpoint),
  });
}

/** The cached Step Functions client for `cfg` (SFN_ENDPOINT: the local endpoint of scripts/local-step-functions.ts). */
export function sfnClient(cfg: Config = config()): SFNClient {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.SFN_ENDPOINT };
  return cachedClient('sfn', options, () => createSfnClient(options));
}
