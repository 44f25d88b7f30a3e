import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../errors.js';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './http-errors.js';

/** Default body limit: the routes take a few small fields, so anything bigger is a mistake or abuse. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/** An HTTP API event after `jsonBody` ran: `parsedBody` is the decoded JSON, or undefined for no body. */
export type JsonBodyEvent = APIGatewayProxyEventV2 & { parsedBody?: unknown };

/**
 * Parses a JSON request body into `event.parsedBody`. Our own middleware rather than
 * `@middy/http-json-body-parser` because that one answers malformed JSON with 415 (it is a 400)
 * and carries the raw body in the error's `cause`, which error loggers then print.
 * An absent or empty body is allowed (the route's schema decides whether it may be omitted).
 */
export function jsonBody(options: { maxBytes?: number } = {}): MiddlewareObj<JsonBodyEvent> {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES;
  return {
    before: function parseJsonBody(request): void {
      const { event } = request;
      const raw = event.body;
      if (raw === undefined || raw === null || raw === '') {
        event.parsedBody = undefined;
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
      try {
        event.parsedBody = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new ValidationError('body', 'is not valid JSON');
      }
    },
  };
}
