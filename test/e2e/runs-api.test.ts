import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MatchOptions,
  type MatchResult,
  matchPayments,
  toMatchResult,
} from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { derivedRunId, newRunId } from '../../lib/runs/run-id.js';
import { RUN_PHASES, type RunProgress } from '../../lib/runs/run-record.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { readYaml } from '../http/yaml.js';
import { type Stack, startStack } from '../support/offline.js';
import { asJson, paymentsImported, type StackClient, stackClient } from '../support/stack-client.js';

/**
 * Runs you can find and follow (SPEC §9) and the limitation period (SPEC §7), over the deployed
 * shape run locally: serverless-offline, the DynamoDB and S3 emulators, the embedded store. The
 * demo data is large enough, and the progress interval small enough, that a run can be watched
 * while it runs.
 */

let stack: Stack;
let client: StackClient;
let store: EmbeddedDocumentStore;

beforeAll(async () => {
  stack = await startStack({
    demo: { accounts: 2000, accruals: 20_000, payments: 18_500, seed: 2 },
    env: { RUN_PROGRESS_INTERVAL_MS: '100' },
  });
  client = stackClient(stack);
  store = new EmbeddedDocumentStore({ dataDir: stack.dataDir });
}, 180_000);

afterAll(async () => {
  client?.close();
  await store?.close();
  await stack?.stop();
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return client.request('/matching-runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** What the matcher gives on the stack's data, as result.json holds it (without the run's identity). */
async function expectedResult(options: MatchOptions): Promise<MatchResult> {
  const sort = inputSort(options.partitionBy);
  const outcome = await matchPayments(
    store.find<Document>('accrual', {}, { sort }),
    store.find<Document>('payment', {}, { sort }),
    options,
  );
  return asJson(toMatchResult(outcome, { runId: '', generatedAt: '' })) as MatchResult;
}

/** The run's result.json, downloaded through its presigned URL. */
async function downloadResult(run: Record<string, unknown>): Promise<MatchResult> {
  const outputs = run.outputs as Record<string, { url: string }>;
  return (await (await fetch(String(outputs.resultJson?.url))).json()) as MatchResult;
}

function withoutIdentity(result: MatchResult) {
  const { runId: _runId, generatedAt: _generatedAt, stats, ...rest } = result;
  return { ...rest, stats: { ...stats, durationMs: 0 } };
}

describe('following a running run', () => {
  let runId: string;
  let answers: Array<Record<string, unknown>>;
  let listedWhileRunning: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const { status, json } = await post({ partitionBy: 'account' });
    expect(status).toBe(202);
    runId = String(json.runId);
    const listing = (async () => {
      // Meanwhile, the list of running runs shows it with its progress.
      for (let i = 0; i < 400 && listedWhileRunning.length === 0; i++) {
        const page = await client.request('/matching-runs?status=running');
        listedWhileRunning = (page.json.items as Array<Record<string, unknown>>).filter(
          (item) => item.runId === runId && item.progress !== undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    answers = await client.followRun(runId, { pollMs: 40, timeoutMs: 120_000 });
    await listing;
  }, 150_000);

  it('shows the progress while it runs: phases in order, counts growing, refreshed several times', () => {
    const running = answers.filter((answer) => answer.status === 'running');
    const progress = running.map((answer) => answer.progress as RunProgress);
    expect(progress.every((p) => p !== undefined)).toBe(true);
    const distinct = new Set(progress.map((p) => JSON.stringify(p)));
    expect(distinct.size).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < progress.length; i++) {
      const [before, after] = [progress[i - 1] as RunProgress, progress[i] as RunProgress];
      expect(RUN_PHASES.indexOf(after.phase)).toBeGreaterThanOrEqual(RUN_PHASES.indexOf(before.phase));
      expect(after.accrualsRead).toBeGreaterThanOrEqual(before.accrualsRead);
      expect(after.paymentsRead).toBeGreaterThanOrEqual(before.paymentsRead);
      expect(after.partitionsDone).toBeGreaterThanOrEqual(before.partitionsDone);
    }
    // Records were seen being read before everything was read.
    const stats = (answers.at(-1) as { stats: { accruals: number; payments: number } }).stats;
    const everything = stats.accruals + stats.payments;
    expect(
      progress.some(
        (p) => p.accrualsRead + p.paymentsRead > 0 && p.accrualsRead + p.paymentsRead < everything,
      ),
    ).toBe(true);
    expect(progress.some((p) => p.partitionsDone > 0)).toBe(true);
  });

  it('ends succeeded, with the stats of the matcher and without progress', async () => {
    const finished = answers.at(-1) ?? {};
    expect(finished).toMatchObject({ runId, status: 'succeeded', partitionBy: 'account' });
    expect(finished.progress).toBeUndefined();
    const expected = await expectedResult({ partitionBy: 'account' });
    expect({ ...(finished.stats as object), durationMs: 0 }).toEqual({ ...expected.stats, durationMs: 0 });
  });

  it('was listed among the running runs with its progress while it ran', () => {
    expect(listedWhileRunning).toHaveLength(1);
    expect(listedWhileRunning[0]).toMatchObject({ status: 'running', url: `/matching-runs/${runId}` });
  });

  it('answers with exactly the progress fields openapi.yaml documents', async () => {
    const document = (await readYaml('openapi.yaml')) as {
      components: { schemas: { RunProgress: { required: string[]; properties: Record<string, unknown> } } };
    };
    const { required, properties } = document.components.schemas.RunProgress;
    const progress = answers.find((answer) => answer.progress !== undefined)?.progress as object;
    // An unsharded run has every required field and nothing else; the rest are a sharded run's.
    expect(Object.keys(progress).sort()).toEqual([...required].sort());
    const shardedOnly = Object.keys(properties).filter((name) => !required.includes(name));
    expect(shardedOnly.sort()).toEqual(['shardsDone', 'shardsTotal']);
  });
});

describe('the limitation period', () => {
  it('over HTTP: recorded canonically, applied, and written into result.json', async () => {
    const key = `e2e-${newRunId()}`;
    const { status, json } = await post({ limitationPeriod: 'P36M' }, { 'idempotency-key': key });
    expect(status).toBe(202);
    const run = await client.waitForRun(String(json.runId), 120_000);
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'http', limitationPeriod: 'P3Y' });
    const result = await downloadResult(run);
    expect(result.limitationPeriod).toBe('P3Y');
    expect(withoutIdentity(result)).toEqual(
      withoutIdentity(await expectedResult({ limitationPeriod: 'P3Y' })),
    );

    // The same key: the same period spelt otherwise is the same run; another period is a 409.
    expect((await post({ limitationPeriod: 'P3Y' }, { 'idempotency-key': key })).json.runId).toBe(json.runId);
    const conflict = await post({ limitationPeriod: 'P2Y' }, { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
    expect(conflict.json.detail).toBe(
      'Idempotency-Key was already used for a run with a different limitationPeriod',
    );
  }, 150_000);

  it.each<[unknown, string]>([
    ['P0Y', 'body.limitationPeriod: must be longer than zero'],
    [
      'P3Y2D',
      'body.limitationPeriod: must be an ISO 8601 duration of whole years and/or months, such as P3Y, P36M or P2Y6M (no days, weeks, times, signs or fractions)',
    ],
    ['P200Y', 'body.limitationPeriod: must be at most 100 years'],
    [3, 'body.limitationPeriod: must be a string'],
  ])('over HTTP: answers %j with a 400 naming the field', async (limitationPeriod, detail) => {
    const answer = await post({ limitationPeriod });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(answer.json.detail).toBe(detail);
  });

  it('by event: recorded with the import id, applied, and written into result.json', async () => {
    const importId = `import-${newRunId()}`;
    const answer = await client.sendEvent(
      paymentsImported(importId, { limitationPeriod: 'P24M', partitionBy: 'account' }),
    );
    const runId = derivedRunId('event', importId);
    expect(answer.payload).toMatchObject({ status: 'succeeded', runId });
    const run = await client.waitForRun(runId);
    expect(run).toMatchObject({
      trigger: 'event',
      importId,
      limitationPeriod: 'P2Y',
      partitionBy: 'account',
    });
    const result = await downloadResult(run);
    expect(result.limitationPeriod).toBe('P2Y');
    expect(withoutIdentity(result)).toEqual(
      withoutIdentity(await expectedResult({ limitationPeriod: 'P2Y', partitionBy: 'account' })),
    );

    const other = await client.sendEvent(
      paymentsImported(importId, { limitationPeriod: 'P1Y', partitionBy: 'account' }),
    );
    expect(other.payload).toMatchObject({
      status: 'discarded',
      reason: expect.stringMatching(/limitationPeriod P2Y;.*limitationPeriod P1Y$/),
    });
  }, 150_000);

  it('by event: discards an invalid period with the reason', async () => {
    const answer = await client.sendEvent(
      paymentsImported(`import-${newRunId()}`, { limitationPeriod: 'P1W' }),
    );
    expect(answer.payload).toMatchObject({
      status: 'discarded',
      reason: expect.stringMatching(
        /^malformed PaymentsImported event: detail\.limitationPeriod: must be an ISO 8601 duration/,
      ),
    });
  });
});

describe('GET /matching-runs', () => {
  type Listed = Record<string, unknown> & { runId: string };

  /** Every run in the ledger, newest first, with the filters applied: the reference for listings. */
  async function reference(filters: { status?: string; trigger?: string } = {}): Promise<string[]> {
    return (await client.scanRuns())
      .filter((run) => filters.status === undefined || run.status === filters.status)
      .filter((run) => filters.trigger === undefined || run.trigger === filters.trigger)
      .sort((a, b) => (`${a.createdAt}#${a.runId}` < `${b.createdAt}#${b.runId}` ? 1 : -1))
      .map((run) => run.runId);
  }

  /** Follows `after` from the first page to the last; the run ids in order, and every item. */
  async function listAll(query: string): Promise<{ runIds: string[]; items: Listed[]; pages: number }> {
    const items: Listed[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const separator = query === '' ? '' : '&';
      const cursor: string = after === null ? '' : `${separator}after=${encodeURIComponent(after)}`;
      const page = await client.request(`/matching-runs?${query}${cursor}`);
      expect(page.status, page.text).toBe(200);
      items.push(...(page.json.items as Listed[]));
      after = page.json.after as string | null;
      pages++;
    } while (after !== null && pages < 100);
    return { runIds: items.map((item) => item.runId), items, pages };
  }

  beforeAll(async () => {
    // A few more runs, of both triggers, that end quickly: each asks for a partition field no
    // record has, so every record is rejected.
    const started = await Promise.all([1, 2, 3].map(() => post({ partitionBy: 'nothing_here' })));
    await client.sendEvent(paymentsImported(`import-${newRunId()}`, { partitionBy: 'nothing_here' }));
    for (const answer of started) await client.waitForRun(String(answer.json.runId), 120_000);
  }, 180_000);

  it('lists every run newest first, over pages that neither repeat nor skip one', async () => {
    const expected = await reference();
    expect(expected.length).toBeGreaterThanOrEqual(7);
    const { runIds, pages } = await listAll('limit=3');
    expect(runIds).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 3));
  });

  it('answers pages of 20 by default, with a null cursor on the last one', async () => {
    const page = await client.request('/matching-runs');
    expect(page.status).toBe(200);
    const expected = await reference();
    expect((page.json.items as Listed[]).map((item) => item.runId)).toEqual(expected.slice(0, 20));
    expect(page.json.after).toBe(expected.length > 20 ? expect.any(String) : null);
  });

  it.each([
    ['status=succeeded', { status: 'succeeded' }],
    ['trigger=event', { trigger: 'event' }],
    ['trigger=http&status=succeeded', { trigger: 'http', status: 'succeeded' }],
    ['status=queued', { status: 'queued' }],
  ])('filters by %s, paging through the matches only', async (query, filters) => {
    const { runIds, items } = await listAll(`${query}&limit=2`);
    expect(runIds).toEqual(await reference(filters));
    for (const item of items) expect(item).toMatchObject(filters);
  });

  it('answers each run with exactly the fields openapi.yaml documents for a listed run', async () => {
    const document = (await readYaml('openapi.yaml')) as {
      components: {
        schemas: { MatchingRunListItem: { required: string[]; properties: Record<string, unknown> } };
      };
    };
    const { required, properties } = document.components.schemas.MatchingRunListItem;
    const { items } = await listAll('limit=100');
    for (const item of items) {
      expect(Object.keys(item).filter((key) => !(key in properties))).toEqual([]);
      expect(required.filter((key) => !(key in item))).toEqual([]);
      expect(item.url).toBe(`/matching-runs/${item.runId}`);
    }
    expect(items.some((item) => item.importId !== undefined && item.trigger === 'event')).toBe(true);
    expect(items.some((item) => item.limitationPeriod === 'P3Y')).toBe(true);
  });

  it('refuses a cursor used with other filters, altered, or made up, with a 400 naming after', async () => {
    const first = await client.request('/matching-runs?limit=1&status=succeeded');
    const after = String(first.json.after);
    const flipped = `${after.slice(0, 12)}${after[12] === 'A' ? 'B' : 'A'}${after.slice(13)}`;
    for (const query of [
      `limit=1&after=${after}`,
      `limit=1&status=failed&after=${after}`,
      `status=succeeded&after=${flipped}`,
      `status=succeeded&after=${after}x`,
      'after=eyJ2IjoxfQ',
      'after=%7B%22v%22%3A1%7D',
    ]) {
      const answer = await client.request(`/matching-runs?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
      expect(answer.json.detail, query).toMatch(/^after: /);
    }
  });

  it.each<[string, string]>([
    ['limit=0', 'limit: must be an integer from 1 to 100'],
    ['limit=101', 'limit: must be an integer from 1 to 100'],
    ['limit=ten', 'limit: must be an integer from 1 to 100'],
    ['status=done', 'status: must be one of queued, running, succeeded, failed'],
    ['status=queued&status=running', 'status: must be one of queued, running, succeeded, failed'],
    ['trigger=cron', 'trigger: must be one of http, event'],
    ['order=asc', 'order: is not an accepted field'],
  ])('answers ?%s with a 400 naming the parameter', async (query, detail) => {
    const answer = await client.request(`/matching-runs?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.json.detail).toBe(detail);
  });
});
