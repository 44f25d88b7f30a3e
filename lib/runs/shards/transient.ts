import { isOutage } from '../../aws/aws-errors.js';
import { describeFailure } from '../failure-reason.js';

/**
 * A step failed because a dependency is out (DynamoDB, S3 or MongoDB unreachable or throttling):
 * the state machine retries errors of this name (notes/shards-contract.md). Its message is one
 * line, as Step Functions shows it as the `Cause`.
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/**
 * What a step throws for `error`: a TransientError for an outage, else an Error with the same
 * name and a one-line message (no stack frames, bounded), so Step Functions' `Error`/`Cause`
 * name what went wrong.
 */
export function stepError(error: unknown, context: string): Error {
  const reason = `${context}: ${describeFailure(error)}`;
  if (isOutage(error)) return new TransientError(reason, { cause: error });
  const thrown = new Error(reason, { cause: error });
  if (error instanceof Error && error.name !== 'Error') thrown.name = error.name;
  return thrown;
}
