import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  RUNS_LIST_INDEX,
  RUNS_LIST_INDEX_HASH_KEY,
  RUNS_LIST_INDEX_SORT_KEY,
} from '../lib/runs/run-index.js';

/**
 * DynamoDB table definitions: the single source for local creation (scripts/emulators.ts);
 * serverless.yml mirrors them for AWS.
 */

/** Names of the project's tables (RUNS_TABLE, IDEMPOTENCY_TABLE). */
export interface TableNames {
  readonly runs: string;
  readonly idempotency: string;
}

/** Partition key of the run ledger. */
export const RUNS_TABLE_KEY = 'runId';
/**
 * Partition key and TTL attribute of the idempotency table: the defaults of Powertools'
 * DynamoDBPersistenceLayer (`keyAttr` 'id', `expiryAttr` 'expiration'), so it needs no mapping.
 */
export const IDEMPOTENCY_TABLE_KEY = 'id';
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiration';

/**
 * The run ledger: one item per matching run, on-demand capacity, and the index `GET /matching-runs`
 * lists runs from (status, then `{trigger}#{createdAt}#{runId}`: see lib/runs/run-index.ts).
 */
export function runsTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: RUNS_TABLE_KEY, AttributeType: 'S' },
      { AttributeName: RUNS_LIST_INDEX_HASH_KEY, AttributeType: 'S' },
      { AttributeName: RUNS_LIST_INDEX_SORT_KEY, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: RUNS_TABLE_KEY, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: RUNS_LIST_INDEX,
        KeySchema: [
          { AttributeName: RUNS_LIST_INDEX_HASH_KEY, KeyType: 'HASH' },
          { AttributeName: RUNS_LIST_INDEX_SORT_KEY, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * Idempotency records. In AWS, TTL is enabled on {@link IDEMPOTENCY_TTL_ATTRIBUTE} (serverless.yml);
 * the emulator has no TTL API, which is harmless because Powertools checks expiry itself.
 */
export function idempotencyTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE_KEY, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE_KEY, KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

async function waitUntilActive(client: DynamoDBClient, tableName: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delayMs = 20;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() + delayMs > deadline) {
      throw new Error(`table ${tableName} is not ACTIVE after ${timeoutMs} ms (${Table?.TableStatus})`);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 1000);
  }
}

async function createTable(client: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
  try {
    await client.send(new CreateTableCommand(definition));
  } catch (error) {
    // Already there (a second start, or a concurrent creator): waiting for ACTIVE is all that is left.
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
}

/**
 * Creates the runs and idempotency tables if they do not exist and waits until both are ACTIVE.
 * Safe to call repeatedly and concurrently.
 */
export async function createTables(
  client: DynamoDBClient,
  names: TableNames,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const tables: Array<[string, CreateTableCommandInput]> = [
    [names.runs, runsTableDefinition(names.runs)],
    [names.idempotency, idempotencyTableDefinition(names.idempotency)],
  ];
  await Promise.all(
    tables.map(async ([name, definition]) => {
      await createTable(client, definition);
      await waitUntilActive(client, name, timeoutMs);
    }),
  );
}
