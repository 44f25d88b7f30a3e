import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient } from '../../lib/aws/clients.js';
import { RunLedger, type RunLedgerOptions } from '../../lib/runs/ledger.js';
import type { EmulatorContext } from './emulators.js';

/** One DynamoDB operation a watched ledger sent, with its input and (when it answered) its output. */
export interface SentOperation {
  readonly command: string;
  readonly input: Record<string, unknown>;
  output?: Record<string, unknown>;
}

export interface WatchedLedger {
  readonly ledger: RunLedger;
  /** Every operation sent so far, in order. */
  readonly sent: SentOperation[];
  /** Releases the ledger's own client. */
  destroy(): void;
}

/**
 * A run ledger on the emulated runs table with a DynamoDB client of its own that records every
 * operation it sends (a middleware on the real SDK client: DynamoDB is not replaced). For tests
 * that count ledger reads and writes.
 */
export function watchedLedger(local: EmulatorContext, options?: RunLedgerOptions): WatchedLedger {
  const client = createDynamoClient({ region: 'us-east-1', endpoint: local.emulators.dynamodbEndpoint });
  const sent: SentOperation[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation: SentOperation = {
        command: String(context.commandName),
        input: args.input as Record<string, unknown>,
      };
      sent.push(operation);
      const result = await next(args);
      operation.output = result.output as unknown as Record<string, unknown>;
      return result;
    },
    { step: 'initialize', name: 'recordOperations' },
  );
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    ledger: new RunLedger(documents, local.emulators.tables.runs, options),
    sent,
    destroy: () => client.destroy(),
  };
}
