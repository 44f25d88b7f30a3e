import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltBundle,
  buildFunctionBundles,
  functionNames,
  lambdaEnvironment,
} from '../../bench/bundles.js';
import { REPO_ROOT, RESULT_MARKER, runChild } from '../../bench/child-process.js';
import { httpEvent, lambdaContext } from '../http/request-events.js';
import { startMongoWireDouble } from '../support/mongo-wire-double.js';

/**
 * The MongoDB driver needs Node's `dns` module (SRV records of `mongodb+srv://` URIs) and loads it
 * when the driver's code is evaluated; nothing else in a bundle or the AWS SDK loads it at
 * initialisation. So "`dns` is loaded" tells whether the driver has been evaluated.
 */
const DRIVER_PROBE = [
  "const driverEvaluated = () => process.moduleLoadList.includes('NativeModule dns');",
  'const [bundle, event, context] = process.argv.slice(1);',
  'const { handler } = await import(bundle);',
  'const atInit = driverEvaluated();',
  'let status = null;',
  'if (event !== undefined) {',
  '  const ctx = JSON.parse(context);',
  '  ctx.getRemainingTimeInMillis = () => 10_000;',
  '  status = (await handler(JSON.parse(event), ctx)).statusCode;',
  '}',
  `process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify({ atInit, afterRequest: driverEvaluated(), status }) + '\\n');`,
  'process.exit(0);',
].join('\n');

interface DriverProbe {
  readonly atInit: boolean;
  readonly afterRequest: boolean;
  readonly status: number | null;
}

/**
 * Loading an AWS SDK client is a large share of a Lambda cold start (tens of milliseconds each),
 * so each deployed bundle (serverless.yml `custom.esbuild` and its plugins, as `npm run bench`
 * builds them) must load at initialisation only the clients its function uses, and load them with
 * `require`: an ES `import` of the runtime's CommonJS SDK costs about twice as much.
 */
describe('what a deployed bundle loads when it initialises', () => {
  let dir: string;
  let bundles: BuiltBundle[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cold-start-'));
    bundles = await buildFunctionBundles(REPO_ROOT, dir, await functionNames(REPO_ROOT));
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function bundle(name: string): BuiltBundle {
    const found = bundles.find((b) => b.name === name);
    if (!found) throw new Error(`no bundle ${name}`);
    return found;
  }

  const clients = (name: string): string[] =>
    bundle(name).externals.filter((e) => e.startsWith('@aws-sdk/client-'));

  it.each([
    // The account routes read MongoDB only; the SSM client for MONGODB_URI_PARAMETER loads on first use.
    ['get-account-actions', []],
    ['list-account-actions', []],
    // Both run routes share lib/http/matching-run-routes.ts, which builds the ledger, the bucket and the dispatcher.
    ['create-matching-run', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-lambda', '@aws-sdk/client-s3']],
    ['get-matching-run', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-lambda', '@aws-sdk/client-s3']],
    // The workers use lib/matching-runs.ts only for derivedRunId (or the invocation type): no Lambda client.
    ['matching-worker', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
    ['payments-imported-worker', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
  ])('%s loads exactly %j', (name, expected) => {
    expect(clients(name)).toEqual(expected);
  });

  it('never loads the SSM client before a request needs it', () => {
    for (const b of bundles) expect(b.externals, b.name).not.toContain('@aws-sdk/client-ssm');
  });

  it('loads the runtime SDK with require, never with an ES import', () => {
    const loads = bundles.flatMap((b) => b.externalLoads);
    expect(loads.length).toBeGreaterThan(0);
    for (const load of loads) expect(load).toMatch(/^require:@(aws-sdk|smithy)\//);
  });

  function probe(name: string, env: NodeJS.ProcessEnv, request: string[] = []): Promise<DriverProbe> {
    const file = bundle(name).file;
    return runChild<DriverProbe>(
      ['--input-type=module', '-e', DRIVER_PROBE, pathToFileURL(file).href, ...request],
      {
        typescript: false,
        env,
        cwd: path.dirname(file),
        timeoutMs: 60_000,
      },
    );
  }

  // The driver is about half of a bundle; evaluating it costs 25-30 ms here (docs/BENCHMARKS.md).
  it('never evaluates the MongoDB driver before a request opens the store', async () => {
    for (const b of bundles) {
      const result = await probe(b.name, lambdaEnvironment(b.name));
      expect(result.atInit, b.name).toBe(false);
    }
  });

  it('evaluates the driver when the first request reads MongoDB, and answers it (positive control)', async () => {
    const number = '7800000000001';
    const double = await startMongoWireDouble({ collections: { Account: [{ number, sessions: [] }] } });
    try {
      const env = { ...lambdaEnvironment('get-account-actions'), MONGODB_URI: double.uri('billing') };
      const event = httpEvent({ routeKey: 'GET /accounts/{number}/actions', pathParameters: { number } });
      const result = await probe('get-account-actions', env, [
        JSON.stringify(event),
        JSON.stringify(lambdaContext()),
      ]);
      expect(result).toEqual({ atInit: false, afterRequest: true, status: 200 });
      expect(double.queries().map((q) => q.name)).toEqual(['aggregate']);
    } finally {
      await double.close();
    }
  });
});
