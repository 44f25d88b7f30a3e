import { AWS_RETRY_AFTER_SECONDS, isOutage } from '../aws/aws-errors.js';
import { AppError, ServiceUnavailableError } from '../errors.js';

/** RFC 9457 problem details, the body of every error response. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An error turned into its HTTP form: status, problem body and extra headers. */
export interface ProblemResponse {
  readonly problem: Problem;
  readonly headers: Readonly<Record<string, string>>;
  /** False when the error is internal (500): log it in full, it was not shown to the client. */
  readonly expected: boolean;
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Invalid request',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  500: 'Internal server error',
  503: 'Service unavailable',
};

/** Builds a problem body; `type` stays `about:blank` because the status code is the machine-readable kind. */
export function problem(status: number, detail: string, title = TITLES[status] ?? 'Error'): Problem {
  return { type: 'about:blank', title, status, detail };
}

const UNAVAILABLE_DETAIL = 'A service this request depends on is temporarily unavailable; retry later.';

/**
 * The single mapping from errors to HTTP answers. AppErrors below 500 expose their message;
 * 503 (explicit, or a recognisably transient dependency failure) gets a generic detail and
 * `Retry-After`; everything else is a generic 500 that names only the request id.
 */
export function toProblemResponse(error: unknown, requestId?: string): ProblemResponse {
  if (error instanceof ServiceUnavailableError) {
    return unavailable(error.retryAfterSeconds);
  }
  if (error instanceof AppError && error.status < 500) {
    return { problem: problem(error.status, error.message, error.title), headers: {}, expected: true };
  }
  // An outage an adapter did not wrap (socket errors, throttling, 5xx from AWS, middy's early timeout).
  if (isOutage(error)) {
    return unavailable(AWS_RETRY_AFTER_SECONDS);
  }
  const reference = requestId ? ` (request id ${requestId})` : '';
  return {
    problem: problem(500, `An unexpected error occurred${reference}.`),
    headers: {},
    expected: false,
  };
}

function unavailable(retryAfterSeconds: number): ProblemResponse {
  return {
    problem: problem(503, UNAVAILABLE_DETAIL),
    headers: { 'Retry-After': String(Math.max(1, Math.round(retryAfterSeconds))) },
    expected: true,
  };
}
