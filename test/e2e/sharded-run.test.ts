import { Decimal128, Long, ObjectId } from 'bson';
import type { Document } from 'mongodb';
import { describe, expect, it, vi } from 'vitest';
import { NotFoundError } from '../../lib/errors.js';
import { runMatchingJob } from '../../lib/runs/job.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { PartitionLookups } from '../../lib/runs/partition-lookup.js';
import {
  parsePlan,
  planKey,
  planMatchingRun,
  runMatchingShard,
  type ShardManifest,
  type ShardStepDeps,
  shardItemsKey,
  shardManifestKey,
  shardManifestSchema,
  shardOf,
} from '../../lib/runs/shards/index.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { generateDemoData } from '../../scripts/demo-data.js';
import { useEmulators } from '../support/emulators.js';
import { jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const BASE = 7_800_000_000_000;
const NOW = new Date('2025-01-15T10:00:00Z');

/**
 * The account of a demo record, turned into an odd but usable partition value for some accounts
 * (numbers, negative decimals, int64, ObjectIds, unicode strings), kept for the rest.
 */
function oddAccount(account: string): unknown {
  const n = Number(account) - BASE;
  switch (n % 9) {
    case 0:
      return n;
    case 1:
      return -n / 4;
    case 2:
      return Long.fromNumber(n * 1000);
    case 3:
      return new ObjectId(n.toString(16).padStart(24, '0'));
    case 4:
      return `𝔸-${n}`;
    case 5:
      return `é${n}`;
    default:
      return account;
  }
}

/** Partition values the matcher rejects, wherever they sort: each on one accrual and one payment. */
const UNUSABLE: readonly [string, unknown][] = [
  ['null', null],
  ['missing', undefined],
  ['true', true],
  ['array', [3]],
  ['document', { x: 1 }],
  ['decimal', Decimal128.fromString('5')],
  ['nan', Number.NaN],
  ['infinity', Number.POSITIVE_INFINITY],
  ['unsafe int64', Long.fromBigInt(2n ** 60n)],
  ['date', new Date(0)],
];

function oddData(): { accrual: Document[]; payment: Document[] } {
  const demo = generateDemoData({ accounts: 40, accruals: 400, payments: 380, seed: 12 });
  const odd = (document: Document): Document => {
    if (typeof document.account !== 'string') return document;
    return { ...document, account: oddAccount(document.account) };
  };
  const accrual = demo.accrual.map(odd);
  const payment = demo.payment.map(odd);
  UNUSABLE.forEach(([name, account], index) => {
    const withAccount = (document: Document) => (account === undefined ? document : { ...document, account });
    accrual.push(
      withAccount({
        _id: `odd-a-${name}`,
        id: 10_000 + index,
        month: '2024-03',
        date: new Date(Date.UTC(2024, 3, 2)),
        amount: 100,
      }),
    );
    payment.push(
      withAccount({
        _id: `odd-p-${name}`,
        id: `ODD-${index}`,
        date: new Date(Date.UTC(2024, 3, 9)),
        amount: 100,
      }),
    );
  });
  // Rejected for their month and date, under the highest partition value: the last shard's.
  const last = new ObjectId('ff'.repeat(12));
  accrual.push({
    _id: 'odd-a-late',
    id: 20_000,
    account: last,
    month: 'later',
    date: new Date(0),
    amount: 1,
  });
  payment.push({ _id: 'odd-p-late', id: 'ODD-late', account: last, date: 'never', amount: 1 });
  return { accrual, payment };
}

const data = oddData();
const store = () =>
  new EmbeddedDocumentStore({ collections: { accrual: [...data.accrual], payment: [...data.payment] } });

/** The partition value of the input record with this `_id` (as result.json writes it). */
const accountById = new Map<string, unknown>(
  [...data.accrual, ...data.payment].map((document) => [
    JSON.stringify(document._id instanceof ObjectId ? { $oid: document._id.toHexString() } : document._id),
    document.account,
  ]),
);

const ARRAYS = ['matches', 'unmatchedPayments', 'unpaidAccruals'] as const;
const CSVS = ['matchesCsv', 'unmatchedPaymentsCsv', 'unpaidAccrualsCsv'] as const;

describe('sharded matching run: plan and shards (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store });

  async function text(key: string): Promise<string> {
    const found = await jobs.objectText(key);
    if (found === undefined) throw new Error(`no object at ${key}`);
    return found;
  }

  function deps(): ShardStepDeps {
    return {
      store: store(),
      ledger: jobs.ledger(),
      bucket: jobs.bucket(),
      now: () => NOW,
      owner: 'execution-1',
    };
  }

  /** The unsharded partitioned run over the same data: what every sharded run must equal. */
  let unsharded: Promise<{
    runId: string;
    csv: Record<string, string>;
    result: Record<string, unknown[]>;
    jsonl: string;
  }>;
  function reference() {
    unsharded ??= (async () => {
      const runId = await jobs.queuedRun({ partitionBy: 'account' });
      const outcome = await runMatchingJob(runId, { ...deps(), owner: undefined });
      expect(outcome.status).toBe('succeeded');
      const keys = runOutputKeys(runId, 'account');
      const csv: Record<string, string> = {};
      for (const name of CSVS) csv[name] = await text(keys[name]);
      const result = JSON.parse(await text(keys.resultJson)) as Record<string, unknown[]>;
      return { runId, csv, result, jsonl: await text(keys.partitionsJsonl as string) };
    })();
    return unsharded;
  }

  it.each([1, 2, 3, 8])(
    '%i shard(s): the shards concatenated equal the unsharded run, record for record',
    async (asked) => {
      const expected = await reference();
      const runId = await jobs.queuedRun({ partitionBy: 'account', shards: asked });
      const planned = await planMatchingRun(runId, deps());
      expect(planned.claimed).toBe(true);
      const plan = parsePlan(await text(planKey(runId)));
      expect(plan.shards.length).toBe(planned.shards.length);
      // As asked, unless two cuts fell on one partition value.
      expect(plan.shards.length).toBeGreaterThan(asked === 1 ? 0 : 1);
      expect(plan.shards.length).toBeLessThanOrEqual(asked);
      expect(JSON.parse(await text(shardItemsKey(runId)))).toEqual(planned.shards);
      expect(planned.itemsKey).toBe(shardItemsKey(runId));
      const reading = await jobs.ledger().get(runId);
      expect(reading?.progress).toMatchObject({
        phase: 'reading',
        shardsTotal: plan.shards.length,
        shardsDone: 0,
      });

      const results = await Promise.all(planned.shards.map((item) => runMatchingShard(item, deps())));
      const manifests: ShardManifest[] = [];
      for (const { shard } of planned.shards) {
        manifests.push(shardManifestSchema.parse(JSON.parse(await text(shardManifestKey(runId, shard)))));
      }

      // CSV: each shard's header is the run's; the rows after it, in shard order, are the run's rows, byte for byte.
      for (const name of CSVS) {
        const whole = Buffer.from(expected.csv[name] as string);
        const header = manifests[0]?.outputs[name].headerBytes as number;
        const rows: Buffer[] = [];
        for (const manifest of manifests) {
          const bytes = Buffer.from(await text(manifest.outputs[name].key));
          expect(bytes.byteLength).toBe(manifest.outputs[name].bytes);
          expect(
            bytes.subarray(0, manifest.outputs[name].headerBytes).equals(whole.subarray(0, header)),
          ).toBe(true);
          rows.push(bytes.subarray(manifest.outputs[name].headerBytes));
        }
        expect(Buffer.concat(rows).toString('utf8')).toBe(whole.subarray(header).toString('utf8'));
      }

      // result.json: the element ranges hold the shard's arrays; concatenated they are the run's, byte for byte.
      const pieces: Record<(typeof ARRAYS)[number] | 'rejectedAccruals' | 'rejectedPayments', string[]> = {
        matches: [],
        unmatchedPayments: [],
        unpaidAccruals: [],
        rejectedAccruals: [],
        rejectedPayments: [],
      };
      for (const manifest of manifests) {
        const bytes = Buffer.from(await text(manifest.outputs.resultJson.key));
        expect(bytes.byteLength).toBe(manifest.outputs.resultJson.bytes);
        const own = JSON.parse(bytes.toString('utf8')) as Record<string, unknown[]>;
        for (const [name, [start, end]] of Object.entries(manifest.outputs.resultJson.elements)) {
          const piece = bytes.subarray(start, end).toString('utf8');
          if (piece !== '') pieces[name as keyof typeof pieces].push(piece);
        }
        for (const name of ARRAYS) {
          const [start, end] = manifest.outputs.resultJson.elements[name];
          expect(bytes.subarray(start, end).toString('utf8')).toBe(JSON.stringify(own[name]).slice(1, -1));
        }
      }
      for (const name of ARRAYS) {
        expect(pieces[name].join(',')).toBe(JSON.stringify(expected.result[name]).slice(1, -1));
      }

      // Rejected: every shard's rejected accruals, then every shard's rejected payments. Records whose
      // partition value the matcher rejects all go to shard 0, wherever they sort: so the order is the
      // unsharded run's, stably sorted by shard (by source first), and the same multiset.
      const rejected = JSON.parse(
        `[${[...pieces.rejectedAccruals, ...pieces.rejectedPayments].join(',')}]`,
      ) as {
        source: string;
        record: { _id: unknown };
      }[];
      const reference_ = expected.result.rejected as typeof rejected;
      const shardOfRecord = (entry: (typeof rejected)[number]) =>
        shardOf(plan, accountById.get(JSON.stringify(entry.record._id)));
      const inShardOrder = ['accrual', 'payment'].flatMap((source) =>
        reference_
          .filter((entry) => entry.source === source)
          .map((entry, index) => ({ entry, index, shard: shardOfRecord(entry) }))
          .sort((a, b) => a.shard - b.shard || a.index - b.index)
          .map(({ entry }) => entry),
      );
      expect(rejected).toEqual(inShardOrder);
      expect(rejected.length).toBe(reference_.length);
      if (plan.shards.length > 1) {
        // The odd data does reorder some: a boolean and a date sort after the last shard's ObjectId.
        expect(rejected).not.toEqual(reference_);
      }

      // The partition lookup's data: one line per partition page, in key order across shards.
      const jsonl: string[] = [];
      for (const manifest of manifests) jsonl.push(await text(manifest.outputs.partitionsJsonl.key));
      expect(jsonl.join('')).toBe(expected.jsonl);

      // Stats summed over the shards are the run's (but its duration).
      const { durationMs: _, ...expectedStats } = expected.result.stats as unknown as Record<string, unknown>;
      const summed = sumStats(results.map((result) => ({ ...result.stats })));
      expect(summed).toEqual(expectedStats);

      const run = await jobs.ledger().get(runId);
      expect(run?.status).toBe('running');
      expect(run?.progress).toEqual({
        phase: 'reading',
        accrualsRead: data.accrual.length,
        paymentsRead: data.payment.length,
        partitionsDone: manifests.reduce((sum, manifest) => sum + manifest.counts.partitionsDone, 0),
        shardsTotal: plan.shards.length,
        shardsDone: plan.shards.length,
      });
      // A retried shard overwrites its outputs and does not count twice.
      await runMatchingShard({ runId, shard: 0 }, deps());
      expect((await jobs.ledger().get(runId))?.progress?.accrualsRead).toBe(data.accrual.length);
      const retried = shardManifestSchema.parse(JSON.parse(await text(shardManifestKey(runId, 0))));
      expect(retried.counts).toEqual(manifests[0]?.counts);
      expect(retried.outputs.matchesCsv).toEqual(manifests[0]?.outputs.matchesCsv);
    },
  );

  it('the partition lookup of a sharded run reads plan.json, then the one shard holding the value', async () => {
    const expected = await reference();
    const runId = await jobs.queuedRun({ partitionBy: 'account', shards: 3 });
    const planned = await planMatchingRun(runId, deps());
    const results = await Promise.all(planned.shards.map((item) => runMatchingShard(item, deps())));
    // The merge (not this part) records success; the run record lists no run-level lookup files.
    await jobs.ledger().markSucceeded(runId, results[0]?.stats as never, runOutputKeys(runId));
    const lookups = new PartitionLookups({ ledger: jobs.ledger(), reader: jobs.bucket() });
    const lines = expected.jsonl
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { partition: number | string | { $oid: string }; page: number });
    let most = { reads: 0, bytes: 0 };
    for (const { partition, page } of lines) {
      const type =
        typeof partition === 'number' ? 'number' : typeof partition === 'string' ? 'string' : 'objectId';
      const value = typeof partition === 'object' ? partition.$oid : String(partition);
      const address = { value, type, page } as const;
      const cost = { reads: 0, bytes: 0 };
      const sharded = await lookups.lookUp(runId, address, cost);
      const whole = await lookups.lookUp(expected.runId, address);
      expect({ ...sharded, runId: '', next: sharded.next?.replace(runId, '') }).toEqual({
        ...whole,
        runId: '',
        next: whole.next?.replace(expected.runId, ''),
      });
      // plan.json, the shard's index head (small indexes: no further index page), one data line.
      expect(cost.reads).toBe(3);
      if (cost.bytes > most.bytes) most = cost;
    }
    expect(lines.length).toBeGreaterThan(30);
    // Without a type: a value only one kind can be is found in its shard.
    const unicode = lines.find(({ partition }) => typeof partition === 'string' && partition.startsWith('é'));
    const found = await lookups.lookUp(runId, { value: unicode?.partition as string, page: 1 });
    expect(found.partition).toBe(unicode?.partition);
    await expect(lookups.lookUp(runId, { value: 'no such account', page: 1 })).rejects.toThrow(NotFoundError);
    console.log(`largest sharded lookup: ${most.reads} reads, ${most.bytes} bytes`);
  });

  it('a run that is not claimable is not planned; a shard of a run that is not running is not run', async () => {
    const runId = await jobs.queuedRun({ partitionBy: 'account', shards: 2 });
    expect((await planMatchingRun(runId, deps())).claimed).toBe(true);
    // Another execution (another owner) cannot take the running run.
    const again = await planMatchingRun(runId, { ...deps(), owner: 'execution-2' });
    expect(again).toMatchObject({ claimed: false, shards: [] });
    await jobs.ledger().markFailed(runId, 'shard 1 failed');
    await expect(runMatchingShard({ runId, shard: 0 }, deps())).rejects.toThrow(/is failed, not running/);
    expect(await jobs.objectText(shardManifestKey(runId, 0))).toBeUndefined();
    await expect(runMatchingShard({ runId, shard: 7 }, deps())).rejects.toThrow();
  });

  it('auto: one shard below the threshold, more above it', async () => {
    const small = await jobs.queuedRun({ partitionBy: 'account', shards: 'auto' });
    expect((await planMatchingRun(small, deps())).shards).toHaveLength(1);
    const large = await jobs.queuedRun({ partitionBy: 'account', shards: 'auto' });
    const planned = await planMatchingRun(large, {
      ...deps(),
      shardOptions: { autoThresholdRecords: 100, recordsPerShard: 200, maxShards: 3 },
    });
    expect(planned.shards).toHaveLength(3);
  });

  it('an S3 outage makes the shard throw a TransientError and leaves no shard.json', async () => {
    const runId = await jobs.queuedRun({ partitionBy: 'account', shards: 2 });
    await planMatchingRun(runId, deps());
    const bucket = jobs.bucket();
    bucket.failOn = 'result.json';
    const failed = runMatchingShard({ runId, shard: 1 }, { ...deps(), bucket });
    await expect(failed).rejects.toMatchObject({ name: 'TransientError' });
    expect(await jobs.objectText(shardManifestKey(runId, 1))).toBeUndefined();
    expect((await jobs.ledger().get(runId))?.progress?.shardsDone).toBe(0);
  });
});

function sumStats(all: readonly Record<string, unknown>[]): Record<string, unknown> {
  const add = (a: unknown, b: unknown): unknown => {
    if (typeof a === 'number' && typeof b === 'number') return a + b;
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const out: Record<string, unknown> = {};
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        out[key] = add((a as Record<string, unknown>)[key] ?? 0, (b as Record<string, unknown>)[key] ?? 0);
      }
      return out;
    }
    return a;
  };
  const { durationMs: _, ...sum } = all.reduce(
    (total, stats) => add(total, stats) as Record<string, unknown>,
  );
  return sum;
}
