/**
 * Creates the indexes the queries rely on (lib/store/indexes.ts) in MONGODB_DB on MONGODB_URI.
 *
 *   MONGODB_URI=mongodb+srv://… npm run indexes -- [--partition-by FIELD]…
 *
 * `--partition-by` may repeat; without it the personal-account field `account` is indexed.
 * Exit codes: 0 done, 1 the database failed, 2 bad arguments or MONGODB_URI missing.
 */
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../lib/config.js';
import { DEFAULT_PARTITION_FIELDS, ensureIndexes, indexDefinitions } from '../lib/store/indexes.js';
import { toStoreError } from '../lib/store/mongo-errors.js';

class UsageError extends Error {}

function partitionFields(argv: readonly string[]): readonly string[] {
  let values: { 'partition-by'?: string[] };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { 'partition-by': { type: 'string', multiple: true } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const fields = values['partition-by'] ?? DEFAULT_PARTITION_FIELDS;
  try {
    indexDefinitions(fields);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return fields;
}

async function main(): Promise<number> {
  let fields: readonly string[];
  let uri: string;
  let dbName: string;
  let timeoutMs: number;
  try {
    fields = partitionFields(process.argv.slice(2));
    const cfg = loadConfig();
    if (!cfg.MONGODB_URI) throw new UsageError('MONGODB_URI is not set: point it at the cluster to index');
    uri = cfg.MONGODB_URI;
    dbName = cfg.MONGODB_DB;
    timeoutMs = cfg.MONGODB_SERVER_SELECTION_TIMEOUT_MS;
  } catch (error) {
    console.error(`create-indexes: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  let client: MongoClient | undefined;
  try {
    client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, appName: 'create-indexes' });
    const ensured = await ensureIndexes(client.db(dbName), { partitionBy: fields });
    for (const index of ensured) {
      console.log(`${dbName}.${index.collection}: ${index.name}${index.unique ? ' (unique)' : ''}`);
    }
    return 0;
  } catch (error) {
    // toStoreError drops anything that could quote the URI; server messages (a conflicting index
    // definition, say) are what the operator needs to see.
    const mapped = toStoreError(error);
    console.error(`create-indexes: ${mapped instanceof Error ? mapped.message : String(mapped)}`);
    return 1;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

process.exitCode = await main();
