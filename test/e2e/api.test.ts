import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, dynamoDocumentClient, LOCAL_CREDENTIALS } from '../../lib/aws/clients.js';
import { loadConfig } from '../../lib/config.js';
import {
  type MatchOptions,
  type MatchResult,
  matchesCsvChunks,
  matchPayments,
  toMatchResult,
  unmatchedPaymentsCsvChunks,
  unpaidAccrualsCsvChunks,
} from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { RunLedger } from '../../lib/runs/ledger.js';
import { PartitionLookups } from '../../lib/runs/partition-lookup.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { derivedRunId, newRunId } from '../../lib/runs/run-id.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { getAccountActions, listAccountActions } from '../../lib/summary/index.js';
import { readYaml } from '../http/yaml.js';
import { paymentsImported } from '../support/events.js';
import { type Stack, startStack } from '../support/offline.js';
import { plainRow, readWorkbook } from '../support/workbook-reader.js';

/**
 * The deployed shape, run locally: real HTTP through serverless-offline (API Gateway v2 events),
 * the worker invoked asynchronously through the Lambda API, DynamoDB and S3 emulators, and the
 * embedded document store on generated demo data. One stack serves the whole file.
 */

let stack: Stack;
let store: EmbeddedDocumentStore;
let lambda: LambdaClient;

beforeAll(async () => {
  stack = await startStack();
  store = new EmbeddedDocumentStore({ dataDir: stack.dataDir });
  lambda = new LambdaClient({
    region: 'us-east-1',
    endpoint: stack.lambdaEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
}, 120_000);

afterAll(async () => {
  lambda?.destroy();
  await store?.close();
  await stack?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function request(path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${stack.baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : {} };
}

function post(
  body: string | undefined,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return request('/matching-runs', { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
}

/** The same value as it would travel through JSON (Dates become ISO strings). */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

async function waitForRun(runId: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, json } = await request(`/matching-runs/${runId}`);
    expect(status).toBe(200);
    if (json.status === 'succeeded' || json.status === 'failed') return json;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} still ${String(json.status)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Invokes a worker function synchronously. */
async function invoke(
  key: 'matchingWorker' | 'paymentsImportedWorker',
  event: unknown,
): Promise<Record<string, unknown>> {
  const answer = await lambda.send(
    new InvokeCommand({
      FunctionName: stack.functionName(key),
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(event)),
    }),
  );
  return JSON.parse(Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8'));
}

/** Delivers an event to `paymentsImportedWorker`, the EventBridge rule's target. */
function sendEvent(event: unknown): Promise<Record<string, unknown>> {
  return invoke('paymentsImportedWorker', event);
}

/** What the matcher gives when run directly on the stack's data, read the way the worker reads it. */
async function expectedOutcome(options: MatchOptions) {
  const sort = inputSort(options.partitionBy);
  return matchPayments(
    store.find<Document>('accrual', {}, { sort }),
    store.find<Document>('payment', {}, { sort }),
    options,
  );
}

describe('GET /accounts/{number}/actions', () => {
  it('answers the summary of one account, as the pipeline computes it', async () => {
    const { status, headers, json } = await request('/accounts/7800000000001/actions');
    expect(status).toBe(200);
    // serverless-offline (hapi) appends a charset; API Gateway passes the handler's header through.
    expect(headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(json).toEqual(asJson(await getAccountActions(store, '7800000000001')));
    expect((json.actions as Array<{ type: string }>).slice(0, 4).map((a) => a.type)).toEqual([
      'create',
      'read',
      'update',
      'delete',
    ]);
  });

  it.each<[string, number, RegExp]>([
    ['7899999999999', 404, /7899999999999 does not exist/],
    ['780000000000', 400, /^number: must be exactly 13 characters.*got 12$/],
    ['78000000000000', 400, /got 14$/],
    [encodeURIComponent('$ne0000000000'), 400, /^number: must not start with '\$'$/],
  ])('answers %s with %i', async (number, status, detail) => {
    const { status: actual, headers, json } = await request(`/accounts/${number}/actions`);
    expect(actual).toBe(status);
    expect(headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(json.detail).toMatch(detail);
  });
});

describe('GET /accounts/actions', () => {
  it('pages through the accounts with the after cursor', async () => {
    const first = await request('/accounts/actions?limit=3');
    expect(first.status).toBe(200);
    expect(first.json).toEqual(asJson(await listAccountActions(store, { limit: 3 })));
    const items = first.json.items as Array<{ number: string }>;
    expect(items).toHaveLength(3);
    expect(first.json.after).toBe(items[2]?.number);

    const second = await request(`/accounts/actions?limit=3&after=${String(first.json.after)}`);
    expect(second.json).toEqual(
      asJson(await listAccountActions(store, { limit: 3, after: String(first.json.after) })),
    );
    const next = second.json.items as Array<{ number: string }>;
    expect(String(next[0]?.number) > String(first.json.after)).toBe(true);
  });

  it('defaults to pages of 100', async () => {
    const { json } = await request('/accounts/actions');
    expect(json.items).toHaveLength(100);
  });

  it.each<[string, RegExp]>([
    ['limit=0', /^limit: must be an integer from 1 to 1000$/],
    ['limit=1001', /^limit: /],
    ['limit=ten', /^limit: /],
    [`after=${'9'.repeat(1025)}`, /^after: must be at most 1024 characters$/],
    ['after[$gt]=0', /is not an accepted field/],
    ['order=desc', /^order: is not an accepted field$/],
  ])('answers ?%s with 400', async (query, detail) => {
    const { status, json } = await request(`/accounts/actions?${query}`);
    expect(status).toBe(400);
    expect(json.detail).toMatch(detail);
  });
});

describe('matching run over HTTP', () => {
  let runId: string;
  let run: Record<string, unknown>;

  beforeAll(async () => {
    const { status, headers, json } = await post('{}');
    expect(status).toBe(202);
    runId = String(json.runId);
    expect(json).toEqual({ runId, status: 'queued', url: `/matching-runs/${runId}` });
    expect(headers.get('location')).toBe(`/matching-runs/${runId}`);
    run = await waitForRun(runId);
  }, 60_000);

  it('runs to succeeded with the default policy and complete stats', () => {
    expect(run).toMatchObject({
      runId,
      status: 'succeeded',
      policy: 'chronological',
      trigger: 'http',
      attempts: 1,
    });
    expect(run.error).toBeUndefined();
    expect(run.stale).toBe(false);
    const stats = run.stats as Record<string, number>;
    // Every record read is matched (one accrual + one payment per match), left over, or rejected.
    expect((stats.accruals ?? 0) + (stats.payments ?? 0)).toBe(
      2 * (stats.matched ?? 0) + (stats.unmatched ?? 0) + (stats.unpaid ?? 0) + (stats.rejected ?? 0),
    );
    expect(stats.matched).toBeGreaterThan(0);
  });

  it('answers with exactly the fields openapi.yaml documents for a run', async () => {
    const document = (await readYaml('openapi.yaml')) as {
      components: { schemas: { MatchingRun: { required: string[]; properties: Record<string, unknown> } } };
    };
    const { required, properties } = document.components.schemas.MatchingRun;
    expect(Object.keys(run).filter((key) => !(key in properties))).toEqual([]);
    expect(required.filter((key) => !(key in run))).toEqual([]);
  });

  it('writes result.json that equals the matcher run directly on the same data', async () => {
    const outputs = run.outputs as Record<string, { key: string; url: string }>;
    expect(outputs.resultJson?.key).toBe(`matching-runs/${runId}/result.json`);
    const downloaded = (await (await fetch(String(outputs.resultJson?.url))).json()) as MatchResult;
    const expected = asJson(
      toMatchResult(await expectedOutcome({}), { runId, generatedAt: downloaded.generatedAt }),
    ) as MatchResult;
    expect(downloaded.runId).toBe(runId);
    expect(downloaded.matches).toEqual(expected.matches);
    expect(downloaded.unmatchedPayments).toEqual(expected.unmatchedPayments);
    expect(downloaded.unpaidAccruals).toEqual(expected.unpaidAccruals);
    expect(downloaded.rejected).toEqual(expected.rejected);
    expect({ ...downloaded.stats, durationMs: 0 }).toEqual({ ...expected.stats, durationMs: 0 });
    expect(downloaded.matches.length).toBeGreaterThan(100);
  });

  it('writes the CSV tables byte for byte as the matcher renders them', async () => {
    const outputs = run.outputs as Record<string, { url: string }>;
    const outcome = await expectedOutcome({});
    const [matches, unmatched, unpaid] = await Promise.all(
      [outputs.matchesCsv?.url, outputs.unmatchedPaymentsCsv?.url, outputs.unpaidAccrualsCsv?.url].map(
        async (url) => (await fetch(String(url))).text(),
      ),
    );
    expect(matches).toBe([...matchesCsvChunks(outcome)].join(''));
    expect(unmatched).toBe([...unmatchedPaymentsCsvChunks(outcome)].join(''));
    expect(unpaid).toBe([...unpaidAccrualsCsvChunks(outcome)].join(''));
    expect(outcome.stats.unpaid).toBeGreaterThan(0);
  });

  it('writes the workbook, downloadable as an xlsx spreadsheet, with a row per record of result.json', async () => {
    const outputs = run.outputs as Record<string, { key: string; url: string }>;
    expect(outputs.resultXlsx?.key).toBe(`matching-runs/${runId}/result.xlsx`);
    const response = await fetch(String(outputs.resultXlsx?.url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    const sheets = readWorkbook(new Uint8Array(await response.arrayBuffer()));
    const result = asJson(
      toMatchResult(await expectedOutcome({}), { runId, generatedAt: '2024-01-01T00:00:00.000Z' }),
    ) as MatchResult;
    expect(sheets.map((sheet) => [sheet.name, sheet.rows.length - 1])).toEqual([
      ['Summary', expect.any(Number)],
      ['Matches', result.matches.length],
      ['Unmatched payments', result.unmatchedPayments.length],
      ['Unpaid accruals', result.unpaidAccruals.length],
      ['Rejected', result.rejected.length],
    ]);
    const first = result.matches[0];
    expect(plainRow(sheets[1]?.rows[1] ?? []).slice(0, 3)).toEqual([
      typeof first?.payment.id === 'object'
        ? (first.payment.id as { $oid: string }).$oid
        : String(first?.payment.id),
      first?.payment.date,
      first?.payment.month,
    ]);
  });

  it('links outputs with presigned URLs that expire within 15 minutes', () => {
    for (const output of Object.values(run.outputs as Record<string, { url: string }>)) {
      const url = new URL(output.url);
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeGreaterThan(0);
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(900);
    }
  });

  it('runs month-first per partition when asked', async () => {
    const { json } = await post(JSON.stringify({ policy: 'month-first', partitionBy: 'account' }));
    const partitioned = await waitForRun(String(json.runId));
    expect(partitioned).toMatchObject({ status: 'succeeded', policy: 'month-first', partitionBy: 'account' });
    const expected = await expectedOutcome({ policy: 'month-first', partitionBy: 'account' });
    expect({ ...(partitioned.stats as object), durationMs: 0 }).toEqual({ ...expected.stats, durationMs: 0 });
  });
});

describe('POST /matching-runs idempotency', () => {
  it('gives one run for repeated and concurrent requests with the same Idempotency-Key', async () => {
    const key = `e2e-${newRunId()}`;
    const headers = { 'content-type': 'application/json', 'idempotency-key': key };
    const answers = await Promise.all([post('{}', headers), post('{}', headers), post('{}', headers)]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const runIds = new Set(answers.map((a) => a.json.runId));
    expect([...runIds]).toEqual([derivedRunId('http', key)]);
    const run = await waitForRun(derivedRunId('http', key));
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
    const again = await post('{}', headers);
    expect(again).toMatchObject({
      status: 202,
      json: { runId: derivedRunId('http', key), status: 'succeeded' },
    });
  });

  it('refuses a key reused with a different body (409)', async () => {
    const headers = { 'content-type': 'application/json', 'idempotency-key': `e2e-${newRunId()}` };
    expect((await post('{}', headers)).status).toBe(202);
    const conflict = await post('{"policy":"month-first"}', headers);
    expect(conflict.status).toBe(409);
    expect(conflict.json.detail).toMatch(/Idempotency-Key/);
  });
});

describe('POST /matching-runs and GET /matching-runs/{runId} reject bad input', () => {
  it.each<[string, string | undefined, Record<string, string>, number, RegExp]>([
    [
      'an unknown policy',
      '{"policy":"fifo"}',
      { 'content-type': 'application/json' },
      400,
      /^body\.policy: must be one of/,
    ],
    [
      'an operator as partition field',
      '{"partitionBy":"$where"}',
      { 'content-type': 'application/json' },
      400,
      /partitionBy/,
    ],
    [
      'an unknown field',
      '{"limit":5}',
      { 'content-type': 'application/json' },
      400,
      /^body\.limit: is not an accepted field$/,
    ],
    [
      'malformed JSON',
      '{"policy":',
      { 'content-type': 'application/json' },
      400,
      /^body: is not valid JSON$/,
    ],
    [
      'a form body',
      'policy=fifo',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      /content-type/,
    ],
    [
      'a body over 64 KiB',
      JSON.stringify({ policy: 'x'.repeat(70_000) }),
      { 'content-type': 'application/json' },
      413,
      /65536/,
    ],
    [
      'an empty Idempotency-Key',
      '{}',
      { 'content-type': 'application/json', 'idempotency-key': ' ' },
      400,
      /idempotency-key/,
    ],
  ])('answers %s with a problem', async (_case, body, headers, status, detail) => {
    const answer = await post(body, headers);
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(answer.json.detail).toMatch(detail);
  });

  it('starts a run with the defaults when there is no body at all', async () => {
    const answer = await post(undefined, {});
    expect(answer.status).toBe(202);
  });

  it.each<[string, number]>([
    ['not-a-run-id', 400],
    [newRunId(), 404],
  ])('answers GET /matching-runs/%s with %i', async (runId, status) => {
    const answer = await request(`/matching-runs/${runId}`);
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
  });
});

describe('matching run by PaymentsImported event', () => {
  it('creates one run per import, however often the event is delivered', async () => {
    const importId = `import-${newRunId()}`;
    const runId = derivedRunId('event', importId);
    const first = await sendEvent(paymentsImported(importId, { paymentCount: 5600 }));
    expect(first).toMatchObject({ status: 'succeeded', runId });

    const redelivered = await Promise.all([
      sendEvent(paymentsImported(importId, { paymentCount: 5600 })),
      sendEvent(paymentsImported(importId, { paymentCount: 5600 })),
    ]);
    for (const answer of redelivered) expect(answer.runId).toBe(runId);

    const run = await waitForRun(runId);
    expect(run).toMatchObject({
      status: 'succeeded',
      trigger: 'event',
      policy: 'chronological',
      attempts: 1,
    });

    const dynamo = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const { Items } = await dynamo.send(new ScanCommand({ TableName: stack.emulators.tables.idempotency }));
      const records = (Items ?? []).filter((item) => item.status?.S === 'COMPLETED');
      expect(records.length).toBeGreaterThanOrEqual(1);
    } finally {
      dynamo.destroy();
    }
  });

  it('takes the policy and partition field from the event detail', async () => {
    const importId = `import-${newRunId()}`;
    const answer = await sendEvent(
      paymentsImported(importId, { policy: 'month-first', partitionBy: 'account' }),
    );
    expect(answer.status).toBe('succeeded');
    const run = await waitForRun(derivedRunId('event', importId));
    expect(run).toMatchObject({ policy: 'month-first', partitionBy: 'account', trigger: 'event' });
  });

  it.each<[string, 'matchingWorker' | 'paymentsImportedWorker', unknown, RegExp]>([
    [
      'an unknown detail-type',
      'paymentsImportedWorker',
      { ...paymentsImported('x'), 'detail-type': 'PaymentsDeleted' },
      /unknown detail-type/,
    ],
    [
      'a missing importId',
      'paymentsImportedWorker',
      { ...paymentsImported('x'), detail: {} },
      /detail\.importId/,
    ],
    [
      'an operator as partition field',
      'paymentsImportedWorker',
      paymentsImported('x', { partitionBy: '$where' }),
      /partitionBy/,
    ],
    ['a malformed invocation', 'matchingWorker', { kind: 'matching-run', runId: '../etc' }, /runId/],
    [
      'an event sent to matchingWorker',
      'matchingWorker',
      paymentsImported('x'),
      /not a matching-run invocation/,
    ],
    [
      'an invocation sent to paymentsImportedWorker',
      'paymentsImportedWorker',
      { kind: 'matching-run', runId: newRunId() },
      /not an EventBridge event/,
    ],
  ])(
    'discards %s (%s) with the reason, without failing the invocation',
    async (_case, key, event, reason) => {
      const answer = await invoke(key, event);
      expect(answer.status).toBe('discarded');
      expect(answer.reason).toMatch(reason);
    },
  );
});

describe('GET /matching-runs/{runId}/partitions/{value}', () => {
  let runId: string;
  let result: MatchResult;
  let unpartitionedRunId: string;

  /** The result document's elements grouped by account, as the lookup should list them. */
  function byAccount(document: MatchResult): Map<string, Record<string, unknown[]>> {
    const groups = new Map<string, Record<string, unknown[]>>();
    const add = (account: unknown, list: string, element: unknown): void => {
      if (typeof account !== 'string') return;
      let group = groups.get(account);
      if (!group) {
        group = { matches: [], unmatchedPayments: [], unpaidAccruals: [], rejected: [] };
        groups.set(account, group);
      }
      group[list]?.push(element);
    };
    for (const match of document.matches) add(match.payment.account, 'matches', match);
    for (const payment of document.unmatchedPayments) add(payment.account, 'unmatchedPayments', payment);
    for (const accrual of document.unpaidAccruals) add(accrual.account, 'unpaidAccruals', accrual);
    for (const rejected of document.rejected) {
      add((rejected.record as { account?: unknown } | null)?.account, 'rejected', rejected);
    }
    return groups;
  }

  const partition = (run: string, value: string, query = '') =>
    request(`/matching-runs/${run}/partitions/${value}${query}`);

  beforeAll(async () => {
    const [partitioned, unpartitioned] = await Promise.all([
      post(JSON.stringify({ partitionBy: 'account' })),
      post('{}'),
    ]);
    runId = String(partitioned.json.runId);
    unpartitionedRunId = String(unpartitioned.json.runId);
    const [run] = await Promise.all([waitForRun(runId), waitForRun(unpartitionedRunId)]);
    expect(run.status).toBe('succeeded');
    const outputs = run.outputs as Record<string, { key: string; url: string }>;
    expect(outputs.partitionIndex?.key).toBe(`matching-runs/${runId}/partition-index.jsonl`);
    result = (await (await fetch(String(outputs.resultJson?.url))).json()) as MatchResult;
  }, 90_000);

  it('gives accounts of a finished run over HTTP exactly their records of result.json', async () => {
    const groups = [...byAccount(result)];
    expect(groups.length).toBeGreaterThan(1000);
    // Every 20th account, the first and the last, and those with rejected records: serverless-offline
    // answers one request at a time per function, about 50 ms each here (all of them: below).
    const sample = groups.filter(
      ([, lists], i) => i % 20 === 0 || i === groups.length - 1 || (lists.rejected?.length ?? 0) > 0,
    );
    for (const [account, expected] of sample) {
      const { status, json } = await partition(runId, account);
      expect(status, account).toBe(200);
      expect(json, account).toEqual({
        runId,
        partitionBy: 'account',
        partition: account,
        page: 1,
        pages: 1,
        ...expected,
      });
    }
  }, 120_000);

  it('gives every account of the run exactly its records, read as the function reads them', async () => {
    const cfg = loadConfig({ DYNAMODB_ENDPOINT: stack.dynamodbEndpoint });
    const s3 = createS3Client({ region: 'us-east-1', endpoint: stack.s3Endpoint });
    try {
      const lookups = new PartitionLookups({
        ledger: new RunLedger(dynamoDocumentClient(cfg), stack.emulators.tables.runs),
        reader: new ResultsBucket(s3, stack.emulators.bucket),
      });
      const queue = [...byAccount(result)];
      const check = async (): Promise<void> => {
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          const [account, expected] = next;
          const cost = { reads: 0, bytes: 0 };
          const found = asJson(await lookups.lookUp(runId, { value: account, page: 1 }, cost));
          expect(found, account).toEqual({
            runId,
            partitionBy: 'account',
            partition: account,
            page: 1,
            pages: 1,
            ...expected,
          });
          expect(cost.reads, account).toBeLessThanOrEqual(3);
        }
      };
      await Promise.all(Array.from({ length: 8 }, check));
    } finally {
      s3.destroy();
    }
  }, 120_000);

  it('lists the rejected records of an account with it, and those without an account nowhere', async () => {
    const withAccount = result.rejected.filter(
      (r) => typeof (r.record as { account?: unknown }).account === 'string',
    );
    expect(withAccount.length).toBeGreaterThan(0);
    expect(withAccount.length).toBeLessThan(result.rejected.length);
    const first = withAccount[0] as { record: { account: string } };
    const { json } = await partition(runId, first.record.account);
    expect(json.rejected).toContainEqual(first);
  });

  it.each<[string, string, number, RegExp]>([
    [
      'an account the run does not have',
      '7899999999999',
      404,
      /^the run has no such partition \(account, whose values in this run are: string\)$/,
    ],
    // Problem details never repeat the value (they are logged), so decoding shows in lengths.
    ['256 slashes sent as %2F: one value, decoded', '%2F'.repeat(256), 404, /^the run has no such partition/],
    ['257 slashes sent as %2F', '%2F'.repeat(257), 400, /^value: must be at most 256 characters$/],
    ['a value with slashes as they are', '78/01/02', 404, /^the run has no such partition/],
    ['%2525 decoded once (to %25), not twice', '%2525'.repeat(128), 400, /^value: must be at most 256/],
    [
      'a page the account does not have',
      '7800000000001?page=2',
      404,
      /^the partition has 1 page\(s\), not 2$/,
    ],
    ['a number the run cannot have', '7800000000001?type=number', 404, /\(account, number\)$/],
    ['an unknown type', '7800000000001?type=date', 400, /^type: must be one of number, string, objectId$/],
    ['page 0', '7800000000001?page=0', 400, /^page: must be an integer from 1 to 100000$/],
    ['an unknown parameter', '7800000000001?limit=5', 400, /^limit: is not an accepted field$/],
    ['a value over 256 characters', '7'.repeat(257), 400, /^value: must be at most 256 characters$/],
    ['a control character', 'a%0Ab', 400, /^value: must not contain control characters$/],
  ])('answers %s with %i', async (_case, path, status, detail) => {
    const [value, query] = path.split('?');
    const answer = await partition(runId, String(value), query === undefined ? '' : `?${query}`);
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(answer.json.detail).toMatch(detail);
  });

  it('answers 409 for a run that is not partitioned, or not succeeded yet', async () => {
    const unpartitioned = await partition(unpartitionedRunId, '7800000000001');
    expect(unpartitioned.status).toBe(409);
    expect(unpartitioned.json.detail).toMatch(/is not partitioned/);

    const queuedRunId = newRunId();
    const ledger = new RunLedger(
      dynamoDocumentClient(loadConfig({ DYNAMODB_ENDPOINT: stack.dynamodbEndpoint })),
      stack.emulators.tables.runs,
    );
    await ledger.create({
      runId: queuedRunId,
      policy: 'chronological',
      partitionBy: 'account',
      trigger: 'http',
    });
    const queued = await partition(queuedRunId, '7800000000001');
    expect(queued.status).toBe(409);
    expect(queued.json.detail).toBe(
      `matching run ${queuedRunId} is queued: its partitions can be looked up once it has succeeded`,
    );
  });

  it.each<[string, number]>([
    ['not-a-run-id', 400],
    [newRunId(), 404],
  ])('answers for run %s with %i', async (run, status) => {
    const answer = await partition(run, '7800000000001');
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
  });
});
