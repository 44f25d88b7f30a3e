import { MongoClient } from 'mongodb';
import type { DocumentStore } from './document-store.js';
import { toStoreError } from './mongo-errors.js';
import { MongoDocumentStore } from './mongo-store.js';

/** Shown to the server in logs and `currentOp`, to tell our connections from others'. */
export const MONGO_APP_NAME = 'zhkh-billing-backend';

/**
 * A Lambda container serves one request at a time; a few pooled connections cover the parallel
 * cursors of one invocation (accruals and payments), while hundreds of warm containers must stay
 * under the cluster's connection limit.
 */
export const MONGO_MAX_POOL_SIZE = 5;

/** What {@link connectMongoStore} needs: the URI (a secret) and the driver settings. */
export interface MongoConnection {
  readonly uri: string;
  readonly db: string;
  readonly serverSelectionTimeoutMS: number;
}

/**
 * Connects a {@link MongoDocumentStore}. This module is the only one that loads the MongoDB driver
 * at run time, and lib/store/get-document-store.ts reaches it through `await import()`: the
 * driver is evaluated when a store is first opened, not at cold start (see docs/decisions.md, "Cold starts").
 *
 * An unreachable cluster rejects with `ServiceUnavailableError` within about
 * `serverSelectionTimeoutMS`; a URI the driver cannot parse rejects without echoing it.
 */
export async function connectMongoStore({
  uri,
  db,
  serverSelectionTimeoutMS,
}: MongoConnection): Promise<DocumentStore> {
  let client: MongoClient;
  try {
    client = new MongoClient(uri, {
      appName: MONGO_APP_NAME,
      maxPoolSize: MONGO_MAX_POOL_SIZE,
      serverSelectionTimeoutMS,
    });
  } catch (error) {
    throw toStoreError(error);
  }
  try {
    // Connecting here, when the store is first opened, makes an unreachable cluster fail that
    // request within the server-selection timeout, instead of every later query discovering it.
    await client.connect();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw toStoreError(error);
  }
  return new MongoDocumentStore(client, db);
}
