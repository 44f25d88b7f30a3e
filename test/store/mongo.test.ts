import { randomBytes } from 'node:crypto';
import { type Document, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { getDocumentStore, resetDocumentStore } from '../../lib/store/get-document-store.js';
import { ensureIndexes } from '../../lib/store/indexes.js';
import { MongoDocumentStore } from '../../lib/store/mongo-store.js';
import { describeDocumentStoreContract } from './contract.js';

const uri = process.env.MONGODB_URI;

if (!uri) console.log('skipped: set MONGODB_URI to run the MongoDB contract tests');

describe.runIf(Boolean(uri))('MongoDocumentStore against MONGODB_URI', () => {
  const dbName = `store_contract_${randomBytes(6).toString('hex')}`;
  const connect = (): MongoClient => new MongoClient(uri ?? '', { serverSelectionTimeoutMS: 5000 });
  let admin: MongoClient;
  let seeded: Promise<void> | undefined;

  const seed = (collections: Record<string, Document[]>): Promise<void> => {
    seeded ??= (async () => {
      for (const [name, documents] of Object.entries(collections)) {
        await admin.db(dbName).collection(name).insertMany(documents);
      }
    })();
    return seeded;
  };

  beforeAll(async () => {
    admin = connect();
    await admin.connect();
  });

  afterAll(async () => {
    await resetDocumentStore();
    await admin?.db(dbName).dropDatabase();
    await admin?.close();
  });

  describeDocumentStoreContract('MongoDocumentStore', async (collections) => {
    await seed(collections);
    return new MongoDocumentStore(connect(), dbName);
  });

  it('passes server errors that are not about reachability through unchanged', async () => {
    const store = new MongoDocumentStore(connect(), dbName);
    try {
      const iterate = async (): Promise<void> => {
        for await (const _ of store.aggregate('payment', [{ $noSuchStage: {} }])) {
          // consumed only to run the pipeline
        }
      };
      await expect(iterate()).rejects.toBeInstanceOf(MongoServerError);
    } finally {
      await store.close();
    }
  });

  it('creates the indexes the queries rely on, idempotently', async () => {
    const db = admin.db(dbName);
    const first = await ensureIndexes(db, { partitionBy: ['account'] });
    const second = await ensureIndexes(db, { partitionBy: ['account'] });
    expect(second.map((index) => index.name)).toEqual(first.map((index) => index.name));
    const names = (await db.collection('payment').listIndexes().toArray()).map((index) => index.name);
    expect(names).toEqual(expect.arrayContaining(['date_1_id_1', 'id_1', 'account_1_date_1_id_1']));
  });

  it('getDocumentStore connects to MONGODB_URI and returns one MongoDocumentStore per container', async () => {
    const cfg = loadConfig({ MONGODB_URI: uri, MONGODB_DB: dbName });
    const store = await getDocumentStore(cfg);
    expect(store).toBeInstanceOf(MongoDocumentStore);
    expect(await getDocumentStore(cfg)).toBe(store);
  });
});
