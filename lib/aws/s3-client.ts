import { S3Client } from '@aws-sdk/client-s3';
import { type Config, config } from '../config.js';
import { AWS_MAX_ATTEMPTS, type AwsClientOptions, cachedClient, endpointSettings } from './client-cache.js';

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

/** The cached S3 client for `cfg` (default: the process configuration); S3_ENDPOINT points it at an emulator. */
export function s3Client(cfg: Config = config()): S3Client {
  const options = { region: cfg.AWS_REGION, endpoint: cfg.S3_ENDPOINT };
  return cachedClient('s3', options, () => createS3Client(options));
}
