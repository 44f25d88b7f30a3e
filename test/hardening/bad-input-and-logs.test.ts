import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputSort } from '../../lib/runs/job.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { derivedRunId, newRunId } from '../../lib/runs/run-id.js';
import { accountActionsPipeline, actionsPagePipeline } from '../../lib/summary/index.js';
import { generateDemoData } from '../../scripts/demo-data.js';
import {
  type MongoWireDouble,
  type ReceivedCommand,
  startMongoWireDouble,
} from '../support/mongo-wire-double.js';
import { type Stack, startStack } from '../support/offline.js';
import { paymentsImported, type StackClient, stackClient } from '../support/stack-client.js';

/**
 * Untrusted input against the deployed shape: serverless-offline (API Gateway v2 events, the
 * worker behind the Lambda invoke API), the DynamoDB and S3 emulators, and as the database a
 * MongoDB wire-protocol double reached through the official driver with a password in the URI
 * (test/support/mongo-wire-double.ts). The double records every command the functions send, so
 * "no operator from user input reaches the database" is checked on what actually left the Lambda.
 * One stack serves the whole file.
 */

const PASSWORD = 'Wq9-bad-input-s3cret';
const data = generateDemoData({ accounts: 40, accruals: 160, payments: 150, seed: 4 });
/** Personal data a client might send; it must never appear in a log line. */
const PERSON = 'Иванов Пётр Сидорович';
const PERSON_ASCII = 'IVANOV_PETR_SIDOROVICH_4510';

let double: MongoWireDouble;
let stack: Stack;
let client: StackClient;

beforeAll(async () => {
  double = await startMongoWireDouble({
    collections: { Account: data.Account, accrual: data.accrual, payment: data.payment },
    credentials: { username: 'billing', password: PASSWORD },
  });
  stack = await startStack({
    env: { MONGODB_URI: double.uri(), MONGODB_SERVER_SELECTION_TIMEOUT_MS: '2000' },
  });
  client = stackClient(stack);
}, 120_000);

afterAll(async () => {
  client?.close();
  await stack?.stop();
  await double?.close();
});

/** A stack frame (`at fn (file:1:2)`), a source or bundle location, or a path on this machine. */
const LEAKED_INTERNALS = /\bat [\w$.<>]+ \(|\n\s+at |\.(?:ts|js|mjs|cjs):\d+|node_modules|\/work\/|\/tmp\//;

const json = { 'content-type': 'application/json' };
const VALID_RUN_ID = '01J0000000000000000000000A';

interface BadRequest {
  readonly name: string;
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly status: number;
  /** What `detail` must say: it names the offending field (or the missing resource). */
  readonly detail: RegExp;
  /**
   * A well-formed value that merely names nothing: it is looked up, as a plain string, and the
   * answer is 404. Everything else must be refused before any database call.
   */
  readonly lookedUp?: string;
}

const get = (name: string, path: string, status: number, detail: RegExp, lookedUp?: string): BadRequest => ({
  name,
  path,
  status,
  detail,
  ...(lookedUp === undefined ? {} : { lookedUp }),
});

const post = (
  name: string,
  body: string | undefined,
  status: number,
  detail: RegExp,
  headers: Record<string, string> = json,
): BadRequest => ({
  name,
  path: '/matching-runs',
  method: 'POST' as const,
  headers,
  ...(body === undefined ? {} : { body }),
  status,
  detail,
});

const numberPath = (value: string) => `/accounts/${encodeURIComponent(value)}/actions`;

const BAD_REQUESTS: BadRequest[] = [
  // GET /accounts/{number}/actions: the path parameter
  get('a 12-digit number', numberPath('780000000000'), 400, /^number: must be exactly 13 .*got 12$/),
  get('a 14-digit number', numberPath('78000000000000'), 400, /^number: .*got 14$/),
  get('a blank number', numberPath(' '), 400, /^number: .*got 1$/),
  get('12 Cyrillic letters', numberPath('ЛицевойСчётN'), 400, /^number: .*got 12$/),
  get('14 Arabic-Indic digits', numberPath('٧٨٠٠٠٠٠٠٠٠٠٠٠١'), 400, /^number: .*got 14$/),
  get('7 emoji (14 UTF-16 units)', numberPath('😀'.repeat(7)), 400, /^number: .*got 7$/),
  get('7 letters with combining accents (14 code points)', numberPath('е\u0301'.repeat(7)), 400, /got 14$/),
  get('a NUL inside 13 characters', numberPath('780000000000\0'), 400, /^number: must not contain control/),
  get(
    'a line break inside 13 characters',
    numberPath('78000000\n0000'),
    400,
    /^number: must not contain control/,
  ),
  get('a $-prefixed number', numberPath('$ne0000000000'), 400, /^number: must not start with '\$'$/),
  get('$where as the number', numberPath('$where'), 400, /^number: must not start with '\$'$/),
  get('a JSON operator as the number', numberPath('{"$ne":null}'), 400, /^number: .*got 12$/),
  get('a [$ne] suffix', numberPath('7800000000001[$ne]'), 400, /^number: .*got 18$/),
  get(
    '13 euro signs (well-formed, no such account)',
    numberPath('€'.repeat(13)),
    404,
    /^account €{13} does not exist$/,
    '€'.repeat(13),
  ),
  get(
    '13 Cyrillic letters (well-formed, no such account)',
    numberPath('ЛицевойСчётNo'),
    404,
    /does not exist$/,
    'ЛицевойСчётNo',
  ),
  // GET /accounts/actions: the query string
  get('limit=0', '/accounts/actions?limit=0', 400, /^limit: must be an integer from 1 to 1000$/),
  get('limit=1001', '/accounts/actions?limit=1001', 400, /^limit: /),
  get('limit=-1', '/accounts/actions?limit=-1', 400, /^limit: /),
  get('limit=ten', '/accounts/actions?limit=ten', 400, /^limit: /),
  get('limit=1e2', '/accounts/actions?limit=1e2', 400, /^limit: /),
  get('limit=50.5', '/accounts/actions?limit=50.5', 400, /^limit: /),
  get('an empty limit', '/accounts/actions?limit=', 400, /^limit: /),
  get('a limit without a value', '/accounts/actions?limit', 400, /^limit: /),
  get('a repeated limit', '/accounts/actions?limit=1&limit=2', 400, /^limit: /),
  get('a 12-digit limit', '/accounts/actions?limit=999999999999', 400, /^limit: /),
  get('limit=%24gt', '/accounts/actions?limit=%24gt', 400, /^limit: /),
  get('limit[$gt]=0', '/accounts/actions?limit[$gt]=0', 400, /^limit\[\$gt\]: is not an accepted field$/),
  get('after[$ne]=', '/accounts/actions?after[$ne]=', 400, /^after\[\$ne\]: is not an accepted field$/),
  get('after[%24gt]=…', '/accounts/actions?after%5B%24gt%5D=7800000000001', 400, /^after\[\$gt\]: is not/),
  get(
    'an after cursor over 1024 characters',
    `/accounts/actions?after=${'7'.repeat(1025)}`,
    400,
    /^after: must be at most 1024 characters$/,
  ),
  get('%24ne=1', '/accounts/actions?%24ne=1', 400, /^\$ne: is not an accepted field$/),
  get(
    '$where=sleep(1000)',
    '/accounts/actions?$where=sleep(1000)',
    400,
    /^\$where: is not an accepted field$/,
  ),
  get('an unknown parameter', '/accounts/actions?order=desc', 400, /^order: is not an accepted field$/),
  get(
    'an unknown parameter on one account',
    '/accounts/7800000000001/actions?foo=bar',
    400,
    /^foo: is not an accepted field$/,
  ),
  get(
    '$where as a parameter on one account',
    '/accounts/7800000000001/actions?$where=sleep(1000)',
    400,
    /^\$where: is not an accepted field$/,
  ),
  // POST /matching-runs: the body, its content type and the Idempotency-Key header
  post(
    'an unknown policy',
    '{"policy":"fifo"}',
    400,
    /^body\.policy: must be one of chronological, month-first$/,
  ),
  post('{"$ne": null} as policy', '{"policy":{"$ne":null}}', 400, /^body\.policy: must be one of/),
  post(
    '{"$where": …} as policy',
    '{"policy":{"$where":"sleep(1000)"}}',
    400,
    /^body\.policy: must be one of/,
  ),
  post(
    '$where as partition field',
    '{"partitionBy":"$where"}',
    400,
    /^body\.partitionBy: must be a field name/,
  ),
  post(
    'a dotted partition field',
    '{"partitionBy":"account.$id"}',
    400,
    /^body\.partitionBy: must be a field name/,
  ),
  post(
    'an operator object as partition field',
    '{"partitionBy":{"$gt":""}}',
    400,
    /^body\.partitionBy: must be a string$/,
  ),
  post('an empty partition field', '{"partitionBy":""}', 400, /^body\.partitionBy: /),
  post(
    'shards without a partition field',
    '{"shards":3}',
    400,
    /^body\.shards: requires partitionBy: only partitioned matching can be sharded \(global matching is sequential and runs in one Lambda\)$/,
  ),
  post(
    'more shards than MAX_SHARDS',
    '{"partitionBy":"account","shards":1001}',
    400,
    /^body\.shards: must be "auto" or an integer from 1 to 1000$/,
  ),
  post(
    'date as partition field',
    '{"partitionBy":"date"}',
    400,
    /^body\.partitionBy: must not be date, id or _id/,
  ),
  post(
    'id as partition field',
    '{"partitionBy":"id"}',
    400,
    /^body\.partitionBy: must not be date, id or _id/,
  ),
  post(
    '_id as partition field',
    '{"partitionBy":"_id"}',
    400,
    /^body\.partitionBy: must not be date, id or _id/,
  ),
  post(
    'a 65-character partition field',
    JSON.stringify({ partitionBy: 'a'.repeat(65) }),
    400,
    /^body\.partitionBy: /,
  ),
  post(
    'a top-level $where',
    '{"$where":"this.amount > 0"}',
    400,
    /^body\.\$where: is not an accepted field$/,
  ),
  post(
    'a $set update document',
    '{"$set":{"status":"succeeded"}}',
    400,
    /^body\.\$set: is not an accepted field$/,
  ),
  post(
    'a __proto__ key',
    '{"__proto__":{"isAdmin":true}}',
    400,
    /^body\.__proto__: is not an accepted field$/,
  ),
  post(
    'a constructor.prototype key',
    '{"constructor":{"prototype":{"x":1}}}',
    400,
    /^body\.constructor: is not/,
  ),
  post('a JSON array', '[{"policy":"chronological"}]', 400, /^body: must be a JSON object$/),
  // JSON that is not an object. serverless-offline parses JSON bodies itself and passes some on
  // changed (0 and false as values, null and "" as no body, strings unquoted): still a 400 saying so.
  post('a JSON string', '"chronological"', 400, /^body: must be a JSON object$/),
  post('a JSON string holding an object', '"{}"', 400, /^body: must be a JSON object$/),
  post('an empty JSON string', '""', 400, /^body: must be a JSON object$/),
  post('a JSON number', '42', 400, /^body: must be a JSON object$/),
  post('the JSON number 0', '0', 400, /^body: must be a JSON object$/),
  post('false', 'false', 400, /^body: must be a JSON object$/),
  post('true', 'true', 400, /^body: must be a JSON object$/),
  post('null', 'null', 400, /^body: must be a JSON object$/),
  post('a truncated JSON object', '{"policy":', 400, /^body: is not valid JSON$/),
  post('single-quoted JSON', "{'policy':'chronological'}", 400, /^body: is not valid JSON$/),
  post('a trailing comma', '{"policy":"chronological",}', 400, /^body: is not valid JSON$/),
  post('20 000 nested arrays', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, 400, /^body: /),
  post(
    'a body over 64 KiB',
    JSON.stringify({ policy: 'x'.repeat(70_000) }),
    413,
    /^body: must be at most 65536 bytes$/,
  ),
  post('a text/plain body', '{}', 415, /^content-type: must be application\/json$/, {
    'content-type': 'text/plain',
  }),
  post('a form body', 'policy=chronological', 415, /^content-type: /, {
    'content-type': 'application/x-www-form-urlencoded',
  }),
  post('an XML body', '<run/>', 415, /^content-type: /, { 'content-type': 'application/xml' }),
  post('a multipart body', '--x\r\n\r\n--x--', 415, /^content-type: /, {
    'content-type': 'multipart/form-data; boundary=x',
  }),
  // (A body with no content type at all: serverless-offline assumes JSON, so that case is tested
  // in process, test/http/http-handler.test.ts.)
  post('an octet-stream body', '{}', 415, /^content-type: /, { 'content-type': 'application/octet-stream' }),
  post('an Idempotency-Key with a space', '{}', 400, /^idempotency-key: must be 1 to 128 visible ASCII/, {
    ...json,
    'idempotency-key': 'two words',
  }),
  post('a 129-character Idempotency-Key', '{}', 400, /^idempotency-key: /, {
    ...json,
    'idempotency-key': 'k'.repeat(129),
  }),
  // GET /matching-runs/{runId}
  get('a garbage run id', '/matching-runs/not-a-run-id', 400, /^runId: must be a run id/),
  get('a lower-case run id', `/matching-runs/${VALID_RUN_ID.toLowerCase()}`, 400, /^runId: /),
  get('a 25-character run id', `/matching-runs/${VALID_RUN_ID.slice(1)}`, 400, /^runId: /),
  get('a 27-character run id', `/matching-runs/${VALID_RUN_ID}0`, 400, /^runId: /),
  get(
    'a run id with a U (not in the alphabet)',
    `/matching-runs/${VALID_RUN_ID.slice(0, 25)}U`,
    400,
    /^runId: /,
  ),
  get('a run id past the 48-bit time range', `/matching-runs/8${VALID_RUN_ID.slice(1)}`, 400, /^runId: /),
  get('$ne as run id', '/matching-runs/%24ne', 400, /^runId: /),
  get('an operator as run id', `/matching-runs/${encodeURIComponent('{"$ne":null}')}`, 400, /^runId: /),
  get('a [$ne] run id', `/matching-runs/${VALID_RUN_ID}%5B%24ne%5D`, 400, /^runId: /),
  get(
    'an unknown parameter on a run',
    `/matching-runs/${VALID_RUN_ID}?foo=bar`,
    400,
    /^foo: is not an accepted field$/,
  ),
  get(
    'an unknown run id',
    `/matching-runs/${VALID_RUN_ID}`,
    404,
    new RegExp(`^matching run ${VALID_RUN_ID} does not exist$`),
  ),
];

function operatorKeys(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) operatorKeys(item, into);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('$')) into.add(key);
      operatorKeys(item, into);
    }
  }
  return into;
}

/** The pipeline our code builds for what a recorded aggregate carries, or undefined when it is not ours. */
function canonicalPipeline(command: Document): Document[] | undefined {
  const pipeline = command.pipeline as Document[];
  const number = pipeline[0]?.$match?.number;
  if (typeof number?.$eq === 'string') return accountActionsPipeline(number.$eq);
  const limit = pipeline[2]?.$limit;
  if (typeof limit !== 'number') return undefined;
  if (typeof number?.$gt === 'string') return actionsPagePipeline({ limit, after: number.$gt });
  return actionsPagePipeline({ limit });
}

describe('malformed HTTP requests', () => {
  it(`covers every route with ${BAD_REQUESTS.length} cases`, () => {
    expect(BAD_REQUESTS.length).toBeGreaterThanOrEqual(40);
    const routes = new Set(BAD_REQUESTS.map((c) => `${c.method ?? 'GET'} ${c.path.split(/[/?]/)[1]}`));
    expect([...routes].sort()).toEqual(['GET accounts', 'GET matching-runs', 'POST matching-runs']);
    expect(BAD_REQUESTS.some((c) => c.path.startsWith('/accounts/actions'))).toBe(true);
  });

  it.each(BAD_REQUESTS)('answers $name with $status and a problem naming it', async (bad) => {
    const before = double.queries().length;
    const answer = await client.request(bad.path, {
      method: bad.method ?? 'GET',
      ...(bad.headers ? { headers: bad.headers } : {}),
      // As bytes, so that fetch adds no content type of its own.
      ...(bad.body === undefined ? {} : { body: Buffer.from(bad.body, 'utf8') }),
    });

    expect(answer.status).toBe(bad.status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(answer.json).toMatchObject({ type: 'about:blank', status: bad.status, title: expect.any(String) });
    expect(String(answer.json.detail)).toMatch(bad.detail);
    expect(answer.text).not.toMatch(LEAKED_INTERNALS);

    const reached = double.queries().slice(before);
    if (bad.lookedUp === undefined) {
      expect(reached, 'refused before any database call').toEqual([]);
    } else {
      expect(reached).toHaveLength(1);
      expect(reached[0]?.command.pipeline).toEqual(accountActionsPipeline(bad.lookedUp));
    }
  });
});

describe('the after cursor', () => {
  // It is the previous page's last number as stored, which need not be a well-formed account
  // number, so any string is taken: it reaches MongoDB only as a string compared with $gt.
  it.each([
    ['a short number', '123'],
    ['a $-prefixed value', '$gt0000000000'],
    ['a JSON operator', '{"$gt":""}'],
    ['a tab', '7800000\t0000'],
  ])('takes %s as a plain string comparand', async (_name, after) => {
    const before = double.queries().length;
    const answer = await client.request(`/accounts/actions?after=${encodeURIComponent(after)}`);
    expect(answer.status).toBe(200);
    const [page] = double.queries().slice(before);
    expect(page?.command.pipeline).toEqual(actionsPagePipeline({ limit: 100, after }));
    expect(page?.command.pipeline[0]).toEqual({
      $match: { number: { $gt: after, $not: { $type: 'array' } } },
    });
  });
});

describe('what reaches MongoDB', () => {
  it('is exactly the pipeline our code builds, with the validated values as plain strings and numbers', async () => {
    const before = double.queries().length;
    expect((await client.request('/accounts/7800000000001/actions')).status).toBe(200);
    expect((await client.request('/accounts/actions?limit=2&after=7800000000001')).status).toBe(200);
    const [single, page] = double.queries().slice(before);
    expect(single?.command).toMatchObject({
      aggregate: 'Account',
      pipeline: accountActionsPipeline('7800000000001'),
    });
    expect(page?.command).toMatchObject({
      aggregate: 'Account',
      pipeline: actionsPagePipeline({ limit: 2, after: '7800000000001' }),
    });
  });
});

interface BadEvent {
  readonly name: string;
  /** The function it is sent to: `matchingWorker` (POST /matching-runs) or `paymentsImportedWorker` (EventBridge). */
  readonly worker: 'matchingWorker' | 'paymentsImportedWorker';
  readonly event: unknown;
  readonly reason: RegExp;
}

const NOT_OBJECTS: Array<[string, unknown]> = [
  ['null', null],
  ['a string', 'PaymentsImported'],
  ['a number', 42],
  ['an array', [paymentsImported('x')]],
];

const BAD_EVENTS: BadEvent[] = [
  ...(['matchingWorker', 'paymentsImportedWorker'] as const).flatMap((worker) =>
    NOT_OBJECTS.map(([name, event]) => ({ name, worker, event, reason: /^event is not an object$/ })),
  ),
  {
    name: 'an empty object',
    worker: 'matchingWorker',
    event: {},
    reason: /^not a matching-run invocation \(PaymentsImported events go to paymentsImportedWorker\)$/,
  },
  {
    name: 'an empty object',
    worker: 'paymentsImportedWorker',
    event: {},
    reason: /^not an EventBridge event \(matching-run invocations go to matchingWorker\)$/,
  },
  {
    name: 'a PaymentsImported event',
    worker: 'matchingWorker',
    event: paymentsImported('x'),
    reason: /^not a matching-run invocation/,
  },
  {
    name: 'a matching-run invocation',
    worker: 'paymentsImportedWorker',
    event: { kind: 'matching-run', runId: VALID_RUN_ID },
    reason: /^not an EventBridge event/,
  },
  {
    name: 'an unknown detail-type',
    worker: 'paymentsImportedWorker',
    event: { ...paymentsImported('x'), 'detail-type': 'PaymentsDeleted' },
    reason: /^unknown detail-type "PaymentsDeleted"$/,
  },
  {
    name: 'an operator as detail-type',
    worker: 'paymentsImportedWorker',
    event: { ...paymentsImported('x'), 'detail-type': { $ne: null } },
    reason: /^unknown detail-type/,
  },
  {
    name: 'an unknown source',
    worker: 'paymentsImportedWorker',
    event: { ...paymentsImported('x'), source: 'someone.else' },
    reason: /^malformed PaymentsImported event: source: /,
  },
  {
    name: 'no detail',
    worker: 'paymentsImportedWorker',
    event: { ...paymentsImported('x'), detail: undefined },
    reason: /^malformed PaymentsImported event: detail: /,
  },
  {
    name: 'shards without partitionBy',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { shards: 'auto' }),
    reason:
      /^malformed PaymentsImported event: detail\.shards: requires partitionBy: only partitioned matching can be sharded \(global matching is sequential/,
  },
  {
    name: 'no importId',
    worker: 'paymentsImportedWorker',
    event: { ...paymentsImported('x'), detail: { policy: 'chronological' } },
    reason: /^malformed PaymentsImported event: detail\.importId: must be a string$/,
  },
  {
    name: 'an empty importId',
    worker: 'paymentsImportedWorker',
    event: paymentsImported(''),
    reason: /detail\.importId: must not be empty/,
  },
  {
    name: 'a numeric importId',
    worker: 'paymentsImportedWorker',
    event: paymentsImported(42),
    reason: /detail\.importId: must be a string$/,
  },
  {
    name: 'an operator as importId',
    worker: 'paymentsImportedWorker',
    event: paymentsImported({ $ne: null }),
    reason: /detail\.importId: must be a string$/,
  },
  {
    name: 'control characters in importId',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('import\n2024'),
    reason: /detail\.importId: must not contain control characters$/,
  },
  {
    name: 'a 129-character importId',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('i'.repeat(129)),
    reason: /detail\.importId: /,
  },
  {
    name: 'an unknown policy',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { policy: 'fifo' }),
    reason: /detail\.policy: must be one of/,
  },
  {
    name: 'an operator as policy',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { policy: { $ne: null } }),
    reason: /detail\.policy: /,
  },
  {
    name: '$where as partition field',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { partitionBy: '$where' }),
    reason: /detail\.partitionBy: must be a field name/,
  },
  {
    name: 'date as partition field',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { partitionBy: 'date' }),
    reason: /detail\.partitionBy: must not be date, id or _id/,
  },
  {
    name: '_id as partition field',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { partitionBy: '_id' }),
    reason: /detail\.partitionBy: must not be date, id or _id/,
  },
  {
    name: 'a negative paymentCount',
    worker: 'paymentsImportedWorker',
    event: paymentsImported('x', { paymentCount: -1 }),
    reason: /detail\.paymentCount: /,
  },
  {
    name: 'a matching-run invocation without runId',
    worker: 'matchingWorker',
    event: { kind: 'matching-run' },
    reason: /^malformed matching-run invocation: runId: /,
  },
  {
    name: 'an operator as runId',
    worker: 'matchingWorker',
    event: { kind: 'matching-run', runId: { $ne: null } },
    reason: /^malformed matching-run invocation: runId: /,
  },
  {
    name: 'a path as runId',
    worker: 'matchingWorker',
    event: { kind: 'matching-run', runId: '../../etc/passwd' },
    reason: /^malformed matching-run invocation: runId: must be a run id/,
  },
  {
    name: 'an invocation with an extra field',
    worker: 'matchingWorker',
    event: { kind: 'matching-run', runId: VALID_RUN_ID, $where: '1' },
    reason: /^malformed matching-run invocation: /,
  },
  {
    name: 'an unknown kind',
    worker: 'matchingWorker',
    event: { kind: 'drop-tables' },
    reason: /^malformed matching-run invocation: kind: /,
  },
];

describe('malformed worker events', () => {
  it.each(BAD_EVENTS)(
    'discards $name sent to $worker at once, with the reason logged, creating no run',
    async ({ worker, event, reason }) => {
      const runsBefore = await client.countRuns();
      const queriesBefore = double.queries().length;

      const started = Date.now();
      const { payload, functionError } =
        worker === 'matchingWorker' ? await client.invokeWorker(event) : await client.sendEvent(event);

      // Fast: seconds at most (the first call includes loading the function), not the 900 s timeout.
      expect(Date.now() - started).toBeLessThan(5_000);

      // Returned, not thrown: Lambda treats the invocation as done and does not retry it.
      expect(functionError).toBeUndefined();
      expect(payload).toEqual({ status: 'discarded', reason: expect.stringMatching(reason) });
      const logged = client
        .logLines()
        .filter(
          (line) => line.message === 'discarding a malformed worker event' && line.reason === payload.reason,
        );
      expect(logged.length).toBeGreaterThanOrEqual(1);
      expect(logged[0]).toMatchObject({ level: 'ERROR', service: 'zhkh-billing' });
      expect(await client.countRuns()).toBe(runsBefore);
      expect(double.queries().length).toBe(queriesBefore);
    },
  );

  it('creates no run for the importIds of the discarded events', async () => {
    for (const importId of ['', 'import\n2024', 'i'.repeat(129)]) {
      const answer = await client.request(`/matching-runs/${derivedRunId('event', importId)}`);
      expect(answer.status).toBe(404);
    }
  });
});

describe('logs of a full run', () => {
  let runId: string;
  let urls: string[];

  beforeAll(async () => {
    const key = `run-${PERSON_ASCII}-${newRunId()}`;
    const started = await client.request('/matching-runs', {
      method: 'POST',
      headers: { ...json, 'idempotency-key': key },
      body: '{"policy":"month-first","partitionBy":"account"}',
    });
    expect(started.status).toBe(202);
    runId = String(started.json.runId);
    const run = await client.waitForRun(runId);
    expect(run.status).toBe('succeeded');
    urls = Object.values(run.outputs as Record<string, { url: string }>).map((output) => output.url);
    const downloaded = await fetch(String(urls[0]));
    expect(downloaded.status).toBe(200);

    // Personal data in places a careless logger would print: rejected bodies, unknown fields, query strings.
    const refused = [
      client.request('/matching-runs', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ policy: 'chronological', payer: PERSON, note: PERSON_ASCII }),
      }),
      client.request('/matching-runs', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ [PERSON]: 1 }),
      }),
      client.request('/matching-runs', {
        method: 'POST',
        headers: json,
        body: `{"payer":"${PERSON}", "passport": "4510 123456"`,
      }),
      client.request('/matching-runs', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: `${PERSON} ${PERSON_ASCII}`,
      }),
      client.request(`/accounts/actions?payer=${encodeURIComponent(PERSON)}&${PERSON_ASCII}=1`),
    ];
    for (const answer of await Promise.all(refused)) expect(answer.status).toBeGreaterThanOrEqual(400);
  }, 60_000);

  it('logged the run and the requests (so the checks below look at real log lines)', () => {
    const lines = client.logLines();
    expect(lines.some((line) => line.message === 'matching run succeeded' && line.runId === runId)).toBe(
      true,
    );
    expect(
      lines.filter((line) => line.message === 'request failed' && line.status === 400).length,
    ).toBeGreaterThan(3);
    expect(lines.every((line) => typeof line.level === 'string')).toBe(true);
  });

  it('holds no MongoDB credentials', () => {
    const output = stack.output();
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain(encodeURIComponent(PASSWORD));
    expect(output).not.toMatch(/mongodb(?:\+srv)?:\/\/[^\s"'/]*:[^\s"'/]*@/);
  });

  it('holds no presigned URL signatures or credentials', () => {
    const output = stack.output();
    // The outputs of a partitioned run.
    expect(urls).toHaveLength(Object.keys(runOutputKeys(runId, 'account')).length);
    for (const url of urls) {
      const signature = new URL(url).searchParams.get('X-Amz-Signature');
      expect(signature).toMatch(/^[0-9a-f]{64}$/);
      expect(output).not.toContain(String(signature));
    }
    expect(output).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
    expect(output).not.toMatch(/X-Amz-Credential=[A-Za-z0-9]/i);
  });

  it('holds no request bodies, query values or field names carrying personal data', () => {
    const output = stack.output();
    expect(output).not.toContain(PERSON);
    expect(output).not.toContain(PERSON_ASCII);
    expect(output).not.toContain('4510 123456');
  });

  // Last: serverless-offline prints the path of every request itself (as API Gateway access logs
  // would), so from here on the whole output holds these values; the functions' own lines must not.
  it('holds no partition value a lookup was asked for in the functions’ log lines', async () => {
    const asked = [
      await client.request(`/matching-runs/${runId}/partitions/${encodeURIComponent(PERSON)}`),
      await client.request(`/matching-runs/${runId}/partitions/${PERSON_ASCII}?type=number`),
    ];
    expect(asked.map((answer) => answer.status)).toEqual([404, 400]);
    const lines = client
      .logLines()
      .filter((line) => line.route === 'GET /matching-runs/{runId}/partitions/{value+}');
    expect(lines.filter((line) => line.message === 'request failed')).toHaveLength(2);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(PERSON);
    expect(text).not.toContain(PERSON_ASCII);
  });
});

describe('everything MongoDB received in this file (requests, events and a full run)', () => {
  it('never carried an operator that came from a request', () => {
    const allowedOperators = new Set([
      ...operatorKeys(accountActionsPipeline('7800000000001')),
      ...operatorKeys(actionsPagePipeline({ limit: 1, after: '7800000000001' })),
      ...operatorKeys(actionsPagePipeline({ limit: 1 })),
    ]);
    const queries: ReceivedCommand[] = double.queries();
    expect(queries.length).toBeGreaterThan(2);
    // The full run's reads are among them, sorted on the partition field the request named.
    expect(
      queries.filter((query) => query.name === 'find').map((query) => query.command.sort),
    ).toContainEqual(inputSort('account'));
    for (const { name, command } of queries) {
      // Never the collection's default collation, whatever it is.
      expect(command.collation).toEqual({ locale: 'simple' });
      if (name === 'aggregate') {
        expect(command.aggregate).toBe('Account');
        // Structurally identical to what our builders make; only strings and numbers vary.
        expect(command.pipeline).toEqual(canonicalPipeline(command));
      } else {
        expect(['accrual', 'payment']).toContain(command.find);
        expect(command.filter).toEqual({});
        expect(Object.keys(command.sort ?? {}).every((key) => /^[A-Za-z_]\w*$/.test(key))).toBe(true);
      }
      for (const key of operatorKeys(command.pipeline ?? command.filter))
        expect(allowedOperators).toContain(key);
    }
  });
});
