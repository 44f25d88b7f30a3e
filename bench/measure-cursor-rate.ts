/**
 * How fast one find cursor of the official driver delivers documents to the worker: the figure
 * the sharding model (docs/sharding.md) starts from. No MongoDB server exists on this machine, so
 * the server is the wire-protocol double of the tests (test/support/mongo-wire-double.ts) running
 * in a child process: the driver connects, sends `find` with the job's sort, and pulls every batch
 * with `getMore` over loopback TCP, decoding the BSON as it hands documents out, exactly as
 * against a `mongod`. What it measures is the client's side (driver, BSON decoding, the store's
 * iterator) and loopback transfer; what it cannot measure is a real server's side (index walk,
 * document fetch from cache or disk, network between Lambda and the cluster).
 *
 *   node --import tsx bench/measure-cursor-rate.ts [--docs N] [--batch-size N]
 *
 * Reports documents per second from the first document to the last (the double sorts everything
 * before answering `find`, which is not what the cursor costs, so that time is reported apart),
 * and the reading process's CPU time per thousand documents.
 */
import { parseArgs } from 'node:util';
import { ObjectId } from 'bson';
import { connectMongoStore } from '../lib/store/connect-mongo.js';
import { startMongoWireDouble } from '../test/support/mongo-wire-double.js';
import { emitResult, startServiceChild } from './child-process.js';
import { createRandom } from './inputs.js';

/** An accrual as a billing export holds it: the fields the matcher reads plus a few it does not. */
function accrualDocuments(count: number, seed: number) {
  const random = createRandom(seed);
  const accounts = Math.max(1, Math.floor(count / 24));
  return Array.from({ length: count }, (_, id) => ({
    _id: new ObjectId(),
    id,
    account: String(7_800_000_000_000 + Math.floor(random() * accounts)),
    date: new Date(Date.UTC(2022, 0, 1) + Math.floor(random() * 1000) * 86_400_000),
    month: `2022-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}`,
    sum: Math.round(random() * 500_000) / 100,
    service: 'heating',
  }));
}

export interface CursorRateMeasurement {
  readonly docs: number;
  readonly batchSize: number;
  /** `find` sent to first document (the double's sort, not a cursor cost). */
  readonly firstDocumentMs: number;
  /** First document to last. */
  readonly streamMs: number;
  readonly docsPerSecond: number;
  /** CPU time of the reading process per 1,000 documents while streaming. */
  readonly clientCpuMsPerThousand: number;
}

async function serve(docs: number, seed: number): Promise<void> {
  const double = await startMongoWireDouble({ collections: { accrual: accrualDocuments(docs, seed) } });
  emitResult({ port: double.port, uri: double.uri('bench') });
  // The parent closes stdin to stop the server.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await double.close();
}

async function read(docs: number, batchSize: number, seed: number): Promise<CursorRateMeasurement> {
  const server = await startServiceChild<{ uri: string }>([
    'bench/measure-cursor-rate.ts',
    '--serve',
    '--docs',
    String(docs),
    '--seed',
    String(seed),
  ]);
  try {
    const store = await connectMongoStore({
      uri: server.ready.uri,
      db: 'bench',
      serverSelectionTimeoutMS: 5000,
    });
    try {
      const sent = performance.now();
      let first = 0;
      let cpuAtFirst = process.cpuUsage();
      let count = 0;
      const cursor = store.find('accrual', {}, { sort: { account: 1, date: 1, id: 1 }, batchSize });
      for await (const _ of cursor) {
        if (count++ === 0) {
          first = performance.now();
          cpuAtFirst = process.cpuUsage();
        }
      }
      const end = performance.now();
      const cpu = process.cpuUsage(cpuAtFirst);
      if (count !== docs) throw new Error(`read ${count} documents, not ${docs}`);
      const streamMs = end - first;
      return {
        docs,
        batchSize,
        firstDocumentMs: first - sent,
        streamMs,
        docsPerSecond: (docs - 1) / (streamMs / 1000),
        clientCpuMsPerThousand: (cpu.user + cpu.system) / 1000 / (docs / 1000),
      };
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean' },
      docs: { type: 'string', default: '200000' },
      'batch-size': { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
    },
  });
  const docs = Number(values.docs);
  const seed = Number(values.seed);
  if (values.serve) await serve(docs, seed);
  else emitResult(await read(docs, Number(values['batch-size']), seed));
}
