import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { ServiceUnavailableError } from '../errors.js';

/**
 * Server error codes that mean "this node cannot serve right now" (shutdown, step-down, failover),
 * plus AuthenticationFailed: a rotated or wrong password makes the database unavailable to us,
 * and retrying after the secret is fixed is the right client behaviour.
 */
const UNAVAILABLE_SERVER_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  18, // AuthenticationFailed
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

function unavailabilityReason(error: unknown): string | undefined {
  if (error instanceof MongoServerSelectionError) return 'no server could be selected in time';
  if (error instanceof MongoNetworkError) return 'network error';
  if (error instanceof MongoOperationTimeoutError) return 'operation timed out';
  if (error instanceof MongoTopologyClosedError || error instanceof MongoNotConnectedError) {
    return 'not connected';
  }
  if (error instanceof Error && error.name === 'MongoWaitQueueTimeoutError')
    return 'connection pool exhausted';
  if (
    error instanceof MongoServerError &&
    typeof error.code === 'number' &&
    UNAVAILABLE_SERVER_CODES.has(error.code)
  ) {
    return error.code === 18 ? 'authentication failed' : 'server cannot serve requests';
  }
  return undefined;
}

/**
 * Turns driver errors that mean "the database is unreachable" into a `ServiceUnavailableError`
 * (HTTP 503, retry later). Its message is built here from fixed words and never contains the
 * connection string or credentials; the driver error is kept as `cause` for logs. Other errors
 * (a bad pipeline, a duplicate key) are returned unchanged.
 */
export function toStoreError(error: unknown): unknown {
  if (error instanceof ServiceUnavailableError) return error;
  // By name too: mongodb-connection-string-url throws its own MongoParseError class.
  if (error instanceof MongoParseError || (error instanceof Error && error.name === 'MongoParseError')) {
    // The parse message can quote parts of the URI: keep neither it nor the cause.
    return new Error('MONGODB_URI is not a valid MongoDB connection string');
  }
  const reason = unavailabilityReason(error);
  return reason
    ? new ServiceUnavailableError(`MongoDB is unavailable: ${reason}`, 5, { cause: error })
    : error;
}
