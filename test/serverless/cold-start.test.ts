import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltBundle, buildFunctionBundles, functionNames } from '../../bench/bundles.js';
import { REPO_ROOT } from '../../bench/child-process.js';
import { accountActionsEvent, COLD_REQUEST_ACCOUNT, probeBundle } from '../../bench/cold-request.js';
import { startMongoWireDouble } from '../support/mongo-wire-double.js';

/**
 * Loading an AWS SDK client is a large share of a Lambda cold start (tens of milliseconds each),
 * so each deployed bundle (serverless.yml `custom.esbuild` and its plugins, as `npm run bench`
 * builds them) must load at initialisation only the clients its function uses, and load them with
 * `require`: an ES `import` of the runtime's CommonJS SDK costs about twice as much. The MongoDB
 * driver, about half of a bundle, is evaluated when a request first opens the store.
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

  // The driver is about half of a bundle; evaluating it costs 25-30 ms here (docs/BENCHMARKS.md).
  it('never evaluates the MongoDB driver before a request opens the store', async () => {
    for (const b of bundles) {
      const result = await probeBundle(b);
      expect(result.driverAtInit, b.name).toBe(false);
    }
  });

  it('evaluates the driver when the first request reads MongoDB, and answers it (positive control)', async () => {
    const double = await startMongoWireDouble({
      collections: { Account: [{ number: COLD_REQUEST_ACCOUNT, sessions: [] }] },
    });
    try {
      const result = await probeBundle(bundle('get-account-actions'), {
        event: accountActionsEvent(),
        env: { MONGODB_URI: double.uri('billing') },
      });
      expect(result).toMatchObject({ driverAtInit: false, status: 200, driverAfterRequest: true });
      // Two requests, one connection: the second reuses the store the first opened.
      expect(double.queries().map((q) => q.name)).toEqual(['aggregate', 'aggregate']);
    } finally {
      await double.close();
    }
  });
});
