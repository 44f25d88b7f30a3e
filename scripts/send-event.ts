import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LOCAL_CREDENTIALS } from '../lib/aws/client-cache.js';
import { config } from '../lib/config.js';
import { derivedRunId } from '../lib/runs/run-id.js';
import {
  PAYMENTS_IMPORTED_DETAIL_TYPE,
  PAYMENTS_IMPORTED_SOURCE,
  type PaymentsImportedEvent,
  paymentsImportedDetailSchema,
} from '../lib/runs/workers/events.js';
import { localFunctionName, STACK_STATE_FILE, type StackState } from './local-stack.js';

/**
 * Sends a `PaymentsImported` event to the `paymentsImportedWorker` function of the running local stack, the way
 * EventBridge delivers it (an asynchronous invocation), through serverless offline's Lambda API.
 *
 *   npm run event:payments-imported -- [--import-id ID] [--policy chronological|month-first]
 *     [--partition-by FIELD] [--payment-count N] [--wait] [--lambda-endpoint URL]
 *
 * Prints the run id to poll. The same --import-id always maps to the same run: send it twice to
 * see the duplicate ignored.
 */

const USAGE = `usage: npm run event:payments-imported -- [--import-id ID] [--policy chronological|month-first]
       [--partition-by FIELD] [--payment-count N] [--wait] [--lambda-endpoint URL]`;

async function stackState(): Promise<Partial<StackState>> {
  try {
    return JSON.parse(await readFile(STACK_STATE_FILE, 'utf8')) as StackState;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  // Local tooling runs on Node 20 (Lambda runs nodejs22.x): the SDK's Node 22 notice is known, not news.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      'import-id': { type: 'string' },
      policy: { type: 'string' },
      'partition-by': { type: 'string' },
      'payment-count': { type: 'string' },
      'lambda-endpoint': { type: 'string' },
      wait: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const detail = paymentsImportedDetailSchema.safeParse({
    importId: values['import-id'] ?? `import-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    ...(values.policy === undefined ? {} : { policy: values.policy }),
    ...(values['partition-by'] === undefined ? {} : { partitionBy: values['partition-by'] }),
    ...(values['payment-count'] === undefined ? {} : { paymentCount: Number(values['payment-count']) }),
  });
  if (!detail.success) {
    throw new Error(
      `invalid event detail: ${detail.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }

  const state = await stackState();
  const endpoint = values['lambda-endpoint'] ?? state.lambdaEndpoint;
  if (!endpoint)
    throw new Error('no --lambda-endpoint and no running local stack (start one with `npm start`)');

  const event: PaymentsImportedEvent & Record<string, unknown> = {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': PAYMENTS_IMPORTED_DETAIL_TYPE,
    source: PAYMENTS_IMPORTED_SOURCE,
    account: '000000000000',
    time: new Date().toISOString(),
    region: config().AWS_REGION,
    resources: [],
    detail: detail.data,
  };
  const lambda = new LambdaClient({ region: config().AWS_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: state.paymentsImportedWorkerFunctionName ?? localFunctionName('paymentsImportedWorker'),
        InvocationType: values.wait ? 'RequestResponse' : 'Event',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const runId = derivedRunId('event', detail.data.importId);
    process.stdout.write(
      `PaymentsImported ${JSON.stringify(detail.data)} sent (HTTP ${answer.StatusCode})\n`,
    );
    if (values.wait && answer.Payload) {
      process.stdout.write(`worker result: ${Buffer.from(answer.Payload).toString('utf8')}\n`);
    }
    process.stdout.write(`runId: ${runId}\n`);
    if (state.baseUrl) process.stdout.write(`poll:  curl -s ${state.baseUrl}/matching-runs/${runId}\n`);
  } finally {
    lambda.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
