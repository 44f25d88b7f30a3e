import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { resetConfig } from '../../lib/config.js';
import { NotFoundError, ServiceUnavailableError, ValidationError } from '../../lib/errors.js';
import { type HttpResult, httpHandler } from '../../lib/http/http-handler.js';
import { MAX_BODY_BYTES } from '../../lib/http/json-body.js';
import { type EventParts, httpEvent, lambdaContext, structured } from './request-events.js';

// The logger reads its level once, at import; this file asserts on answers, test/http/logging.test.ts on logs.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const echoRequest = {
  query: z.strictObject({ limit: z.string().regex(/^\d+$/, 'must be digits').optional() }),
  headers: z.object({ 'x-tag': z.string().max(5, 'must be at most 5 characters').optional() }),
  body: z.strictObject({ name: z.string() }).optional(),
};

/** A route that echoes what it was given, or throws what the test asks it to. */
function testHandler(fail?: () => never) {
  return httpHandler(echoRequest, async (request): Promise<HttpResult> => {
    if (fail) fail();
    return { status: 200, body: { ...request, at: new Date(Date.UTC(2024, 4, 31, 12, 0, 0)) } };
  });
}

async function call(parts: EventParts, fail?: () => never) {
  const response = structured(await testHandler(fail)(httpEvent(parts), lambdaContext('req-42')));
  return { response, json: JSON.parse(response.body) as Record<string, unknown> };
}

const jsonHeaders = { 'content-type': 'application/json' };

describe('httpHandler: successful requests', () => {
  it('answers JSON with the validated request parts and dates as ISO 8601 UTC strings', async () => {
    const { response, json } = await call({
      queryStringParameters: { limit: '5' },
      headers: { 'X-Tag': 'abc', ...jsonHeaders },
      body: '{"name":"n"}',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['Content-Type']).toBe('application/json');
    expect(json).toMatchObject({ query: { limit: '5' }, headers: { 'x-tag': 'abc' }, body: { name: 'n' } });
    expect(json.at).toBe('2024-05-31T12:00:00.000Z');
  });

  it('accepts a request without a body when the body schema allows it', async () => {
    const { response, json } = await call({});
    expect(response.statusCode).toBe(200);
    expect(json.body).toBeUndefined();
  });

  it.each([['application/json; charset=utf-8'], ['application/merge-patch+json']])(
    'accepts the JSON media type %s',
    async (contentType) => {
      const { response } = await call({ headers: { 'content-type': contentType }, body: '{"name":"n"}' });
      expect(response.statusCode).toBe(200);
    },
  );
});

describe('httpHandler: errors become application/problem+json', () => {
  it.each<[string, number, EventParts, RegExp]>([
    [
      'a query value breaking its schema',
      400,
      { queryStringParameters: { limit: 'x' } },
      /^limit: must be digits$/,
    ],
    ['an unknown query parameter', 400, { queryStringParameters: { limt: '1' } }, /limt/],
    ['a header breaking its schema', 400, { headers: { 'x-tag': 'toolong' } }, /^x-tag: must be at most 5/],
    ['malformed JSON', 400, { headers: jsonHeaders, body: '{"name":' }, /^body: is not valid JSON$/],
    ['an unknown body key', 400, { headers: jsonHeaders, body: '{"name":"n","$where":"1"}' }, /\$where/],
    ['a body of the wrong type', 400, { headers: jsonHeaders, body: '[1,2]' }, /^body: /],
    [
      'a body that is not JSON',
      415,
      { headers: { 'content-type': 'text/plain' }, body: 'name=n' },
      /content-type/,
    ],
    ['a body without a content type', 415, { body: '{"name":"n"}' }, /content-type/],
    [
      'a body over 64 KiB',
      413,
      { headers: jsonHeaders, body: JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES) }) },
      /at most 65536 bytes/,
    ],
    [
      'a base64 body over 64 KiB once decoded',
      413,
      {
        headers: jsonHeaders,
        isBase64Encoded: true,
        body: Buffer.from(JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES) })).toString('base64'),
      },
      /at most/,
    ],
  ])('answers %s with %i', async (_case, status, parts, detail) => {
    const { response, json } = await call(parts);
    expect(response.statusCode).toBe(status);
    expect(response.headers?.['Content-Type']).toBe('application/problem+json');
    expect(Object.keys(json).sort()).toEqual(['detail', 'status', 'title', 'type']);
    expect(json.status).toBe(status);
    expect(json.detail).toMatch(detail);
  });

  it.each<[string, number, () => never, string]>([
    [
      'ValidationError',
      400,
      () => {
        throw new ValidationError('number', 'must be exactly 13 characters');
      },
      'number: must be exactly 13 characters',
    ],
    [
      'NotFoundError',
      404,
      () => {
        throw new NotFoundError('account 7800000000000 does not exist');
      },
      'account 7800000000000 does not exist',
    ],
  ])('exposes the message of a %s (%i)', async (_name, status, fail, detail) => {
    const { response, json } = await call({}, fail);
    expect(response.statusCode).toBe(status);
    expect(json).toMatchObject({ type: 'about:blank', status, detail });
  });

  it('answers 503 with Retry-After and a generic detail for ServiceUnavailableError', async () => {
    const { response, json } = await call({}, () => {
      throw new ServiceUnavailableError('DynamoDB is unavailable (ECONNREFUSED 10.0.0.7:8000)', 7);
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('7');
    expect(json.title).toBe('Service unavailable');
    expect(response.body).not.toContain('10.0.0.7');
  });

  it('answers 503 for a raw connection failure that escaped an adapter', async () => {
    const { response } = await call({}, () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('5');
  });

  it('answers 500 with neither the message nor a stack trace for an unexpected error, naming the request id', async () => {
    const { response, json } = await call({}, () => {
      throw new TypeError('Cannot read properties of undefined (reading "secret internals")');
    });
    expect(response.statusCode).toBe(500);
    expect(json.title).toBe('Internal server error');
    expect(json.detail).toContain('req-42');
    expect(response.body).not.toMatch(/secret internals|TypeError|at .*\.ts:\d+/);
  });
});

describe('httpHandler: CORS', () => {
  // CORS_ALLOWED_ORIGINS is read with the rest of the configuration, once per cold start.
  afterEach(() => {
    delete process.env.CORS_ALLOWED_ORIGINS;
    resetConfig();
  });

  it('adds no CORS headers when no origin is configured', async () => {
    const { response } = await call({ headers: { origin: 'https://app.example.com' } });
    expect(response.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it('allows a configured origin, on errors too', async () => {
    process.env.CORS_ALLOWED_ORIGINS = 'https://app.example.com, https://admin.example.com';
    resetConfig();
    const ok = structured(
      await testHandler()(httpEvent({ headers: { origin: 'https://admin.example.com' } }), lambdaContext()),
    );
    expect(ok.headers?.['Access-Control-Allow-Origin']).toBe('https://admin.example.com');
    const failed = structured(
      await testHandler(() => {
        throw new NotFoundError('gone');
      })(httpEvent({ headers: { origin: 'https://app.example.com' } }), lambdaContext()),
    );
    expect(failed.statusCode).toBe(404);
    expect(failed.headers?.['Access-Control-Allow-Origin']).toBe('https://app.example.com');
    const stranger = structured(
      await testHandler()(httpEvent({ headers: { origin: 'https://evil.example.net' } }), lambdaContext()),
    );
    expect(stranger.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });
});
