import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltBundle, buildFunctionBundles, functionNames } from '../../bench/bundles.js';
import { REPO_ROOT } from '../../bench/child-process.js';

/**
 * Loading an AWS SDK client is a large share of a Lambda cold start (tens of milliseconds each),
 * so each deployed bundle (serverless.yml `custom.esbuild` and its plugins, as `npm run bench`
 * builds them) must load at initialisation only the clients its function uses, and load them with
 * `require`: an ES `import` of the runtime's CommonJS SDK costs about twice as much.
 */
describe('AWS SDK clients loaded when a deployed bundle initialises', () => {
  let dir: string;
  let bundles: BuiltBundle[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cold-start-sdk-'));
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
});
