import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../errors.js';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './http-errors.js';

/** Default body limit: the routes take a few small fields, so anything bigger is a mistake or abuse. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/** An HTTP API event after `jsonBody` ran: `parsedBody` is the decoded JSON, or undefined for no body. */
export type JsonBodyEvent = APIGatewayProxyEventV2 & { parsedBody?: unknown };

/** The Content-Length the client declared, or undefined when it sent none (chunked) or a malformed one. */
function declaredLength(event: JsonBodyEvent): number | undefined {
  const value = event.headers?.['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Parses a JSON request body into `event.parsedBody`. Our own middleware rather than
 * `@middy/http-json-body-parser` because that one answers malformed JSON with 415 (it is a 400)
 * and carries the raw body in the error's `cause`, which error loggers then print.
 * An absent or empty body is allowed (the route's schema decides whether it may be omitted).
 *
 * API Gateway passes the body as sent, a string (base64 for binary media types). serverless-offline
 * parses JSON bodies itself and passes some results on changed: `0` and `false` as those values,
 * `null` and `""` as a null body, and a JSON string unquoted (`"month-first"` as `month-first`).
 * Content-Length tells those apart from what was sent: a body shorter than declared was a JSON
 * value other than an object (parsedBody `null`, which no body schema accepts). Without
 * Content-Length (a chunked request) they cannot be told apart; API Gateway is not affected.
 */
export function jsonBody(options: { maxBytes?: number } = {}): MiddlewareObj<JsonBodyEvent> {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES;
  return {
    before: function parseJsonBody(request): void {
      const { event } = request;
      // Typed as a string, but serverless-offline passes other values through (see above).
      const raw: unknown = event.body;
      const declared = declaredLength(event);
      if (raw === undefined || raw === null || raw === '') {
        event.parsedBody = declared !== undefined && declared > 0 ? null : undefined;
        return;
      }
      if (typeof raw !== 'string') {
        event.parsedBody = raw;
        return;
      }
      const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
      if (bytes.byteLength > maxBytes) {
        throw new PayloadTooLargeError(`body: must be at most ${maxBytes} bytes`);
      }
      const contentType = event.headers?.['content-type'];
      if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) {
        throw new UnsupportedMediaTypeError('content-type: must be application/json');
      }
      if (!event.isBase64Encoded && declared !== undefined && bytes.byteLength < declared) {
        event.parsedBody = null;
        return;
      }
      try {
        event.parsedBody = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new ValidationError('body', 'is not valid JSON');
      }
    },
  };
}
