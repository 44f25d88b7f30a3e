import { PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS } from '@aws-lambda-powertools/idempotency';
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoClient } from '../../lib/aws/clients.js';
import {
  createTables,
  IDEMPOTENCY_TABLE_KEY,
  IDEMPOTENCY_TTL_ATTRIBUTE,
  idempotencyTableDefinition,
  RUNS_TABLE_KEY,
  runsTableDefinition,
} from '../../scripts/tables.js';
import { useEmulators } from '../support/emulators.js';

describe('table definitions', () => {
  it('use the attribute names Powertools idempotency expects by default', () => {
    expect(IDEMPOTENCY_TABLE_KEY).toBe('id');
    expect(IDEMPOTENCY_TTL_ATTRIBUTE).toBe(PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.expiryAttr);
  });

  it.each([
    ['runs', runsTableDefinition('t'), RUNS_TABLE_KEY],
    ['idempotency', idempotencyTableDefinition('t'), IDEMPOTENCY_TABLE_KEY],
  ])('declare the %s table on-demand with a single string hash key', (_name, definition, key) => {
    expect(definition.BillingMode).toBe('PAY_PER_REQUEST');
    expect(definition.KeySchema).toEqual([{ AttributeName: key, KeyType: 'HASH' }]);
    expect(definition.AttributeDefinitions).toContainEqual({ AttributeName: key, AttributeType: 'S' });
  });

  it('give the idempotency table no index, and the runs table one to list runs by status, newest first', () => {
    expect(idempotencyTableDefinition('t').AttributeDefinitions).toHaveLength(1);
    expect(idempotencyTableDefinition('t').GlobalSecondaryIndexes).toBeUndefined();
    const runs = runsTableDefinition('t');
    expect(runs.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'byStatus',
        KeySchema: [
          { AttributeName: 'status', KeyType: 'HASH' },
          { AttributeName: 'listKey', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    expect(runs.AttributeDefinitions).toEqual([
      { AttributeName: 'runId', AttributeType: 'S' },
      { AttributeName: 'status', AttributeType: 'S' },
      { AttributeName: 'listKey', AttributeType: 'S' },
    ]);
  });

  describe('createTables (against the DynamoDB emulator)', () => {
    const local = useEmulators();

    it('is idempotent: a second call over existing tables succeeds and changes nothing', async () => {
      const { cfg, emulators } = local();
      const client = dynamoClient(cfg);
      await Promise.all([createTables(client, emulators.tables), createTables(client, emulators.tables)]);

      const { TableNames } = await client.send(new ListTablesCommand({}));
      expect(TableNames).toEqual([emulators.tables.idempotency, emulators.tables.runs].sort());
      const { Table } = await client.send(new DescribeTableCommand({ TableName: emulators.tables.runs }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.KeySchema).toEqual([{ AttributeName: 'runId', KeyType: 'HASH' }]);
      expect(Table?.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.IndexStatus])).toEqual([
        ['byStatus', 'ACTIVE'],
      ]);
    });

    it('creates tables under new names and waits until they are ACTIVE', async () => {
      const client = dynamoClient(local().cfg);
      const names = { runs: 'extra-runs', idempotency: 'extra-idempotency' };
      await createTables(client, names);

      const statuses = await Promise.all(
        Object.values(names).map((TableName) => client.send(new DescribeTableCommand({ TableName }))),
      );
      expect(statuses.map(({ Table }) => Table?.TableStatus)).toEqual(['ACTIVE', 'ACTIVE']);
    });
  });
});
