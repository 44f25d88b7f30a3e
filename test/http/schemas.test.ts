import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  createMatchingRunRequest,
  getAccountActionsRequest,
  getMatchingRunRequest,
  listAccountActionsRequest,
  listMatchingRunsRequest,
} from '../../lib/http/schemas.js';
import { derivedRunId, newRunId } from '../../lib/runs/run-id.js';
import { encodeRunCursor } from '../../lib/runs/run-index.js';

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
    [{ limitationPeriod: 'P3Y' }, { limitationPeriod: 'P3Y' }],
    [{ limitationPeriod: 'P36M' }, { limitationPeriod: 'P3Y' }],
    [{ limitationPeriod: 'P30M' }, { limitationPeriod: 'P2Y6M' }],
    [{ limitationPeriod: 'P0Y6M' }, { limitationPeriod: 'P6M' }],
    [{ limitationPeriod: 'P100Y' }, { limitationPeriod: 'P100Y' }],
    [
      { partitionBy: 'account', shards: 'auto' },
      { partitionBy: 'account', shards: 'auto' },
    ],
    [
      { partitionBy: 'account', shards: 1 },
      { partitionBy: 'account', shards: 1 },
    ],
    [
      { partitionBy: 'account', shards: 1000 },
      { partitionBy: 'account', shards: 1000 },
    ],
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
    [{ limitationPeriod: 'P0Y' }, /^limitationPeriod: must be longer than zero$/],
    [{ limitationPeriod: 'P0M' }, /^limitationPeriod: must be longer than zero$/],
    [{ limitationPeriod: 'P101Y' }, /^limitationPeriod: must be at most 100 years$/],
    [{ limitationPeriod: 'P999999999Y' }, /^limitationPeriod: must be at most 100 years$/],
    [{ limitationPeriod: '-P3Y' }, /^limitationPeriod: must be an ISO 8601 duration of whole years/],
    [{ limitationPeriod: 'P-3Y' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'P3Y15D' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'P1W' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'PT36H' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'P1.5Y' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'P' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 'p3y' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: '' }, /^limitationPeriod: must be an ISO 8601 duration/],
    [{ limitationPeriod: 36 }, /^limitationPeriod: must be a string$/],
    [{ limitationPeriod: null }, /^limitationPeriod: must be a string$/],
    [{ policy: 'chronological', extra: 1 }, /^extra: is not an accepted field$/],
    [
      { shards: 3 },
      /^shards: requires partitionBy: only partitioned matching can be sharded \(global matching is sequential/,
    ],
    [{ shards: 'auto', policy: 'month-first' }, /^shards: requires partitionBy/],
    [{ partitionBy: 'account', shards: 0 }, /^shards: must be "auto" or an integer from 1 to 1000$/],
    [{ partitionBy: 'account', shards: 1001 }, /^shards: must be "auto" or an integer from 1 to 1000$/],
    [{ partitionBy: 'account', shards: 2.5 }, /^shards: must be "auto" or an integer$/],
    [{ partitionBy: 'account', shards: '3' }, /^shards: must be "auto" or an integer$/],
    [{ partitionBy: 'account', shards: 'all' }, /^shards: must be "auto" or an integer$/],
    [{ partitionBy: 'account', shards: null }, /^shards: must be "auto" or an integer$/],
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

describe('GET /matching-runs query', () => {
  const schema = listMatchingRunsRequest.query;
  const position = {
    createdAt: '2024-06-01T10:00:00.000Z',
    runId: newRunId(Date.parse('2024-06-01T10:00:00Z')),
  };

  it('defaults to 20 runs of any status and trigger', () => {
    expect(schema.parse({})).toEqual({ limit: 20 });
  });

  it.each([
    [{ limit: '1' }, { limit: 1 }],
    [{ limit: '100' }, { limit: 100 }],
    [{ status: 'running' }, { limit: 20, status: 'running' }],
    [
      { trigger: 'event', status: 'failed' },
      { limit: 20, trigger: 'event', status: 'failed' },
    ],
  ])('reads %j', (query, expected) => {
    expect(schema.parse(query)).toEqual(expected);
  });

  it.each<[Record<string, string>, string]>([
    [{ limit: '0' }, 'limit: must be an integer from 1 to 100'],
    [{ limit: '101' }, 'limit: must be an integer from 1 to 100'],
    [{ limit: '1e1' }, 'limit: must be an integer from 1 to 100'],
    [{ status: 'done' }, 'status: must be one of queued, running, succeeded, failed'],
    // API Gateway joins a repeated parameter with commas.
    [{ status: 'queued,running' }, 'status: must be one of queued, running, succeeded, failed'],
    [{ trigger: 'cron' }, 'trigger: must be one of http, event'],
    [{ sort: 'asc' }, 'sort: is not an accepted field'],
  ])('rejects %j', (query, message) => {
    expect(firstIssue(schema, query)).toBe(message);
  });

  it('reads a cursor it issued back into the position of the last run of the page', () => {
    const after = encodeRunCursor(position, { status: 'succeeded' });
    expect(schema.parse({ after, status: 'succeeded', limit: '5' })).toEqual({
      limit: 5,
      status: 'succeeded',
      after: position,
    });
  });

  it('refuses a cursor used with other filters than the page it came from', () => {
    const after = encodeRunCursor(position, { status: 'succeeded' });
    for (const query of [
      { after },
      { after, status: 'failed' },
      { after, status: 'succeeded', trigger: 'http' },
    ]) {
      expect(firstIssue(schema, query), JSON.stringify(query)).toMatch(
        /^after: belongs to a listing with other filters/,
      );
    }
  });

  /** A cursor whose JSON content is `content`, encoded as the real ones are. */
  const forged = (content: unknown) => Buffer.from(JSON.stringify(content)).toString('base64url');
  const real = encodeRunCursor(position, {});

  it.each<[string, string]>([
    ['not base64url', 'a+b/c='],
    ['padded', `${real}=`],
    ['a dangling character', `${real}A`],
    ['cut short', real.slice(0, -3)],
    ['a byte changed', `${real.slice(0, 10)}${real[10] === 'A' ? 'B' : 'A'}${real.slice(11)}`],
    ['not JSON', Buffer.from('{"v":1,').toString('base64url')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')],
    ['JSON of another shape', forged([1, 2])],
    ['another version', forged({ ...JSON.parse(Buffer.from(real, 'base64url').toString()), v: 2 })],
    ['a field added', forged({ v: 1, ...position, extra: 1 })],
    ['a run id that is not one', forged({ v: 1, createdAt: position.createdAt, runId: '../etc' })],
    ['a date that is not a timestamp', forged({ v: 1, createdAt: 'yesterday', runId: position.runId })],
    ['a status filter that does not exist', forged({ v: 1, ...position, status: 'done' })],
    ['very long', 'A'.repeat(600)],
    ['empty', ''],
  ])('refuses a cursor that is %s, naming after', (_case, after) => {
    expect(firstIssue(schema, { after })).toMatch(/^after: is not a cursor returned by this API/);
  });
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
