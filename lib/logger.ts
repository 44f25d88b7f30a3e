import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { redactValue } from './redact.js';

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
