import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpHandler } from '../../lib/http/http-handler.js';
import { redactSecrets } from '../../lib/logger.js';
import { captureOutput, httpEvent, lambdaContext } from './request-events.js';

const jsonHeaders = { 'content-type': 'application/json' };

function handlerThat(fail?: () => never) {
  return httpHandler({ body: z.strictObject({ name: z.string() }).optional() }, async () => {
    if (fail) fail();
    return { status: 200, body: { ok: true } };
  });
}

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('request logging', () => {
  it('logs structured JSON with the Lambda request id and the route, never the raw body', async () => {
    const event = httpEvent({
      routeKey: 'POST /test',
      headers: jsonHeaders,
      body: '{"name":"Иванов Иван, паспорт 4510 123456"}',
    });
    const { output } = await captureOutput(() => handlerThat()(event, lambdaContext('req-42')));
    const access = logLines(output).find((line) => line.message === 'request');
    expect(access).toMatchObject({
      level: 'INFO',
      function_request_id: 'req-42',
      route: 'POST /test',
      status: 200,
    });
    expect(output).not.toContain('паспорт');
  });

  it('logs why a request was refused, but not a field name the client made up (it may hold personal data)', async () => {
    const event = httpEvent({
      routeKey: 'POST /test',
      headers: jsonHeaders,
      body: '{"name":"n","Иванов Иван Иванович":"паспорт 4510 123456"}',
    });
    const { result, output } = await captureOutput(() => handlerThat()(event, lambdaContext('req-44')));
    expect(JSON.parse(String((result as { body: string }).body)).detail).toBe(
      'body.Иванов Иван Иванович: is not an accepted field',
    );
    const refused = logLines(output).find((line) => line.message === 'request failed');
    expect(refused).toMatchObject({ level: 'WARN', status: 400, detail: 'is not an accepted field' });
    expect(output).not.toMatch(/Иванов|паспорт/);
  });

  it('logs an unexpected error once, with its stack, but redacts MongoDB credentials and presigned URL signatures', async () => {
    const { output } = await captureOutput(() =>
      handlerThat(() => {
        throw new Error(
          'failed mongodb+srv://admin:hunter2@cluster0.example.net/billing and ' +
            'https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIAEXAMPLE%2F20240531&X-Amz-Signature=abcdef0123',
        );
      })(httpEvent(), lambdaContext('req-43')),
    );
    const errors = logLines(output).filter((line) => line.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ function_request_id: 'req-43', error: { name: 'Error' } });
    expect(JSON.stringify(errors[0])).toContain('mongodb+srv://***@cluster0.example.net');
    expect(output).not.toMatch(/hunter2|abcdef0123|AKIAEXAMPLE/);
  });
});

describe('redactSecrets', () => {
  it.each([
    ['mongodb://user:p%40ss@h1:27017,h2:27017/db', 'mongodb://***@h1:27017,h2:27017/db'],
    ['uri=mongodb+srv://u:p@c.example.net', 'uri=mongodb+srv://***@c.example.net'],
    ['mongodb://localhost:27017', 'mongodb://localhost:27017'],
    [
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00ff&X-Amz-Security-Token=tok',
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=***&X-Amz-Security-Token=***',
    ],
  ])('redacts %s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });
});
