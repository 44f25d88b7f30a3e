import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { config } from '../config.js';
import { ValidationError } from '../errors.js';
import { logger } from '../logger.js';
import { type JsonBodyEvent, jsonBody } from './json-body.js';
import { PROBLEM_CONTENT_TYPE, toProblemResponse } from './problem.js';
import { type ParsedRequest, parseRequest, type RequestSchemas } from './request.js';

/** What a route returns: a status, a JSON-serialisable body (Dates become ISO 8601 strings), headers. */
export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler<S extends RequestSchemas> = (
  request: ParsedRequest<S>,
  context: Context,
) => Promise<HttpResult>;

export type HttpLambdaHandler = MiddyfiedHandler<JsonBodyEvent, APIGatewayProxyResultV2>;

/** Turns any error into an `application/problem+json` response and logs it once, redacted. */
function problemErrorHandler(): MiddlewareObj<JsonBodyEvent, APIGatewayProxyResultV2> {
  return {
    onError: function problemResponseOnError(request): void {
      const { problem, headers, expected } = toProblemResponse(request.error, request.context.awsRequestId);
      const error = request.error;
      if (expected) {
        logger.warn('request failed', {
          route: request.event.routeKey,
          status: problem.status,
          // A ValidationError's field can be a key the client made up (an unknown body field holding
          // a name, say): the client sees it in the answer, the logs get only the reason.
          detail:
            error instanceof ValidationError
              ? error.reason
              : problem.status < 500
                ? problem.detail
                : undefined,
          error: problem.status >= 500 ? error : undefined,
        });
      } else {
        logger.error('request failed with an unexpected error', { route: request.event.routeKey, error });
      }
      request.response = {
        statusCode: problem.status,
        headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', ...headers },
        body: JSON.stringify(problem),
      };
    },
  };
}

/** One log line per request: the route template and the outcome, never the path values or body. */
function accessLog(): MiddlewareObj<JsonBodyEvent, APIGatewayProxyResultV2> {
  const started = new WeakMap<object, number>();
  const log = (request: { event: JsonBodyEvent; response: APIGatewayProxyResultV2 | null }): void => {
    const response = request.response as APIGatewayProxyStructuredResultV2 | null;
    const start = started.get(request.event);
    logger.info('request', {
      route: request.event.routeKey,
      status: response?.statusCode,
      durationMs: start === undefined ? undefined : Math.round(performance.now() - start),
    });
  };
  return {
    before: function accessLogBefore(request): void {
      started.set(request.event, performance.now());
    },
    after: log,
    onError: log,
  };
}

function toResponse(result: HttpResult): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: result.status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...result.headers },
    body: JSON.stringify(result.body),
  };
}

/**
 * Wraps a route in the shared middy chain: Lambda context in logs, lower-cased headers, CORS
 * (only when CORS_ALLOWED_ORIGINS is set), a 64 KiB JSON body parser (only when the route has a
 * body schema), zod validation of every part it reads, and errors as problem+json.
 *
 * @example
 * export const handler = httpHandler({ path: z.object({ id: z.string() }) }, async ({ path }) => ({
 *   status: 200,
 *   body: await load(path.id),
 * }));
 */
export function httpHandler<S extends RequestSchemas>(schemas: S, route: RouteHandler<S>): HttpLambdaHandler {
  const { CORS_ALLOWED_ORIGINS: origins } = config();
  const handler = middy<JsonBodyEvent, APIGatewayProxyResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer());
  if (origins.length > 0) {
    handler.use(
      httpCors({
        origins,
        headers: 'Authorization,Content-Type,Idempotency-Key',
        exposeHeaders: 'Location,Retry-After',
      }),
    );
  }
  handler.use(accessLog()).use(problemErrorHandler());
  if (schemas.body !== undefined) handler.use(jsonBody());
  return handler.handler(async (event, context) =>
    toResponse(await route(parseRequest(schemas, event), context)),
  );
}
