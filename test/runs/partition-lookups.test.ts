import { ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { describe, expect, it, vi } from 'vitest';
import { s3Client } from '../../lib/aws/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { type MatchResult, matchPayments, toMatchResult } from '../../lib/matching/index.js';
import { inputSort, runMatchingJob } from '../../lib/runs/job.js';
import { newRunId } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { type LookupCost, PartitionLookups } from '../../lib/runs/partition-lookup.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { useEmulators } from '../support/emulators.js';
import { jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * Partition lookups of runs the real job wrote to the S3 emulator, read back with ranged GETs
 * through the ledger on the DynamoDB emulator: pages of a large account, values of every kind,
 * and the runs a lookup must refuse.
 */

const BIG = 'big account';
const OID = new ObjectId('65f0000000000000000000aa');

function records(side: 'accrual' | 'payment'): Document[] {
  const day = side === 'accrual' ? 1 : 20;
  const rows: Document[] = [];
  const add = (account: unknown, count: number, extra: Document = {}) => {
    for (let i = 0; i < count; i++) {
      rows.push({
        id: rows.length + 1,
        account,
        date: new Date(Date.UTC(2024, i % 12, day)),
        month: '2024-01',
        ...extra,
      });
    }
  };
  add(7, 2);
  add('7', 3);
  add(OID, 1);
  add(BIG, side === 'accrual' ? 3000 : 2800, { note: 'начисление за содержание жилья'.repeat(2) });
  add('a/b %', 1);
  rows.push({ id: rows.length + 1, date: new Date(), month: '2024-02' }); // no account: in no partition
  return rows;
}

const store = () =>
  new EmbeddedDocumentStore({ collections: { accrual: records('accrual'), payment: records('payment') } });

describe('PartitionLookups (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store });
  const lookups = () =>
    new PartitionLookups({
      ledger: jobs.ledger(),
      reader: new ResultsBucket(s3Client(local().cfg), local().emulators.bucket),
    });

  async function partitionedRun(): Promise<{ runId: string; result: MatchResult }> {
    const runId = await jobs.queuedRun({ partitionBy: 'account' });
    const outcome = await runMatchingJob(runId, {
      store: store(),
      ledger: jobs.ledger(),
      bucket: new ResultsBucket(s3Client(local().cfg), local().emulators.bucket),
    });
    expect(outcome.status).toBe('succeeded');
    const sort = inputSort('account');
    const direct = await matchPayments(
      store().find<Document>('accrual', {}, { sort }),
      store().find<Document>('payment', {}, { sort }),
      { partitionBy: 'account' },
    );
    return {
      runId,
      result: JSON.parse(JSON.stringify(toMatchResult(direct, { runId, generatedAt: 'now' }))),
    };
  }

  it('pages a large account with next links, each page a bounded read, the pages together its records', async () => {
    const { runId, result } = await partitionedRun();
    const expected = {
      matches: result.matches.filter((m) => m.payment.account === BIG),
      unmatchedPayments: result.unmatchedPayments.filter((p) => p.account === BIG),
      unpaidAccruals: result.unpaidAccruals.filter((a) => a.account === BIG),
    };
    const found = {
      matches: [] as unknown[],
      unmatchedPayments: [] as unknown[],
      unpaidAccruals: [] as unknown[],
    };
    let path: string | undefined = `/matching-runs/${runId}/partitions/${encodeURIComponent(BIG)}`;
    let pages = 0;
    while (path !== undefined) {
      const url = new URL(path, 'http://x');
      const value = decodeURIComponent(url.pathname.split('/').at(-1) ?? '');
      const page = Number(url.searchParams.get('page') ?? 1);
      const type = (url.searchParams.get('type') ?? undefined) as 'string' | undefined;
      const cost: LookupCost = { reads: 0, bytes: 0 };
      const view = await lookups().lookUp(runId, { value, page, ...(type ? { type } : {}) }, cost);
      expect(view).toMatchObject({ runId, partitionBy: 'account', partition: BIG, page: pages + 1 });
      expect(cost.reads).toBeLessThanOrEqual(3);
      expect(cost.bytes).toBeLessThan(64 * 1024 + 32 * 1024 + 256 * 1024);
      found.matches.push(...view.matches);
      found.unmatchedPayments.push(...view.unmatchedPayments);
      found.unpaidAccruals.push(...view.unpaidAccruals);
      pages++;
      if (view.page < view.pages)
        expect(view.next).toBe(
          `/matching-runs/${runId}/partitions/big%20account?type=string&page=${view.page + 1}`,
        );
      else expect(view.next).toBeUndefined();
      path = view.next;
    }
    expect(pages).toBeGreaterThanOrEqual(4);
    expect(found).toEqual(expected);
    expect(expected.matches.length).toBeGreaterThan(2000);
  });

  it('finds values of every kind, and refuses an ambiguous one', async () => {
    const { runId } = await partitionedRun();
    const look = (value: string, type?: 'number' | 'string' | 'objectId') =>
      lookups().lookUp(runId, { value, page: 1, ...(type ? { type } : {}) });
    await expect(look('7', 'number')).resolves.toMatchObject({
      partition: 7,
      matches: [expect.anything(), expect.anything()],
    });
    await expect(look('7', 'string')).resolves.toMatchObject({ partition: '7' });
    await expect(look('7')).rejects.toThrow(ValidationError);
    await expect(look(OID.toHexString(), 'objectId')).resolves.toMatchObject({
      partition: { $oid: OID.toHexString() },
    });
    // The run has strings too, and 24 hex digits are a string as well.
    await expect(look(OID.toHexString())).rejects.toThrow(/^type: is required: .*string and objectId/);
    await expect(look('a/b %')).resolves.toMatchObject({ partition: 'a/b %' });
    await expect(look('8', 'number')).rejects.toThrow(NotFoundError);
  });

  it('refuses runs that are not succeeded, not partitioned, or have no partition index (409), and unknown runs (404)', async () => {
    const ledger = jobs.ledger();
    const stats = (await partitionedRun()).result.stats;
    const running = await jobs.queuedRun({ partitionBy: 'account' });
    await ledger.markRunning(running);
    const failed = await jobs.queuedRun({ partitionBy: 'account' });
    await ledger.markFailed(failed, 'S3 is unavailable');
    const unpartitioned = await jobs.queuedRun();
    await ledger.markRunning(unpartitioned);
    await ledger.markSucceeded(unpartitioned, stats, runOutputKeys(unpartitioned));
    // Succeeded before partition lookups existed: its outputs are those every run writes.
    const older = await jobs.queuedRun({ partitionBy: 'account' });
    await ledger.markRunning(older);
    await ledger.markSucceeded(older, stats, runOutputKeys(older));
    const look = (runId: string) => lookups().lookUp(runId, { value: '7', page: 1 });
    await expect(look(running)).rejects.toThrow(
      new ConflictError(
        `matching run ${running} is running: its partitions can be looked up once it has succeeded`,
      ),
    );
    await expect(look(failed)).rejects.toThrow(/is failed: /);
    await expect(look(unpartitioned)).rejects.toThrow(/is not partitioned \(it has no partitionBy\)/);
    await expect(look(older)).rejects.toThrow(
      /has no partition index \(it was written before partition lookups existed\)/,
    );
    await expect(look(newRunId())).rejects.toThrow(NotFoundError);
    for (const runId of [running, failed, unpartitioned, older]) {
      await expect(look(runId)).rejects.toBeInstanceOf(ConflictError);
    }
  });

  it('answers 404 once the outputs are gone from the bucket (expired)', async () => {
    const { runId } = await partitionedRun();
    const keys = runOutputKeys(runId, 'account');
    await new ResultsBucket(s3Client(local().cfg), local().emulators.bucket).remove(Object.values(keys));
    await expect(lookups().lookUp(runId, { value: '7', type: 'string', page: 1 })).rejects.toThrow(
      /no longer in the results bucket/,
    );
  });
});
