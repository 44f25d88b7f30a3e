import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EJSON } from 'bson';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, dynamoDocumentClient } from '../../lib/aws/clients.js';
import { loadConfig } from '../../lib/config.js';
import {
  type MatchOptions,
  type MatchResult,
  matchesCsvChunks,
  matchPayments,
  toMatchResult,
  unmatchedPaymentsCsvChunks,
} from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { newRunId, RunLedger } from '../../lib/runs/ledger.js';
import {
  isPartitionedOnly,
  RUN_OUTPUT_NAMES,
  RUN_OUTPUTS_PREFIX,
  runOutputKeys,
} from '../../lib/runs/outputs.js';
import { MAX_PRESIGN_TTL_SECONDS, ResultsBucket } from '../../lib/runs/results-bucket.js';
import { derivedRunId } from '../../lib/runs/run-id.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { writeDemoData } from '../../scripts/demo-data.js';
import { listKeys } from '../support/instrumented.js';
import { type Stack, startStack } from '../support/offline.js';
import { asJson, paymentsImported, type StackClient, stackClient } from '../support/stack-client.js';

/**
 * Faults, duplicates and concurrency against the deployed shape (serverless-offline, DynamoDB and
 * S3 emulators taken down and brought back, the embedded store on demo data with broken records
 * appended). One stack serves the whole file; its tests run one after the other.
 */

type Json = Record<string, unknown>;

/** A broken record appended to a collection file, and the reason the run must give for it. */
interface Fault {
  readonly fault: string;
  readonly line: string;
  readonly reason: RegExp;
  /** How many `rejected` entries it must produce (both copies of a duplicated id). */
  readonly copies?: number;
}

const DAY = { $date: '2024-03-02T00:00:00Z' };

function faultsFor(source: 'accrual' | 'payment'): Fault[] {
  const id = (n: number) => `bad-${source}-${n}`;
  const record = (fault: string, fields: Json) =>
    EJSON.stringify({ fault, account: '7800000000001', ...fields });
  const fault = (name: string, fields: Json, reason: RegExp, copies = 1): Fault => ({
    fault: name,
    line: Array.from({ length: copies }, () => record(name, fields)).join('\n'),
    reason,
    copies,
  });
  return [
    fault('missing id', { date: DAY, month: 3 }, /^missing field "id"$/),
    fault('missing date', { id: id(2), month: 3 }, /^missing field "date"$/),
    fault('missing month', { id: id(3), date: DAY }, /^missing field "month"$/),
    fault(
      'dotted string date',
      { id: id(4), date: '02.03.2024', month: 3 },
      /^unparseable date "02\.03\.2024"$/,
    ),
    fault('word as date', { id: id(5), date: 'вчера', month: 3 }, /^unparseable date "вчера"$/),
    fault('impossible date', { id: id(6), date: '2024-02-30', month: 2 }, /^unparseable date "2024-02-30"$/),
    fault('month 13', { id: id(7), date: DAY, month: 13 }, /^invalid month 13$/),
    fault('month 0', { id: id(8), date: DAY, month: 0 }, /^invalid month 0$/),
    fault('month 2024-13', { id: id(9), date: DAY, month: '2024-13' }, /^invalid month "2024-13"$/),
    fault('month name', { id: id(10), date: DAY, month: 'March' }, /^invalid month "March"$/),
    fault('fractional month', { id: id(11), date: DAY, month: 5.5 }, /^invalid month 5\.5$/),
    fault('duplicate id', { id: id(12), date: DAY, month: 3 }, new RegExp(`^duplicate id "${id(12)}"$`), 2),
    fault('array as id', { id: [id(13)], date: DAY, month: 3 }, /^invalid id /),
    fault(
      'nested junk as id',
      { id: { nested: { junk: [1, { deeper: true }] } }, date: DAY, month: 3 },
      /^invalid id /,
    ),
    fault('null id', { id: null, date: DAY, month: 3 }, /^invalid id null$/),
    fault('boolean id', { id: true, date: DAY, month: 3 }, /^invalid id true$/),
    fault('array as date', { id: id(17), date: [2024, 3, 2], month: 3 }, /^unparseable date /),
    fault('object as date', { id: id(18), date: { year: 2024 }, month: 3 }, /^unparseable date /),
    fault('object as month', { id: id(19), date: DAY, month: { value: 3 } }, /^invalid month /),
    fault('strings everywhere', { id: id(20), date: 'junk', month: 'junk' }, /^unparseable date "junk"$/),
    fault(
      'record wrapped in another',
      { [source]: { id: id(21), date: DAY, month: 3 } },
      /^missing field "id"$/,
    ),
  ];
}

const FAULTS = { accrual: faultsFor('accrual'), payment: faultsFor('payment') };
/** Unusual but valid (SPEC §3): an ISO date string and a `YYYY-MM` month; must not be rejected. */
const UNUSUAL_BUT_VALID = {
  accrual: EJSON.stringify({
    id: 'ok-accrual-1',
    date: '2024-02-01',
    month: '2024-01',
    account: '7800000000001',
  }),
  payment: EJSON.stringify({
    id: 'ok-payment-1',
    date: '2024-02-10',
    month: '2024-01',
    account: '7800000000001',
  }),
};

let dataDir: string;
let stack: Stack;
let client: StackClient;
/** The demo record whose id a fault repeats: it must be rejected too. */
let shadowedAccrualId: unknown;

async function lineCount(collection: string): Promise<number> {
  const text = await readFile(path.join(dataDir, `${collection}.ndjson`), 'utf8');
  return text.split('\n').filter((line) => line.trim() !== '').length;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hardening-data-'));
  await writeDemoData(dataDir, { accounts: 120, accruals: 400, payments: 370, seed: 8, badRecords: false });
  const [first] = (await readFile(path.join(dataDir, 'accrual.ndjson'), 'utf8')).split('\n');
  const firstAccrual = EJSON.parse(String(first)) as Document;
  shadowedAccrualId = firstAccrual.id;
  const repeatsDemoId = EJSON.stringify({ ...firstAccrual, _id: undefined, fault: 'repeats a demo id' });
  for (const source of ['accrual', 'payment'] as const) {
    const lines = [...FAULTS[source].map((f) => f.line), UNUSUAL_BUT_VALID[source]];
    if (source === 'accrual') lines.push(repeatsDemoId);
    await appendFile(path.join(dataDir, `${source}.ndjson`), `${lines.join('\n')}\n`);
  }
  stack = await startStack({ dataDir });
  client = stackClient(stack);
}, 120_000);

afterAll(async () => {
  client?.close();
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const json = { 'content-type': 'application/json' };

function ledger(): RunLedger {
  return new RunLedger(
    dynamoDocumentClient(loadConfig({ DYNAMODB_ENDPOINT: stack.dynamodbEndpoint })),
    stack.emulators.tables.runs,
  );
}

function s3Keys(runId: string): Promise<string[]> {
  return listKeys(
    createS3Client({ region: 'us-east-1', endpoint: stack.s3Endpoint }),
    stack.emulators.bucket,
    `${RUN_OUTPUTS_PREFIX}${runId}/`,
  );
}

async function startRun(body: Json, headers: Record<string, string> = json): Promise<string> {
  const answer = await client.request('/matching-runs', {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  expect(answer.status).toBe(202);
  return String(answer.json.runId);
}

/** The matcher run directly on the stack's data, read the way the worker reads it. */
async function direct(options: MatchOptions) {
  const store = new EmbeddedDocumentStore({ dataDir });
  const sort = inputSort(options.partitionBy);
  return matchPayments(
    store.find<Document>('accrual', {}, { sort }),
    store.find<Document>('payment', {}, { sort }),
    options,
  );
}

/** Downloads a succeeded run's outputs through their presigned URLs. */
async function downloads(
  run: Json,
): Promise<{ result: MatchResult; matchesCsv: string; unmatchedCsv: string }> {
  const outputs = run.outputs as Record<string, { url: string }>;
  const text = async (name: string) => {
    const response = await fetch(String(outputs[name]?.url));
    expect(response.status).toBe(200);
    return response.text();
  };
  const [result, matchesCsv, unmatchedCsv] = await Promise.all([
    text('resultJson'),
    text('matchesCsv'),
    text('unmatchedPaymentsCsv'),
  ]);
  return { result: JSON.parse(result) as MatchResult, matchesCsv, unmatchedCsv };
}

/** Asserts that a run's downloaded outputs are what the matcher gives directly, and belong to that run. */
async function expectOutputsOfDirectRun(run: Json, options: MatchOptions): Promise<MatchResult> {
  const { result, matchesCsv, unmatchedCsv } = await downloads(run);
  const outcome = await direct(options);
  const expected = asJson(
    toMatchResult(outcome, { runId: String(run.runId), generatedAt: result.generatedAt }),
  ) as MatchResult;
  expect(result.runId).toBe(run.runId);
  expect({ ...result, stats: { ...result.stats, durationMs: 0 } }).toEqual({
    ...expected,
    stats: { ...expected.stats, durationMs: 0 },
  });
  expect(matchesCsv).toBe([...matchesCsvChunks(outcome)].join(''));
  expect(unmatchedCsv).toBe([...unmatchedPaymentsCsvChunks(outcome)].join(''));
  return result;
}

/** The `outputs` of a run that has not succeeded: where its outputs go, with no download URLs. */
function keysOnly(runId: string): Record<string, { key: string }> {
  return Object.fromEntries(Object.entries(runOutputKeys(runId)).map(([name, key]) => [name, { key }]));
}

function logLinesFor(runId: string, message: string): Json[] {
  return client.logLines().filter((line) => line.message === message && line.runId === runId);
}

describe('data-level faults in the collections', () => {
  let result: MatchResult;

  beforeAll(async () => {
    const run = await client.waitForRun(await startRun({}));
    expect(run.status).toBe('succeeded');
    result = await expectOutputsOfDirectRun(run, {});
  }, 60_000);

  it.each([
    ...FAULTS.accrual.map((f) => ['accrual', f] as const),
    ...FAULTS.payment.map((f) => ['payment', f] as const),
  ])('lists the %s with "%s" in rejected, with its reason', (source, { fault, reason, copies = 1 }) => {
    const entries = result.rejected.filter(
      (entry) => entry.source === source && (entry.record as Json | null)?.fault === fault,
    );
    expect(entries).toHaveLength(copies);
    for (const entry of entries) expect(entry.reason).toMatch(reason);
  });

  it('rejects the demo record whose id a broken record repeats, too: no copy of a duplicated id is trusted', () => {
    const victims = result.rejected.filter((entry) => (entry.record as Json).fault === undefined);
    expect(victims).toEqual([
      expect.objectContaining({ source: 'accrual', reason: expect.stringMatching(/^duplicate id /) }),
    ]);
    expect((victims[0]?.record as Json | undefined)?.id).toEqual(asJson(shadowedAccrualId));
    expect(
      result.rejected.filter((entry) => (entry.record as Json).fault === 'repeats a demo id'),
    ).toHaveLength(1);
  });

  it('keeps records that are unusual but valid (ISO date strings, YYYY-MM months) out of rejected', () => {
    const ids = new Set(result.rejected.map((entry) => (entry.record as Json).id));
    expect(ids.has('ok-accrual-1')).toBe(false);
    expect(ids.has('ok-payment-1')).toBe(false);
    const placed = [
      ...result.matches.flatMap((m) => [m.payment.id, m.accrual.id]),
      ...result.unmatchedPayments.map((p) => p.id),
      ...result.unpaidAccruals.map((a) => a.id),
    ];
    expect(placed).toEqual(expect.arrayContaining(['ok-accrual-1', 'ok-payment-1']));
  });

  it('reconciles the counts: everything read is matched, left over or rejected, exactly once', async () => {
    const { stats } = result;
    const rejectedFrom = (source: string) =>
      result.rejected.filter((entry) => entry.source === source).length;
    expect(stats.accruals).toBe(await lineCount('accrual'));
    expect(stats.payments).toBe(await lineCount('payment'));
    expect(stats.payments).toBe(stats.matched + stats.unmatched + rejectedFrom('payment'));
    expect(stats.accruals).toBe(stats.matched + stats.unpaid + rejectedFrom('accrual'));
    expect(result.matches).toHaveLength(stats.matched);
    expect(result.unmatchedPayments).toHaveLength(stats.unmatched);
    expect(result.unpaidAccruals).toHaveLength(stats.unpaid);
    expect(result.rejected).toHaveLength(stats.rejected);
    expect(stats.sameMonth + stats.oldest).toBe(stats.matched);
    const faulty = FAULTS.accrual.concat(FAULTS.payment).reduce((sum, f) => sum + (f.copies ?? 1), 0);
    expect(stats.rejected).toBe(faulty + 2); // + the repeated demo id, both copies
    expect(stats.matched).toBeGreaterThan(100);
  });
});

describe('S3 unavailable during a run', () => {
  it('ends the run failed with the cause and no outputs; re-invoking the worker for it writes complete outputs', async () => {
    let runId = '';
    await stack.emulators.s3.down();
    try {
      runId = await startRun({ policy: 'month-first' });
      const failed = await client.waitForRun(runId);
      expect(failed).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: expect.stringMatching(/S3 is unavailable \(E[A-Z]+\)/),
      });
      expect(failed.outputs).toEqual(keysOnly(runId));
      expect(JSON.stringify(failed)).not.toContain('X-Amz-');
    } finally {
      await stack.emulators.s3.up();
    }
    expect(await s3Keys(runId)).toEqual([]);

    const retry = await client.invokeWorker({ kind: 'matching-run', runId });
    expect(retry.payload).toMatchObject({ status: 'succeeded', runId });
    const run = await client.waitForRun(runId);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(run.error).toBeUndefined();
    const keys = runOutputKeys(runId);
    expect(await s3Keys(runId)).toEqual(Object.values(keys).sort());
    await expectOutputsOfDirectRun(run, { policy: 'month-first' });
  }, 60_000);
});

describe('DynamoDB unavailable', () => {
  it('answers the routes that need it with 503 and Retry-After, and the worker starts nothing it cannot record', async () => {
    const queuedRunId = newRunId();
    await ledger().create({ runId: queuedRunId, policy: 'chronological', trigger: 'http' });
    const importId = `import-${newRunId()}`;

    await stack.emulators.dynamodb.down();
    const answers: Array<[string, Awaited<ReturnType<StackClient['request']>>]> = [];
    let workerAnswers: unknown[] = [];
    try {
      answers.push([
        'POST /matching-runs',
        await client.request('/matching-runs', { method: 'POST', headers: json, body: '{}' }),
      ]);
      answers.push([
        'POST /matching-runs with an Idempotency-Key',
        await client.request('/matching-runs', {
          method: 'POST',
          headers: { ...json, 'idempotency-key': `ddb-down-${newRunId()}` },
          body: '{}',
        }),
      ]);
      answers.push(['GET /matching-runs/{runId}', await client.request(`/matching-runs/${queuedRunId}`)]);
      // The actions summary needs no DynamoDB and keeps working.
      expect((await client.request('/accounts/7800000000001/actions')).status).toBe(200);
      workerAnswers = [
        (await client.invokeWorker({ kind: 'matching-run', runId: queuedRunId })).payload,
        (await client.sendEvent(paymentsImported(importId))).payload,
      ];
    } finally {
      await stack.emulators.dynamodb.up();
    }

    for (const [route, answer] of answers) {
      expect(answer.status, route).toBe(503);
      expect(answer.headers.get('content-type'), route).toMatch(/^application\/problem\+json\b/);
      expect(Number(answer.headers.get('retry-after')), route).toBeGreaterThanOrEqual(1);
      expect(answer.json).toMatchObject({ status: 503, title: 'Service unavailable' });
      expect(answer.text, route).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at /);
    }
    // Under serverless-offline the worker returns instead of throwing (in AWS it throws, and
    // Lambda retries); either way it did no work.
    expect(workerAnswers).toEqual([
      { status: 'discarded', reason: 'failure could not be recorded' },
      { status: 'discarded', reason: 'failure could not be recorded' },
    ]);
    expect(await ledger().get(queuedRunId)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await s3Keys(queuedRunId)).toEqual([]);
    expect(await ledger().get(derivedRunId('event', importId))).toBeUndefined();
    expect(await s3Keys(derivedRunId('event', importId))).toEqual([]);
  }, 60_000);
});

describe('duplicates and concurrency', () => {
  it('makes exactly one run of a PaymentsImported event delivered three times at once and once more later', async () => {
    const importId = `import-${newRunId()}`;
    const runId = derivedRunId('event', importId);
    const runsBefore = await client.countRuns();
    const event = paymentsImported(importId, { paymentCount: 370 });

    const concurrent = await Promise.all([1, 2, 3].map(() => client.sendEvent(event)));
    const later = await client.sendEvent(event);

    for (const { payload, functionError } of [...concurrent, later]) {
      expect(functionError).toBeUndefined();
      expect(payload.runId).toBe(runId);
      expect(['succeeded', 'duplicate']).toContain(payload.status);
    }
    expect(await client.countRuns()).toBe(runsBefore + 1);
    expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', trigger: 'event', attempts: 1 });
    // One worker did the work: one "created", one "succeeded", one set of outputs.
    expect(logLinesFor(runId, 'matching run succeeded')).toHaveLength(1);
    const created = client
      .logLines()
      .filter((line) => line.message === 'PaymentsImported: matching run created' && line.runId === runId);
    expect(created).toHaveLength(1);
    const keys = runOutputKeys(runId);
    expect(await s3Keys(runId)).toEqual(Object.values(keys).sort());
  }, 60_000);

  it('gives six concurrent POSTs with one Idempotency-Key one run and the same answer', async () => {
    const key = `concurrent-${newRunId()}`;
    const runsBefore = await client.countRuns();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        client.request('/matching-runs', {
          method: 'POST',
          headers: { ...json, 'idempotency-key': key },
          body: '{"policy":"chronological"}',
        }),
      ),
    );
    const runId = derivedRunId('http', key);
    for (const answer of answers) {
      expect(answer.status).toBe(202);
      expect(answer.headers.get('location')).toBe(`/matching-runs/${runId}`);
      expect(answer.json).toMatchObject({ runId, url: `/matching-runs/${runId}` });
    }
    expect(await client.countRuns()).toBe(runsBefore + 1);
    const run = await client.waitForRun(runId);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(logLinesFor(runId, 'matching run succeeded')).toHaveLength(1);
  }, 60_000);

  it('runs different runs at the same time without one touching the outputs of another', async () => {
    const importId = `import-${newRunId()}`;
    const [chronological, partitioned, eventAnswer] = await Promise.all([
      startRun({ policy: 'chronological' }),
      startRun({ policy: 'month-first', partitionBy: 'account' }),
      client.sendEvent(paymentsImported(importId, { policy: 'month-first' })),
    ]);
    const byEvent = derivedRunId('event', importId);
    expect(eventAnswer.payload).toMatchObject({ status: 'succeeded', runId: byEvent });

    const runs = await Promise.all([chronological, partitioned, byEvent].map((id) => client.waitForRun(id)));
    const options: MatchOptions[] = [
      { policy: 'chronological' },
      { policy: 'month-first', partitionBy: 'account' },
      { policy: 'month-first' },
    ];
    const results = await Promise.all(
      runs.map((run, index) => expectOutputsOfDirectRun(run, options[index] ?? {})),
    );
    // The three runs differ, so mixed-up outputs could not pass the checks above by accident.
    expect(new Set(results.map((r) => JSON.stringify(r.matches))).size).toBe(3);
  }, 60_000);
});

describe('presigned download URLs', () => {
  it('are issued only for succeeded runs: queued, running and failed runs show the keys only', async () => {
    const runId = newRunId();
    const runs = ledger();
    const seen: Json[] = [];
    await runs.create({ runId, policy: 'chronological', trigger: 'http' });
    seen.push((await client.request(`/matching-runs/${runId}`)).json);
    await runs.markRunning(runId);
    seen.push((await client.request(`/matching-runs/${runId}`)).json);
    await runs.markFailed(runId, 'S3 is unavailable (ECONNREFUSED)');
    seen.push((await client.request(`/matching-runs/${runId}`)).json);

    expect(seen.map((run) => run.status)).toEqual(['queued', 'running', 'failed']);
    for (const run of seen) {
      expect(run.outputs).toEqual(keysOnly(runId));
      expect(JSON.stringify(run)).not.toMatch(/X-Amz-|https?:\/\//);
    }
  });

  it('expire within 15 minutes (the configured 300 s) and point at the run’s own outputs', async () => {
    const runId = await startRun({});
    const run = await client.waitForRun(runId);
    const outputs = run.outputs as Record<string, { key: string; url: string }>;
    // A run without a partition field: every output but the partition lookup's.
    expect(Object.keys(outputs).sort()).toEqual(
      RUN_OUTPUT_NAMES.filter((name) => !isPartitionedOnly(name)).sort(),
    );
    for (const { key, url } of Object.values(outputs)) {
      const parsed = new URL(url);
      expect(Number(parsed.searchParams.get('X-Amz-Expires'))).toBe(300);
      expect(Number(parsed.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(MAX_PRESIGN_TTL_SECONDS);
      expect(parsed.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(decodeURIComponent(parsed.pathname)).toBe(`/${stack.emulators.bucket}/${key}`);
    }
  }, 60_000);

  it('stop working once expired, and cannot be made to last longer than 15 minutes', async () => {
    const runId = await startRun({});
    expect((await client.waitForRun(runId)).status).toBe('succeeded');
    const keys = runOutputKeys(runId);
    const bucket = new ResultsBucket(
      createS3Client({ region: 'us-east-1', endpoint: stack.s3Endpoint }),
      stack.emulators.bucket,
    );
    // Signed a minute ago: valid for two minutes it still works, for thirty seconds it has expired.
    const aMinuteAgo = new Date(Date.now() - 60_000);
    expect((await fetch(await bucket.presign(keys.resultJson, 120, aMinuteAgo))).status).toBe(200);
    expect((await fetch(await bucket.presign(keys.resultJson, 30, aMinuteAgo))).status).toBe(403);
    await expect(bucket.presign(keys.resultJson, MAX_PRESIGN_TTL_SECONDS + 1)).rejects.toThrow(RangeError);
    expect(() => loadConfig({ PRESIGNED_URL_TTL_SECONDS: '901' })).toThrow(/PRESIGNED_URL_TTL_SECONDS/);
  }, 60_000);
});
