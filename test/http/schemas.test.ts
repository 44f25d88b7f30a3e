import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  createMatchingRunRequest,
  getAccountActionsRequest,
  getMatchingRunRequest,
  listAccountActionsRequest,
} from '../../lib/http/schemas.js';
import { derivedRunId, newRunId } from '../../lib/runs/run-id.js';

function firstIssue(schema: z.ZodType, input: unknown): string | undefined {
  const result = schema.safeParse(input);
  if (result.success) return undefined;
  const [issue] = result.error.issues;
  const keys = issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : '';
  return `${[...(issue?.path ?? []), keys].filter(Boolean).join('.')}: ${issue?.message}`;
}

describe('account number path parameter', () => {
  const schema = getAccountActionsRequest.path;

  it.each([['7800000000000'], ['780000000000\u{1F600}'.slice(0, 14)], ['АБВГДЕЁЖЗИЙКЛ']])(
    'accepts %s',
    (number) => {
      expect(schema.safeParse({ number }).success).toBe(true);
    },
  );

  it.each<[string, unknown, RegExp]>([
    ['12 characters', '780000000000', /number: must be exactly 13 characters.*got 12/],
    ['14 characters', '78000000000000', /got 14/],
    ['13 UTF-16 units but 12 code points', '78000000000\u{1F600}', /got 12/],
    ['a $-prefixed value', '$ne0000000000', /must not start with '\$'/],
    ['missing', undefined, /number: must be a string/],
  ])('rejects %s', (_case, number, message) => {
    expect(firstIssue(schema, { number })).toMatch(message);
  });
});

describe('list query: limit and after', () => {
  const schema = listAccountActionsRequest.query;

  it('defaults limit to 100 and leaves after unset', () => {
    expect(schema.parse({})).toEqual({ limit: 100 });
  });

  it.each([
    ['1', 1],
    ['1000', 1000],
    ['0042', 42],
  ])('reads limit=%s as %i', (limit, expected) => {
    expect(schema.parse({ limit }).limit).toBe(expected);
  });

  it.each([['0'], ['1001'], ['-1'], ['1.5'], ['1e2'], [''], [' 5'], ['abc'], ['99999999']])(
    'rejects limit=%j',
    (limit) => {
      expect(firstIssue(schema, { limit })).toMatch(/^limit: must be an integer from 1 to 1000$/);
    },
  );

  it('accepts any string up to 1024 characters as the after cursor (the last number of a page, as stored)', () => {
    for (const after of ['780000000000', '$gt0000000000', '', 'x'.repeat(1024)]) {
      expect(schema.safeParse({ after }).success, after).toBe(true);
    }
    expect(firstIssue(schema, { after: 'x'.repeat(1025) })).toBe('after: must be at most 1024 characters');
  });

  it('rejects unknown query parameters', () => {
    expect(firstIssue(schema, { limt: '5' })).toBe('limt: is not an accepted field');
  });
});

describe('POST /matching-runs body and headers', () => {
  const { body, headers } = createMatchingRunRequest;

  it.each<[unknown, unknown]>([
    [undefined, {}],
    [{}, {}],
    [{ policy: 'month-first' }, { policy: 'month-first' }],
    [
      { policy: 'chronological', partitionBy: 'account' },
      { policy: 'chronological', partitionBy: 'account' },
    ],
    [{ partitionBy: '_x9' }, { partitionBy: '_x9' }],
  ])('accepts %j', (input, expected) => {
    expect(body.parse(input)).toEqual(expected);
  });

  it.each<[unknown, RegExp]>([
    [{ policy: 'fifo' }, /^policy: must be one of chronological, month-first$/],
    [{ policy: { $ne: null } }, /^policy: /],
    [{ partitionBy: '$where' }, /^partitionBy: must be a field name/],
    [{ partitionBy: 'a.b' }, /^partitionBy: must be a field name/],
    [{ partitionBy: 'x'.repeat(65) }, /^partitionBy: must be a field name/],
    [{ partitionBy: { $gt: '' } }, /^partitionBy: must be a string$/],
    [{ partitionBy: 'date' }, /^partitionBy: must not be date, id or _id/],
    [{ partitionBy: 'id' }, /^partitionBy: must not be date, id or _id/],
    [{ partitionBy: '_id' }, /^partitionBy: must not be date, id or _id/],
    [{ $where: 'sleep(1000)' }, /^\$where: is not an accepted field$/],
    [{ policy: 'chronological', extra: 1 }, /^extra: is not an accepted field$/],
    [null, /^: must be a JSON object$/],
    [[], /^: must be a JSON object$/],
    ['chronological', /^: must be a JSON object$/],
  ])('rejects %j', (input, message) => {
    expect(firstIssue(body, input)).toMatch(message);
  });

  it.each([['abc'], ['0f8e0b2c-5d55-4d61-9a0a-4b6f2d3f9c10'], ['x'.repeat(128)]])(
    'accepts Idempotency-Key %s',
    (key) => {
      expect(headers.parse({ 'idempotency-key': key })['idempotency-key']).toBe(key);
    },
  );

  it.each([[''], ['x'.repeat(129)], ['has space'], ['tab\t'], ['ключ']])(
    'rejects Idempotency-Key %j',
    (key) => {
      expect(firstIssue(headers, { 'idempotency-key': key })).toMatch(
        /^idempotency-key: must be 1 to 128 visible ASCII/,
      );
    },
  );
});

describe('routes without query parameters', () => {
  it.each([
    ['GET /accounts/{number}/actions', getAccountActionsRequest.query],
    ['GET /matching-runs/{runId}', getMatchingRunRequest.query],
    ['POST /matching-runs', createMatchingRunRequest.query],
  ])('%s accepts no query string and refuses any parameter', (_route, schema) => {
    expect(schema.safeParse({}).success).toBe(true);
    expect(firstIssue(schema, { foo: 'bar' })).toBe('foo: is not an accepted field');
    expect(firstIssue(schema, { $where: '1' })).toBe('$where: is not an accepted field');
  });
});

describe('run id path parameter', () => {
  const schema = getMatchingRunRequest.path;

  it('accepts run ids made by newRunId and by derivedRunId', () => {
    expect(schema.safeParse({ runId: newRunId() }).success).toBe(true);
    expect(schema.safeParse({ runId: derivedRunId('http', 'key-1') }).success).toBe(true);
  });

  it.each([
    ['not-a-run'],
    ['01JDQ7ZK5X8M3V0R2T6Y9B4C1'],
    ['81JDQ7ZK5X8M3V0R2T6Y9B4C1N'],
    ['01jdq7zk5x8m3v0r2t6y9b4c1n'],
  ])('rejects %s', (runId) => {
    expect(firstIssue(schema, { runId })).toMatch(/^runId: must be a run id/);
  });
});

describe('derivedRunId', () => {
  it('is the same for the same scope and key, and differs across keys and scopes', () => {
    expect(derivedRunId('http', 'k')).toBe(derivedRunId('http', 'k'));
    expect(derivedRunId('http', 'k')).not.toBe(derivedRunId('http', 'k2'));
    expect(derivedRunId('http', 'k')).not.toBe(derivedRunId('event', 'k'));
  });
});
