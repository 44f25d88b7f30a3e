import { AppError, ServiceUnavailableError } from '../errors.js';

/** The AWS services this project talks to, as named in error messages. */
export type AwsService = 'DynamoDB' | 'S3' | 'Lambda' | 'Step Functions';

/**
 * An AWS call failed for a reason that is not an outage (access denied, missing table or bucket,
 * a malformed request): a deploy or programming fault, so a generic 500, never retried by clients.
 */
export class AwsDependencyError extends AppError {
  readonly status = 500;
  readonly title = 'Internal error';
  constructor(
    readonly service: AwsService,
    readonly awsErrorName: string,
    options?: { cause?: unknown },
  ) {
    super(`${service} request failed (${awsErrorName})`, options);
  }
}

/** Seconds clients are told to wait (Retry-After) when an AWS dependency is unreachable. */
export const AWS_RETRY_AFTER_SECONDS = 5;

// Socket-level failures seen by the Node HTTP handler when a service is down or unreachable.
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const TIMEOUT_ERROR_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
// Throttling and service-side faults: the dependency is there but cannot serve us right now.
const UNAVAILABLE_ERROR_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  'Throttling',
  'SlowDown',
  'ServiceUnavailable',
  'InternalServerError',
  'InternalError',
]);

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** The first reason in an error's `cause` chain that marks an outage, or undefined. */
export function outageReason(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof ServiceUnavailableError) return current.message;
    const code = field(current, 'code');
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return code;
    const name = field(current, 'name');
    if (typeof name === 'string' && (TIMEOUT_ERROR_NAMES.has(name) || UNAVAILABLE_ERROR_NAMES.has(name))) {
      return name;
    }
    const status = field(field(current, '$metadata'), 'httpStatusCode');
    if (typeof status === 'number' && (status === 429 || status >= 500)) return `HTTP ${status}`;
    current = field(current, 'cause');
  }
  return undefined;
}

/** True when `error` (or anything in its `cause` chain) means an AWS service is unreachable or overloaded. */
export function isOutage(error: unknown): boolean {
  return outageReason(error) !== undefined;
}

/** The AWS error name (`ConditionalCheckFailedException`, `NoSuchKey`, …) or undefined for non-AWS errors. */
export function awsErrorName(error: unknown): string | undefined {
  const name = field(error, 'name');
  return field(error, '$metadata') !== undefined && typeof name === 'string' ? name : undefined;
}

/**
 * Maps a failed AWS call onto the AppError family: outages become ServiceUnavailableError (503
 * with Retry-After), other AWS errors AwsDependencyError (500). AppErrors pass through unchanged,
 * and so does anything that is not an AWS error (a bug in our own code keeps its stack).
 */
export function toAppError(service: AwsService, error: unknown): unknown {
  if (error instanceof AppError) return error;
  const reason = outageReason(error);
  if (reason !== undefined) {
    return new ServiceUnavailableError(`${service} is unavailable (${reason})`, AWS_RETRY_AFTER_SECONDS, {
      cause: error,
    });
  }
  const name = awsErrorName(error);
  return name === undefined ? error : new AwsDependencyError(service, name, { cause: error });
}
