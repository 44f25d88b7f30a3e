import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { reasonCounts } from '../../lib/matching/outcome.js';
import { type MatchingRun, newRunId, type RunLedger, type RunListQuery } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { RUN_STATUSES, RUN_TRIGGERS, type RunStatus, type RunTrigger } from '../../lib/runs/run-record.js';
import { backfillRunListIndex } from '../../scripts/backfill-run-list-index.js';
import { useEmulators } from '../support/emulators.js';
import { watchedLedger } from '../support/watched-ledger.js';

const stats = {
  accruals: 1,
  payments: 1,
  matched: 1,
  sameMonth: 1,
  oldest: 0,
  unmatched: 0,
  unpaid: 0,
  rejected: 0,
  reasons: reasonCounts([], []),
  durationMs: 1,
};

/** The list as a reference implementation sees it: filter, then newest first by (createdAt, runId). */
function reference(runs: readonly MatchingRun[], query: Omit<RunListQuery, 'limit'>): string[] {
  return runs
    .filter((run) => query.status === undefined || run.status === query.status)
    .filter((run) => query.trigger === undefined || run.trigger === query.trigger)
    .map((run) => `${run.createdAt}#${run.runId}`)
    .sort()
    .reverse()
    .map((key) => key.slice(key.indexOf('#') + 1));
}

/** Every page of a listing, following `next` to the end; the run ids in order, and the pages' sizes. */
async function listAll(
  ledger: RunLedger,
  query: Omit<RunListQuery, 'after'>,
): Promise<{ runIds: string[]; sizes: number[] }> {
  const runIds: string[] = [];
  const sizes: number[] = [];
  let after: RunListQuery['after'];
  for (let page = 0; page < 500; page++) {
    const result = await ledger.list({ ...query, ...(after === undefined ? {} : { after }) });
    runIds.push(...result.runs.map((run) => run.runId));
    sizes.push(result.runs.length);
    if (result.next === undefined) return { runIds, sizes };
    expect(result.runs).toHaveLength(query.limit);
    after = result.next;
  }
  throw new Error('the listing does not end');
}

describe('listing runs on the list index (against the DynamoDB emulator)', () => {
  const local = useEmulators();
  /** Every run this file recorded, as the ledger holds it now. */
  const runs = new Map<string, MatchingRun>();
  const clock = { ms: Date.parse('2024-06-01T00:00:00.000Z') };
  const ledger = () => local().ledger({ now: () => new Date(clock.ms) });

  async function recordRun(status: RunStatus, trigger: RunTrigger, tick = 1000): Promise<MatchingRun> {
    clock.ms += tick;
    const { run } = await ledger().create({ runId: newRunId(clock.ms), policy: 'chronological', trigger });
    let current = run;
    if (status !== 'queued') current = await ledger().markRunning(run.runId, 'worker-1');
    if (status === 'succeeded') {
      current = await ledger().markSucceeded(run.runId, stats, runOutputKeys(run.runId));
    }
    if (status === 'failed') current = await ledger().markFailed(run.runId, 'S3 is unavailable');
    runs.set(current.runId, current);
    return current;
  }

  beforeAll(async () => {
    // Every status with every trigger, unevenly: 3 running among 40 succeeded is a sparse filter.
    const plan: Array<[RunStatus, RunTrigger, number]> = [
      ['succeeded', 'http', 25],
      ['succeeded', 'event', 15],
      ['failed', 'http', 4],
      ['failed', 'event', 2],
      ['running', 'event', 3],
      ['queued', 'http', 5],
    ];
    for (const [status, trigger, count] of plan) {
      for (let i = 0; i < count; i++) await recordRun(status, trigger);
    }
    // Created in the same millisecond: their run ids decide the order.
    for (const [status, trigger] of [
      ['queued', 'event'],
      ['succeeded', 'http'],
      ['succeeded', 'event'],
    ] as const) {
      await recordRun(status, trigger, 0);
    }
  });

  it('lists every run, newest first, over pages that neither repeat nor skip one', async () => {
    const { runIds, sizes } = await listAll(ledger(), { limit: 7 });
    expect(runIds).toEqual(reference([...runs.values()], {}));
    expect(sizes.slice(0, -1).every((size) => size === 7)).toBe(true);
  });

  it('orders runs created in the same millisecond by run id, descending', async () => {
    const { runs: page } = await ledger().list({ limit: 3 });
    const [a, b, c] = page;
    expect(new Set(page.map((run) => run.createdAt)).size).toBe(1);
    expect([a?.runId, b?.runId, c?.runId]).toEqual([a?.runId, b?.runId, c?.runId].sort().reverse());
  });

  it('pages any filter with any page size exactly as the reference does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.constantFrom(...RUN_STATUSES), { nil: undefined }),
        fc.option(fc.constantFrom(...RUN_TRIGGERS), { nil: undefined }),
        fc.integer({ min: 1, max: 100 }),
        async (status, trigger, limit) => {
          const filters = {
            ...(status === undefined ? {} : { status }),
            ...(trigger === undefined ? {} : { trigger }),
          };
          const { runIds } = await listAll(ledger(), { limit, ...filters });
          expect(runIds).toEqual(reference([...runs.values()], filters));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('answers an empty filter with an empty last page', async () => {
    clock.ms += 1000;
    const page = await ledger().list({ limit: 20, status: 'running', trigger: 'http' });
    expect(reference([...runs.values()], { status: 'running', trigger: 'http' })).toEqual([]);
    expect(page).toEqual({ runs: [] });
  });

  it('keeps its order while runs change status between pages: no run is listed twice or missed', async () => {
    const before = reference([...runs.values()], {});
    const first = await ledger().list({ limit: 10 });
    // Runs further down the list finish (or start) while the client reads page 1.
    const queued = [...runs.values()].filter((run) => run.status === 'queued').slice(0, 2);
    for (const run of queued) runs.set(run.runId, await ledger().markRunning(run.runId, 'worker-2'));
    const rest = await listAll(ledger(), { limit: 10 });
    // The fresh listing equals the reference; continuing from page 1's cursor gives its tail.
    expect(rest.runIds).toEqual(before);
    const continued: string[] = first.runs.map((run) => run.runId);
    let after = first.next;
    while (after !== undefined) {
      const page = await ledger().list({ limit: 10, after });
      continued.push(...page.runs.map((run) => run.runId));
      after = page.next;
    }
    expect(continued).toEqual(before);
  });

  describe('what a page costs', () => {
    const opened: Array<{ destroy(): void }> = [];
    afterAll(() => {
      for (const client of opened) client.destroy();
    });

    function watched() {
      const watching = watchedLedger(local());
      opened.push(watching);
      return watching;
    }

    it('queries the index and never scans the table', async () => {
      const { ledger: listing, sent } = watched();
      await listAll(listing, { limit: 20 });
      await listing.list({ limit: 5, status: 'failed', trigger: 'event' });
      expect(new Set(sent.map((op) => op.command))).toEqual(new Set(['QueryCommand']));
      for (const op of sent)
        expect(op.input).toMatchObject({ IndexName: 'byStatus', ScanIndexForward: false });
    });

    it('reads only the runs of a sparse filter: the running ones, not the succeeded', async () => {
      const { ledger: listing, sent } = watched();
      const page = await listing.list({ limit: 20, status: 'running' });
      const running = reference([...runs.values()], { status: 'running' });
      expect(page.runs.map((run) => run.runId)).toEqual(running);
      // One query per trigger, each reading only running runs.
      expect(sent).toHaveLength(RUN_TRIGGERS.length);
      const scanned = sent.reduce((sum, op) => sum + Number(op.output?.ScannedCount ?? 0), 0);
      expect(scanned).toBe(running.length);
    });

    it('reads at most limit + 2 index entries per (status, trigger) range for an unfiltered page', async () => {
      const { ledger: listing, sent } = watched();
      const first = await listing.list({ limit: 5 });
      await listing.list({ limit: 5, ...(first.next ? { after: first.next } : {}) });
      expect(sent).toHaveLength(2 * RUN_STATUSES.length * RUN_TRIGGERS.length);
      for (const op of sent) expect(Number(op.output?.ScannedCount)).toBeLessThanOrEqual(5 + 2);
    });
  });
});

describe('runs recorded before the list index (scripts/backfill-run-list-index.ts)', () => {
  const local = useEmulators();

  it('are listed once the backfill gave them a list key; the backfill can run again', async () => {
    const ledger = local().ledger();
    const documents = dynamoDocumentClient(local().cfg);
    const table = local().emulators.tables.runs;
    // A run as the ledger wrote it before the index existed: no listKey.
    const { run } = await ledger.create({ runId: newRunId(), policy: 'chronological', trigger: 'event' });
    const { listKey: _key, ...old } = (
      await documents.send(new GetCommand({ TableName: table, Key: { runId: run.runId } }))
    ).Item as Record<string, unknown>;
    const oldRunId = newRunId(Date.parse(run.createdAt) - 60_000);
    await documents.send(new PutCommand({ TableName: table, Item: { ...old, runId: oldRunId } }));
    expect((await ledger.list({ limit: 10 })).runs.map((r) => r.runId)).toEqual([run.runId]);

    expect(await backfillRunListIndex(documents, table)).toEqual({ updated: 1, skipped: 0 });
    expect((await ledger.list({ limit: 10 })).runs.map((r) => r.runId)).toEqual([run.runId, oldRunId]);
    expect((await ledger.list({ limit: 10, trigger: 'event', status: 'queued' })).runs).toHaveLength(2);
    expect(await backfillRunListIndex(documents, table)).toEqual({ updated: 0, skipped: 0 });
  });
});
