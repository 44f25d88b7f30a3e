import { describe, expect, it, vi } from 'vitest';
import { httpHandler } from '../../lib/http/http-handler.js';
import { createMatchingRunRequest } from '../../lib/http/schemas.js';
import { type EventParts, httpEvent, lambdaContext, structured } from './request-events.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The body of `POST /matching-runs` as API Gateway (HTTP API, payload 2.0) delivers it: a string,
 * sometimes base64-encoded; and as serverless-offline delivers it, which parses JSON bodies itself
 * and passes some results on as they are (`0`, `false`), turns others into `null` (`null`, `""`)
 * or unquotes them (`"chronological"` arrives as `chronological`). Every body that is not a JSON
 * object is a 400 saying so, however it arrives.
 */

/** The real route schemas with a route that echoes the validated body (no AWS needed). */
const handler = httpHandler(createMatchingRunRequest, async ({ body }) => ({ status: 202, body }));

async function post(parts: EventParts) {
  const response = structured(
    await handler(httpEvent({ routeKey: 'POST /matching-runs', ...parts }), lambdaContext('req-7')),
  );
  return { status: response.statusCode, json: JSON.parse(response.body) as Record<string, unknown> };
}

const json = { 'content-type': 'application/json' };
/** Headers as a client sends them with `text` as the body (fetch and curl both send Content-Length). */
const sent = (text: string) => ({ ...json, 'content-length': String(Buffer.byteLength(text)) });

const NOT_OBJECTS = ['0', 'false', 'true', 'null', '42', '-1.5', '""', '"chronological"', '[]', '[{}]'];

describe('POST /matching-runs: a JSON body that is not an object', () => {
  it.each(NOT_OBJECTS)('answers %s (API Gateway: a string body) with 400', async (text) => {
    const { status, json: problem } = await post({ headers: json, body: text });
    expect(status).toBe(400);
    expect(problem).toMatchObject({ status: 400, detail: 'body: must be a JSON object' });
  });

  it.each(NOT_OBJECTS)('answers %s (API Gateway: a base64 body) with 400', async (text) => {
    const { status, json: problem } = await post({
      headers: json,
      body: Buffer.from(text).toString('base64'),
      isBase64Encoded: true,
    });
    expect(status).toBe(400);
    expect(problem).toMatchObject({ detail: 'body: must be a JSON object' });
  });

  it.each<[string, unknown]>([
    ['0', 0],
    ['false', false],
    ['null', null],
    ['""', null],
    ['"chronological"', 'chronological'],
    ['"{}"', '{}'],
    ['"Иванов"', 'Иванов'],
  ])('answers %s as serverless-offline passes it on (%j) with 400', async (text, offlineBody) => {
    const { status, json: problem } = await post({ headers: sent(text), offlineBody });
    expect(status).toBe(400);
    expect(problem).toMatchObject({ detail: 'body: must be a JSON object' });
  });
});

describe('POST /matching-runs: bodies that are fine or broken in other ways', () => {
  it.each<[string, EventParts]>([
    ['no body', { headers: json }],
    ['an empty body', { headers: json, body: '' }],
    ['no body from serverless-offline (null, no Content-Length)', { headers: json, offlineBody: null }],
    ['no body from serverless-offline (null, Content-Length 0)', { headers: sent(''), offlineBody: null }],
  ])('takes %s as the defaults', async (_case, parts) => {
    const { status, json: body } = await post(parts);
    expect(status).toBe(202);
    expect(body).toEqual({});
  });

  it.each([
    ['a JSON object', '{"policy":"month-first"}'],
    ['a JSON object after white space', ' \n {"policy":"month-first"}'],
  ])('accepts %s', async (_case, text) => {
    const { status, json: body } = await post({ headers: json, body: text });
    expect(status).toBe(202);
    expect(body).toEqual({ policy: 'month-first' });
  });

  it.each([
    ['a truncated object', '{"policy":'],
    ['single quotes', "{'policy':'month-first'}"],
    ['a trailing comma', '{"policy":"month-first",}'],
    ['a bare word', 'chronological'],
    ['a form body', 'policy=month-first'],
  ])('answers %s with "is not valid JSON"', async (_case, text) => {
    const { status, json: problem } = await post({ headers: json, body: text });
    expect(status).toBe(400);
    expect(problem).toMatchObject({ detail: 'body: is not valid JSON' });
  });
});
