import { describe, expect, it } from 'vitest';
import { AwsDependencyError, isOutage, toAppError } from '../../lib/aws/aws-errors.js';
import { ConflictError, ServiceUnavailableError } from '../../lib/errors.js';
import {
  describeFailure,
  MAX_FAILURE_REASON_LENGTH,
  sanitizeFailureReason,
} from '../../lib/runs/failure-reason.js';

function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode } });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

describe('AWS error mapping', () => {
  it.each([
    ['connection refused', networkError('ECONNREFUSED'), 'ECONNREFUSED'],
    ['connection reset', networkError('ECONNRESET'), 'ECONNRESET'],
    ['DNS failure', networkError('ENOTFOUND'), 'ENOTFOUND'],
    ['request timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'TimeoutError'],
    [
      'throttling',
      awsError('ProvisionedThroughputExceededException', 400),
      'ProvisionedThroughputExceededException',
    ],
    ['a 503 answer', awsError('Unknown', 503), 'HTTP 503'],
    [
      'an outage wrapped as a cause',
      new Error('wrapper', { cause: networkError('ECONNREFUSED') }),
      'ECONNREFUSED',
    ],
  ])('turns %s into ServiceUnavailableError with Retry-After', (_label, error, reason) => {
    const mapped = toAppError('DynamoDB', error);
    expect(mapped).toBeInstanceOf(ServiceUnavailableError);
    expect((mapped as ServiceUnavailableError).message).toBe(`DynamoDB is unavailable (${reason})`);
    expect((mapped as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    expect((mapped as ServiceUnavailableError).cause).toBe(error);
    expect(isOutage(error)).toBe(true);
  });

  it.each([
    ['AccessDenied', 403],
    ['NoSuchBucket', 404],
    ['ResourceNotFoundException', 400],
  ])('turns the non-outage AWS error %s into AwsDependencyError (500)', (name, status) => {
    const mapped = toAppError('S3', awsError(name, status));
    expect(mapped).toBeInstanceOf(AwsDependencyError);
    expect((mapped as AwsDependencyError).status).toBe(500);
    expect((mapped as AwsDependencyError).message).toBe(`S3 request failed (${name})`);
  });

  it('leaves AppErrors and our own bugs untouched', () => {
    const conflict = new ConflictError('busy');
    const bug = new TypeError('x is undefined');
    expect(toAppError('S3', conflict)).toBe(conflict);
    expect(toAppError('S3', bug)).toBe(bug);
    expect(isOutage(bug)).toBe(false);
  });
});

describe('failure reasons', () => {
  it('drop stack frames and keep the message on one line', () => {
    const error = new Error('upload failed\nwhile writing part 2');
    const reason = sanitizeFailureReason(error.stack ?? '');
    expect(reason).toBe('Error: upload failed while writing part 2');
  });

  it('are bounded in length', () => {
    expect(sanitizeFailureReason('y'.repeat(5000))).toHaveLength(MAX_FAILURE_REASON_LENGTH);
  });

  it('are never empty', () => {
    expect(sanitizeFailureReason('   \n  at f (x.js:1:1)')).toBe('unknown failure');
  });

  it('describe an error with its causes, without stacks', () => {
    const error = new ServiceUnavailableError('S3 is unavailable (ECONNREFUSED)', 5, {
      cause: networkError('ECONNREFUSED'),
    });
    const reason = describeFailure(error);
    expect(reason).toBe(
      'ServiceUnavailableError: S3 is unavailable (ECONNREFUSED) <- Error: connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(reason).not.toContain(' at ');
  });

  it('describe thrown non-errors', () => {
    expect(describeFailure('plain string')).toBe('plain string');
  });
});
