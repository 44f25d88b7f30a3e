import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

/**
 * Log redaction. Log lines may quote error messages from the driver or the AWS SDK, which can carry
 * a connection string or a presigned URL; both are credentials. Every string that reaches the
 * log formatter passes through `redactSecrets`.
 */

const MONGODB_CREDENTIALS = /(mongodb(?:\+srv)?:\/\/)[^@/\s]*@/gi;
/** SigV4 query parameters that authorise a presigned URL (the signature and the signing key scope). */
const PRESIGN_PARAMETERS = /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"']*/gi;

/** Replaces MongoDB URI credentials and presigned-URL signatures in `text` with `***`. */
export function redactSecrets(text: string): string {
  return text.replace(MONGODB_CREDENTIALS, '$1***@').replace(PRESIGN_PARAMETERS, '$1***');
}

/** Deep copy of a JSON-like value with every string passed through `redactSecrets`. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactValue(item, depth + 1);
  return copy;
}

/**
 * The Powertools layout (level, message, timestamp, service, Lambda context incl. the request id),
 * with every value redacted: error messages from dependencies can quote a connection string or a
 * presigned URL.
 */
class RedactingLogFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      xray_trace_id: attributes.xRayTraceId,
    };
    return new LogItem({
      attributes: redactValue(this.#withFormattedErrors({ ...base, ...additional })) as LogAttributes,
    });
  }

  /** Errors nested in log attributes become plain objects (name, message, location, stack, cause). */
  #withFormattedErrors(attributes: LogAttributes): LogAttributes {
    const formatted: LogAttributes = {};
    for (const [key, value] of Object.entries(attributes)) {
      formatted[key] = value instanceof Error ? this.formatError(value) : value;
    }
    return formatted;
  }
}

/**
 * The service's structured JSON logger (one per container). Events and bodies are never logged
 * (`logEvent` stays off); log the fields you need explicitly.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'zhkh-billing',
  logFormatter: new RedactingLogFormatter(),
});
