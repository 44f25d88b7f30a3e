/**
 * One error family for the whole service. Each subclass carries the HTTP status it maps to; the
 * HTTP layer (lib/http) is the only place that turns these into responses. Errors with a status
 * below 500 expose their message to clients; anything else becomes a generic 500/503 body.
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  /** Short, human-readable summary used as the problem+json `title`. */
  abstract readonly title: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that breaks a documented rule. `field` names the offending input, `reason` says why. */
export class ValidationError extends AppError {
  readonly status = 400;
  readonly title = 'Invalid request';
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${reason}`, options);
  }
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly title = 'Not found';
}

export class ConflictError extends AppError {
  readonly status = 409;
  readonly title = 'Conflict';
}

/** A dependency (database, DynamoDB, S3) is unreachable; clients should retry later. */
export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly title = 'Service unavailable';
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
