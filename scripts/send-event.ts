import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LOCAL_CREDENTIALS } from '../lib/aws/client-cache.js';
import { config } from '../lib/config.js';
import { derivedRunId } from '../lib/runs/run-id.js';
import {
  PAYMENTS_IMPORTED_DETAIL_TYPE,
  PAYMENTS_IMPORTED_SOURCE,
  type PaymentsImportedDetail,
  type PaymentsImportedEvent,
  paymentsImportedDetailSchema,
} from '../lib/runs/workers/events.js';
import type { WorkerResult } from '../lib/runs/workers/worker-core.js';
import { localFunctionName, readStackState, stackStateFile } from './local-stack.js';

/**
 * Sends a `PaymentsImported` event to the `paymentsImportedWorker` function of the running local
 * stack through serverless offline's Lambda API, and prints what the worker did with it:
 *
 *   npm run event:payments-imported -- [--import-id ID] [--policy chronological|month-first]
 *     [--partition-by FIELD [--shards auto|N]] [--payment-count N] [--async] [--lambda-endpoint URL]
 *
 * The same --import-id always maps to the same run: send it twice to see the duplicate ignored.
 * Exit codes: 0 the run succeeded (or was a duplicate of one), 1 the event was discarded, the run
 * failed or no stack answered, 2 bad arguments.
 */

const USAGE = `usage: npm run event:payments-imported -- [--import-id ID] [--policy chronological|month-first]
         [--partition-by FIELD [--shards auto|N]] [--payment-count N] [--async] [--lambda-endpoint URL]
  --shards auto|N       a sharded run, executed by the state machine (needs --partition-by)
  --import-id ID        the import batch; one import id is one run (default: a new one)
  --async               deliver as EventBridge does, without waiting for the worker's answer
  --lambda-endpoint URL a Lambda API other than the running npm start's`;

/** Bad command-line arguments: the message, then the usage, exit code 2. */
class UsageError extends Error {}

interface Options {
  readonly detail: PaymentsImportedDetail;
  readonly async: boolean;
  readonly lambdaEndpoint?: string;
}

const OPTIONS = {
  'import-id': { type: 'string' },
  policy: { type: 'string' },
  'partition-by': { type: 'string' },
  shards: { type: 'string' },
  'payment-count': { type: 'string' },
  'lambda-endpoint': { type: 'string' },
  async: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `partitionBy` → `--partition-by`: event detail fields are named after the options. */
function optionName(field: PropertyKey | undefined): string {
  return `--${String(field).replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function parseOptions(args: string[]): Options | 'help' {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return 'help';
  const count = values['payment-count'];
  if (count !== undefined && !/^\d+$/.test(count)) {
    throw new UsageError(`--payment-count: must be a non-negative integer, got "${count}"`);
  }
  const detail = paymentsImportedDetailSchema.safeParse({
    importId: values['import-id'] ?? `import-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    ...(values.policy === undefined ? {} : { policy: values.policy }),
    ...(values['partition-by'] === undefined ? {} : { partitionBy: values['partition-by'] }),
    ...(count === undefined ? {} : { paymentCount: Number(count) }),
    ...(values.shards === undefined
      ? {}
      : { shards: /^\d+$/.test(values.shards) ? Number(values.shards) : values.shards }),
  });
  if (!detail.success) {
    throw new UsageError(
      detail.error.issues.map((issue) => `${optionName(issue.path[0])}: ${issue.message}`).join('; '),
    );
  }
  return {
    detail: detail.data,
    async: values.async,
    ...(values['lambda-endpoint'] === undefined ? {} : { lambdaEndpoint: values['lambda-endpoint'] }),
  };
}

/** Where to send the event, from --lambda-endpoint or the running `npm start`'s state file. */
async function target(options: Options): Promise<{ endpoint: string; baseUrl?: string }> {
  if (options.lambdaEndpoint !== undefined) return { endpoint: options.lambdaEndpoint };
  const file = stackStateFile();
  const shown = path.relative(process.cwd(), file);
  const found = await readStackState(file);
  if (found.kind === 'missing') {
    throw new Error('no local stack is running: start one with `npm start` (in another terminal)');
  }
  if (found.kind === 'stale') {
    await rm(file, { force: true });
    const owner = found.pid === undefined ? 'a stack' : `process ${found.pid}`;
    throw new Error(
      `no local stack is running: ${shown} was left by ${owner}, which has exited (removed it); ` +
        'start one with `npm start`',
    );
  }
  return { endpoint: found.state.lambdaEndpoint, baseUrl: found.state.baseUrl };
}

function isConnectionRefused(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/** What the worker's answer means to the person who sent the event, and the exit code. */
function outcome(
  result: WorkerResult,
  pollLine: (runId: string) => string,
): { lines: string[]; code: number } {
  switch (result.status) {
    case 'succeeded': {
      const { payments, matched, unmatched, rejected } = result.stats;
      return {
        lines: [
          `run ${result.runId} succeeded: ${payments} payments, ${matched} matched, ${unmatched} unmatched, ${rejected} rejected records`,
          pollLine(result.runId),
        ],
        code: 0,
      };
    }
    case 'duplicate':
      return {
        lines: [
          `duplicate of run ${result.runId} (${result.reason}): nothing new was started`,
          pollLine(result.runId),
        ],
        code: 0,
      };
    case 'failed':
      return { lines: [`run ${result.runId} failed: ${result.reason}`, pollLine(result.runId)], code: 1 };
    case 'skipped':
      return {
        lines: [`run ${result.runId} was not started: ${result.reason}`, pollLine(result.runId)],
        code: 1,
      };
    case 'discarded':
      return { lines: [`discarded, no run started: ${result.reason}`], code: 1 };
    case 'dispatched':
      return {
        lines: [`sharded run ${result.runId} started on the state machine`, pollLine(result.runId)],
        code: 0,
      };
  }
}

async function main(args: string[]): Promise<number> {
  // Local tooling runs on Node 20 (Lambda runs nodejs22.x): the SDK's Node 22 notice is known, not news.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const options = parseOptions(args);
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { endpoint, baseUrl } = await target(options);
  const pollLine = (runId: string) =>
    baseUrl === undefined ? `runId: ${runId}` : `details: curl -s ${baseUrl}/matching-runs/${runId}`;

  const event: PaymentsImportedEvent & Record<string, unknown> = {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': PAYMENTS_IMPORTED_DETAIL_TYPE,
    source: PAYMENTS_IMPORTED_SOURCE,
    account: '000000000000',
    time: new Date().toISOString(),
    region: config().AWS_REGION,
    resources: [],
    detail: options.detail,
  };
  const functionName = localFunctionName('paymentsImportedWorker');
  const lambda = new LambdaClient({
    region: config().AWS_REGION,
    endpoint,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    process.stdout.write(`sending PaymentsImported ${JSON.stringify(options.detail)} to ${functionName}\n`);
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: options.async ? 'Event' : 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    if (options.async) {
      const runId = derivedRunId('event', options.detail.importId);
      process.stdout.write(
        "delivered without waiting, as EventBridge does: the worker's log (npm start's terminal) says what it did\n" +
          `${pollLine(runId)}   (404 unless the worker created run ${runId})\n`,
      );
      return 0;
    }
    const payload = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
    if (answer.FunctionError !== undefined) {
      const message = (JSON.parse(payload || '{}') as { errorMessage?: string }).errorMessage;
      console.error(`the worker failed: ${message ?? answer.FunctionError}`);
      return 1;
    }
    const { lines, code } = outcome(JSON.parse(payload) as WorkerResult, pollLine);
    (code === 0 ? process.stdout : process.stderr).write(`${lines.join('\n')}\n`);
    return code;
  } catch (error) {
    if (isConnectionRefused(error)) {
      throw new Error(
        `no local stack answers at ${endpoint}: start one with \`npm start\`${options.lambdaEndpoint === undefined ? '' : ', or check --lambda-endpoint'}`,
      );
    }
    throw error;
  } finally {
    lambda.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
