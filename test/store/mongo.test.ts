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

/**
 * A default collation that makes strings compare unlike the embedded store: case- and
 * accent-insensitive English. Every contract collection is created with it, so the contract also
 * proves that our queries never fall back to a collection's collation.
 */
const HOSTILE_COLLATION = { locale: 'en', strength: 1 } as const;

describe.runIf(Boolean(uri))('MongoDocumentStore against MONGODB_URI', () => {
  const dbName = `store_contract_${randomBytes(6).toString('hex')}`;
  const connect = (): MongoClient => new MongoClient(uri ?? '', { serverSelectionTimeoutMS: 5000 });
  const databases = [dbName];
  let admin: MongoClient;

  /** Each contract store gets a database of its own, seeded with exactly its collections. */
  const seed = async (collections: Record<string, Document[]>): Promise<string> => {
    const name = `${dbName}_${databases.length}`;
    databases.push(name);
    for (const [collection, documents] of Object.entries(collections)) {
      await admin.db(name).createCollection(collection, { collation: HOSTILE_COLLATION });
      await admin.db(name).collection(collection).insertMany(documents);
    }
    return name;
  };

  beforeAll(async () => {
    admin = connect();
    await admin.connect();
  });

  afterAll(async () => {
    await resetDocumentStore();
    for (const name of databases) await admin?.db(name).dropDatabase();
    await admin?.close();
  });

  describeDocumentStoreContract('MongoDocumentStore', async (collections) => {
    return new MongoDocumentStore(connect(), await seed(collections));
  });

  it('creates its indexes with the simple collation even where the collection has another', async () => {
    const name = `${dbName}_collated_indexes`;
    databases.push(name);
    const db = admin.db(name);
    await db.createCollection('Account', { collation: HOSTILE_COLLATION });
    await ensureIndexes(db, { partitionBy: [] });
    const indexes = await db.collection('Account').listIndexes().toArray();
    const number = indexes.find((index) => index.name === 'number_1');
    expect(number?.unique).toBe(true);
    // The server lists a simple collation as { locale: 'simple' } or not at all.
    expect(number?.collation?.locale ?? 'simple').toBe('simple');
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
