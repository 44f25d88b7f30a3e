import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/** Builders for HTTP API (payload 2.0) events and Lambda contexts, as API Gateway and serverless-offline send them. */

export interface EventParts {
  readonly routeKey?: string;
  readonly pathParameters?: Record<string, string>;
  readonly queryStringParameters?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  /**
   * A body that is not a string, as serverless-offline passes some it has already parsed (`0`,
   * `false`, `null`); API Gateway never does. Takes precedence over `body`.
   */
  readonly offlineBody?: unknown;
}

export function httpEvent(parts: EventParts = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: parts.routeKey ?? 'GET /test',
    rawPath: '/test',
    rawQueryString: '',
    headers: parts.headers ?? {},
    requestContext: {
      accountId: 'offline',
      apiId: 'offline',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: 'GET',
        path: '/test',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: 'api-request-id',
      routeKey: parts.routeKey ?? 'GET /test',
      stage: '$default',
      time: '01/Jan/2024:00:00:00 +0000',
      timeEpoch: 0,
    },
    isBase64Encoded: parts.isBase64Encoded ?? false,
    ...(parts.pathParameters ? { pathParameters: parts.pathParameters } : {}),
    ...(parts.queryStringParameters ? { queryStringParameters: parts.queryStringParameters } : {}),
    ...(parts.body === undefined ? {} : { body: parts.body }),
    ...('offlineBody' in parts ? { body: parts.offlineBody as string } : {}),
  };
}

export function lambdaContext(requestId = 'lambda-request-id', remainingMs = 10_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test-function',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test-function',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/test-function',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Narrows a handler answer to the structured form every route returns. */
export function structured(response: unknown): APIGatewayProxyStructuredResultV2 & { body: string } {
  const value = response as APIGatewayProxyStructuredResultV2;
  if (typeof value?.statusCode !== 'number' || typeof value.body !== 'string') {
    throw new Error(`not a structured HTTP response: ${JSON.stringify(response)}`);
  }
  return value as APIGatewayProxyStructuredResultV2 & { body: string };
}

/** Captures everything written to stdout and stderr (Powertools Logger writes there) while `fn` runs. */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const original = { out: process.stdout.write, err: process.stderr.write };
  const capture = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    const result = await fn();
    return { result, output: chunks.join('') };
  } finally {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  }
}
