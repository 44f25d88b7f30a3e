/**
 * Child process: a sharded matching run against the same data unsharded (issue 12), started by
 * bench/run.ts as `node --expose-gc --import tsx bench/measure-shards.ts --data-dir DIR --size N
 * --shards S` with the emulator endpoints (bench/emulator-host.ts, another process) in its
 * environment and DATA_DIR's `accrual.ndjson` / `payment.ndjson` holding N records in all.
 *
 * First the unsharded partitioned job (`runMatchingJob`, `partitionBy: account`), then the sharded
 * run step by step as the state machine would call the steps, but in this process and one after
 * another: `planMatchingRun`, each `runMatchingShard` in turn, `mergeMatchingRun`. Then the merged
 * CSV tables are compared with the unsharded run's, byte for byte (it throws when they differ).
 *
 * Every step gets a fresh EmbeddedDocumentStore, as a Lambda of its own would, and the store
 * reads and parses both files before the step is timed (`loadMs`): MongoDB has no such cost. What
 * the embedded store still does inside a step is `scanMs` (a find's first answer: mingo tests the
 * shard's filter on every document of the collection, then sorts the matching ones), where MongoDB
 * walks its `(partition, date, id)` index over the shard's range only.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { s3Client } from '../lib/aws/clients.js';
import { config } from '../lib/config.js';
import { ACCRUAL_COLLECTION, runMatchingJob } from '../lib/runs/job.js';
import { newRunId, RunLedger } from '../lib/runs/ledger.js';
import type { OutputChunks } from '../lib/runs/output-bucket.js';
import { runOutputKeys, shardedRunOutputKeys } from '../lib/runs/outputs.js';
import { type ConcatPiece, ResultsBucket } from '../lib/runs/results-bucket.js';
import { mergeMatchingRun, planMatchingRun, runMatchingShard } from '../lib/runs/shards/index.js';
import { shardManifestKey } from '../lib/runs/shards/layout.js';
import type { DocumentStore, FindOptions } from '../lib/store/document-store.js';
import { EmbeddedDocumentStore } from '../lib/store/embedded-store.js';
import { emitResult } from './child-process.js';
import { settleHeap } from './memory.js';

export interface StepTime {
  /** Wall time of the step, the store's file load excluded. */
  readonly ms: number;
  /** CPU time of this process during the step (the emulators run in another). */
  readonly cpuMs: number;
  /** Inside `ResultsBucket.upload` / `concat` (serialising and sending to the S3 emulator). */
  readonly writeMs: number;
  /** CPU time of this process while writing. */
  readonly writeCpuMs: number;
}

export interface ReadingStep extends StepTime {
  /** Reading and parsing both files into a fresh store, before the step (not in `ms`). */
  readonly loadMs: number;
  /** In the store's finds before their first document (filter over the collection, sort): in `ms`. */
  readonly scanMs: number;
  readonly scanCpuMs: number;
  /** Accruals + payments the step matched. */
  readonly records: number;
  /** Bytes of every output it wrote. */
  readonly outputBytes: number;
}

export interface ShardTime extends ReadingStep {
  readonly shard: number;
}

export interface MergeTime extends StepTime {
  /** Bytes read from S3 into this process (plan, manifests, small pieces and 5 MiB top-ups). */
  readonly readBytes: number;
  /** Bytes of the parts uploaded from this process (manifest.json, a few KiB, not counted). */
  readonly uploadedBytes: number;
  /** Bytes S3 copied itself (UploadPartCopy). */
  readonly copiedBytes: number;
  /** Bytes of each run-level output the merge wrote, by name. */
  readonly outputs: Readonly<Record<string, number>>;
  readonly parts: number;
}

export interface ShardsMeasurement {
  readonly size: number;
  readonly partitions: number;
  readonly shardsAsked: number;
  readonly unsharded: ReadingStep;
  readonly plan: Omit<ReadingStep, 'records' | 'outputBytes'>;
  readonly shards: readonly ShardTime[];
  readonly merge: MergeTime;
  /** The outputs found byte for byte equal, with their size. */
  readonly identical: Readonly<Record<string, number>>;
}

/** Wall and CPU time while at least one timed operation is in flight (overlapping ones counted once). */
class Clock {
  ms = 0;
  cpuMs = 0;
  private active = 0;
  private since = 0;
  private cpu = process.cpuUsage();

  async time<T>(operation: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) {
      this.since = performance.now();
      this.cpu = process.cpuUsage();
    }
    try {
      return await operation();
    } finally {
      if (--this.active === 0) {
        this.ms += performance.now() - this.since;
        const used = process.cpuUsage(this.cpu);
        this.cpuMs += (used.user + used.system) / 1000;
      }
    }
  }
}

/**
 * The results bucket, timing uploads and concatenations on `write` and counting the bytes that
 * pass through this process. `concat` reads its top-ups through `readRange`, so they are counted.
 */
class MeteredBucket extends ResultsBucket {
  write = new Clock();
  readBytes = 0;
  uploadedBytes = 0;
  copiedBytes = 0;
  parts = 0;

  override upload(key: string, chunks: OutputChunks, contentType: string): Promise<void> {
    return this.write.time(() => super.upload(key, chunks, contentType));
  }

  override async concat(key: string, pieces: Iterable<ConcatPiece>, contentType: string) {
    const parts = await this.write.time(() => super.concat(key, pieces, contentType));
    for (const part of parts) {
      if (part.kind === 'copy') this.copiedBytes += part.size;
      else this.uploadedBytes += part.size;
    }
    this.parts += parts.length;
    return parts;
  }

  override async readRange(key: string, start: number, length: number): Promise<Buffer | undefined> {
    const bytes = await super.readRange(key, start, length);
    this.readBytes += bytes?.length ?? 0;
    return bytes;
  }

  override async read(key: string): Promise<Buffer | undefined> {
    const bytes = await super.read(key);
    this.readBytes += bytes?.length ?? 0;
    return bytes;
  }
}

/** `source`, its `next()` calls that answer with a promise (the store's first answer) timed on `clock`. */
function timedFirst<T>(source: AsyncIterable<T>, clock: Clock): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = source[Symbol.asyncIterator]();
      return {
        next: () => {
          const step = iterator.next();
          // Only the first answer is a promise; the store's work for it starts after this call returns.
          return step instanceof Promise ? clock.time(() => step) : step;
        },
        return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
      } as AsyncIterator<T>;
    },
  };
}

/** A fresh embedded store with both files read, and its finds' first answers timed on `scan`. */
async function loadedStore(dataDir: string) {
  const files = new EmbeddedDocumentStore({ dataDir });
  const started = performance.now();
  // Exact counts on the embedded store: each loads its collection.
  await files.estimatedCount(ACCRUAL_COLLECTION);
  await files.estimatedCount('payment');
  const loadMs = performance.now() - started;
  const scan = new Clock();
  const store: DocumentStore = {
    find: <T extends Document>(collection: string, filter: Readonly<Document>, options?: FindOptions) =>
      timedFirst(files.find<T>(collection, filter, options), scan),
    aggregate: <T extends Document>(collection: string, pipeline: readonly Document[]) =>
      files.aggregate<T>(collection, pipeline),
    estimatedCount: (collection: string) => files.estimatedCount(collection),
    close: () => files.close(),
  };
  return { store, loadMs, scan };
}

const quiet = {
  info: () => undefined,
  warn: (...args: unknown[]) => console.error(...args),
  error: (...args: unknown[]) => console.error(...args),
};

/** Runs one step on a fresh store and bucket, timed; `records` and `outputBytes` come from its result. */
async function step<T>(
  dataDir: string,
  run: (deps: { store: DocumentStore; bucket: MeteredBucket }) => Promise<T>,
): Promise<{ value: T; time: Omit<ReadingStep, 'records' | 'outputBytes'> }> {
  settleHeap();
  const { store, loadMs, scan } = await loadedStore(dataDir);
  const bucket = new MeteredBucket();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await run({ store, bucket });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await store.close();
  const cpuMs = (used.user + used.system) / 1000;
  const { write } = bucket;
  return {
    value,
    time: {
      ms,
      cpuMs,
      writeMs: write.ms,
      writeCpuMs: write.cpuMs,
      loadMs,
      scanMs: scan.ms,
      scanCpuMs: scan.cpuMs,
    },
  };
}

async function objectBytes(key: string): Promise<number> {
  const head = await s3Client().send(new HeadObjectCommand({ Bucket: config().RESULTS_BUCKET, Key: key }));
  return head.ContentLength ?? 0;
}

/** SHA-256 and size of an object, streamed (a 10^8-record table does not fit in a string). */
async function digest(key: string): Promise<{ sha256: string; bytes: number }> {
  const { Body } = await s3Client().send(new GetObjectCommand({ Bucket: config().RESULTS_BUCKET, Key: key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of Body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      size: { type: 'string' },
      shards: { type: 'string' },
      partitions: { type: 'string' },
    },
  });
  const dataDir = values['data-dir'];
  if (dataDir === undefined) throw new Error('--data-dir is required');
  const size = Number(values.size);
  const shardsAsked = Number(values.shards);
  const ledger = new RunLedger();
  const base = { policy: 'chronological', partitionBy: 'account', trigger: 'http' } as const;

  const unshardedId = newRunId();
  await ledger.create({ ...base, runId: unshardedId });
  const unsharded = await step(dataDir, ({ store, bucket }) =>
    runMatchingJob(unshardedId, { store, bucket, ledger, logger: quiet }),
  );
  if (unsharded.value.status !== 'succeeded')
    throw new Error(`the unsharded run ${unsharded.value.status}: ${unsharded.value.reason}`);
  const unshardedKeys = runOutputKeys(unshardedId, 'account');
  let unshardedBytes = 0;
  for (const key of Object.values(unshardedKeys)) unshardedBytes += await objectBytes(String(key));
  const { stats } = unsharded.value;
  if (stats.accruals + stats.payments !== size)
    throw new Error(`the unsharded run read ${stats.accruals + stats.payments} records, not ${size}`);

  const runId = newRunId();
  await ledger.create({ ...base, runId, shards: shardsAsked });
  const deps = { ledger, owner: 'bench', logger: quiet };
  const plan = await step(dataDir, ({ store, bucket }) => planMatchingRun(runId, { ...deps, store, bucket }));
  if (!plan.value.claimed) throw new Error('the plan did not claim the run');
  const shards: ShardTime[] = [];
  for (const item of plan.value.shards) {
    const shard = await step(dataDir, ({ store, bucket }) =>
      runMatchingShard(item, { ...deps, store, bucket }),
    );
    const manifest = JSON.parse(
      String(await new ResultsBucket().read(shardManifestKey(runId, item.shard))),
    ) as { outputs: Record<string, { bytes: number }> };
    shards.push({
      shard: item.shard,
      ...shard.time,
      records: shard.value.stats.accruals + shard.value.stats.payments,
      outputBytes: Object.values(manifest.outputs).reduce((sum, output) => sum + output.bytes, 0),
    });
  }
  const sharded = shards.reduce((sum, shard) => sum + shard.records, 0);
  if (sharded !== size) throw new Error(`the shards read ${sharded} records, not ${size}`);
  // The merge reads no collection: its store stays empty (no load).
  settleHeap();
  const bucket = new MeteredBucket();
  const store = new EmbeddedDocumentStore({ collections: {} });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const merged = await mergeMatchingRun(runId, { ...deps, store, bucket });
  const mergeMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (merged.status !== 'succeeded') throw new Error(`the merge ${merged.status}: ${merged.reason}`);
  const mergedKeys = shardedRunOutputKeys(runId);
  const mergedBytes: Record<string, number> = {};
  for (const [name, key] of Object.entries(mergedKeys)) mergedBytes[name] = await objectBytes(key);

  const identical: Record<string, number> = {};
  for (const name of ['matchesCsv', 'unmatchedPaymentsCsv', 'unpaidAccrualsCsv'] as const) {
    const [a, b] = [await digest(String(unshardedKeys[name])), await digest(mergedKeys[name])];
    if (a.sha256 !== b.sha256 || a.bytes !== b.bytes) {
      throw new Error(
        `${name}: the sharded run's (${b.bytes} bytes) differs from the unsharded run's (${a.bytes})`,
      );
    }
    identical[name] = a.bytes;
  }
  const measurement: ShardsMeasurement = {
    size,
    partitions: Number(values.partitions),
    shardsAsked,
    unsharded: { ...unsharded.time, records: size, outputBytes: unshardedBytes },
    plan: plan.time,
    shards,
    merge: {
      ms: mergeMs,
      cpuMs: (used.user + used.system) / 1000,
      writeMs: bucket.write.ms,
      writeCpuMs: bucket.write.cpuMs,
      readBytes: bucket.readBytes,
      uploadedBytes: bucket.uploadedBytes,
      copiedBytes: bucket.copiedBytes,
      outputs: mergedBytes,
      parts: bucket.parts,
    },
    identical,
  };
  emitResult(measurement);
  // The SDK's keep-alive sockets would hold the process open.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
