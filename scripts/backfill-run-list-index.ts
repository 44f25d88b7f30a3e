/**
 * Gives runs recorded before `GET /matching-runs` existed their list index key, so the listing
 * shows them too (the index only holds items that have `listKey`; the ledger writes it for every
 * run it creates since). Run once after deploying the index; safe to repeat or interrupt.
 *
 *   RUNS_TABLE=zhkh-billing-prod-matching-runs AWS_REGION=eu-central-1 npx tsx scripts/backfill-run-list-index.ts
 *
 * Needs dynamodb:Scan and dynamodb:UpdateItem on the runs table (an operator's role, not a
 * function's). Exit codes: 0 done, 1 DynamoDB failed.
 */
import { pathToFileURL } from 'node:url';
import { type DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDocumentClient } from '../lib/aws/dynamodb-client.js';
import { config } from '../lib/config.js';
import { listKey, RUNS_LIST_INDEX_SORT_KEY } from '../lib/runs/run-index.js';
import { RUN_TRIGGERS, type RunTrigger } from '../lib/runs/run-record.js';

export interface BackfillReport {
  /** Runs that had no list key and got one. */
  readonly updated: number;
  /** Items without a list key that are not runs as the ledger writes them (left as they are). */
  readonly skipped: number;
}

function isRunItem(
  item: Record<string, unknown>,
): item is { runId: string; trigger: RunTrigger; createdAt: string } {
  return (
    typeof item.runId === 'string' &&
    typeof item.createdAt === 'string' &&
    RUN_TRIGGERS.includes(item.trigger as RunTrigger)
  );
}

/** Writes `listKey` on every run of `tableName` that lacks it; items that gained one meanwhile are left alone. */
export async function backfillRunListIndex(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<BackfillReport> {
  let updated = 0;
  let skipped = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'attribute_not_exists(#listKey)',
        ProjectionExpression: 'runId, #trigger, createdAt',
        ExpressionAttributeNames: { '#listKey': RUNS_LIST_INDEX_SORT_KEY, '#trigger': 'trigger' },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    for (const item of page.Items ?? []) {
      if (!isRunItem(item)) {
        skipped++;
        continue;
      }
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { runId: item.runId },
            UpdateExpression: 'SET #listKey = :listKey',
            ConditionExpression: 'attribute_exists(runId) AND attribute_not_exists(#listKey)',
            ExpressionAttributeNames: { '#listKey': RUNS_LIST_INDEX_SORT_KEY },
            ExpressionAttributeValues: { ':listKey': listKey(item) },
          }),
        );
        updated++;
      } catch (error) {
        if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return { updated, skipped };
}

async function main(): Promise<number> {
  const table = config().RUNS_TABLE;
  try {
    const { updated, skipped } = await backfillRunListIndex(dynamoDocumentClient(), table);
    console.log(
      `${table}: ${updated} run(s) given a list key${skipped > 0 ? `, ${skipped} item(s) skipped` : ''}`,
    );
    return 0;
  } catch (error) {
    console.error(`backfill-run-list-index: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => process.exit(code));
}
