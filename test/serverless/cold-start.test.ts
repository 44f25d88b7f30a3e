import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltBundle, buildFunctionBundles, functionNames } from '../../bench/bundles.js';
import { REPO_ROOT } from '../../bench/child-process.js';
import { accountActionsEvent, probeBundle, startColdRequestDouble } from '../../bench/cold-request.js';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { matchPayments } from '../../lib/matching/index.js';
import { inputSort } from '../../lib/runs/job.js';
import { newRunId, RunLedger } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { generateDemoData } from '../../scripts/demo-data.js';
import { useEmulators } from '../support/emulators.js';
import { readWorkbook } from '../support/workbook-reader.js';

/**
 * Loading an AWS SDK client is a large share of a Lambda cold start (tens of milliseconds each),
 * so each deployed bundle (serverless.yml `custom.esbuild` and its plugins, as `npm run bench`
 * builds them) must load at initialisation only the clients its function uses, and load them with
 * `require`: an ES `import` of the runtime's CommonJS SDK costs about twice as much. The MongoDB
 * driver, about half of a bundle, is evaluated at initialisation only where every request needs it.
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
    // Listing runs has its own route module (lib/http/run-list-routes.ts): the run ledger only.
    ['list-matching-runs', ['@aws-sdk/client-dynamodb']],
    // The workers use lib/runs/service.ts only for derivedRunId (or the invocation type): no Lambda
    // client. They load S3 when a run first writes (lib/runs/output-bucket.ts).
    ['matching-worker', ['@aws-sdk/client-dynamodb']],
    ['payments-imported-worker', ['@aws-sdk/client-dynamodb']],
    // The steps of a sharded run work with the ledger and the results bucket from the start.
    ['plan-matching-run', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
    ['matching-shard', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
    ['merge-matching-run', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
    ['fail-matching-run', ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']],
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

  // Evaluating the driver costs 25-30 ms here (docs/BENCHMARKS.md). The account routes read MongoDB
  // on every valid request and take that cost at initialisation; the workers, whose initialisation
  // the runtime's SDK already fills, take it when a run first reads (README, "Cold starts").
  it('evaluates the MongoDB driver at initialisation only in the account routes', async () => {
    const atInit: Record<string, boolean> = {};
    for (const b of bundles) atInit[b.name] = (await probeBundle(b)).driverAtInit;
    expect(atInit).toEqual({
      'create-matching-run': false,
      'fail-matching-run': false,
      'matching-shard': false,
      'merge-matching-run': false,
      'plan-matching-run': false,
      'get-account-actions': true,
      'get-matching-run': false,
      'get-matching-run-partition': false,
      'list-account-actions': true,
      'list-matching-runs': false,
      'matching-worker': false,
      'payments-imported-worker': false,
    });
  });

  // exceljs' workbook writer is built into a file beside the worker bundles
  // (serverless/esbuild-plugins.cjs): a bundle that imported it at initialisation could not even
  // load without that file.
  it.each(['matching-worker', 'payments-imported-worker'])(
    '%s initialises without the workbook writer, which it loads only when a run writes its workbook',
    async (name) => {
      const alone = path.join(dir, `${name}-alone`);
      await mkdir(alone);
      await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(alone, 'node_modules'), 'dir');
      const file = path.join(alone, `${name}.mjs`);
      await copyFile(bundle(name).file, file);
      const probe = await probeBundle({ ...bundle(name), file });
      expect(probe).toMatchObject({ driverAtInit: false, initMs: expect.any(Number) });
    },
  );

  it('answers an account request from MongoDB with the driver evaluated at init', async () => {
    const double = await startColdRequestDouble();
    try {
      const result = await probeBundle(bundle('get-account-actions'), {
        event: accountActionsEvent(),
        env: { MONGODB_URI: double.uri('billing'), POWERTOOLS_LOG_LEVEL: 'ERROR' },
      });
      expect(result).toMatchObject({ driverAtInit: true, status: 200, driverAfterRequest: true });
      expect(double.queries().map((q) => q.name)).toEqual(['aggregate', 'aggregate']);
      expect(double.queries().map((q) => q.command.collation)).toEqual([
        { locale: 'simple' },
        { locale: 'simple' },
      ]);
    } finally {
      await double.close();
    }
  });

  describe('the deployed matching-worker bundle', () => {
    const local = useEmulators();
    const data = generateDemoData({ accounts: 6, accruals: 40, payments: 35, seed: 11 });

    it('runs a queued run from MongoDB into S3, evaluating the driver only when the run first reads', async () => {
      const { emulators, cfg } = local();
      const ledger = new RunLedger(dynamoDocumentClient(cfg), emulators.tables.runs);
      const runId = newRunId();
      await ledger.create({ runId, trigger: 'http', policy: 'chronological', partitionBy: 'account' });
      const double = await startColdRequestDouble({ accrual: [...data.accrual], payment: [...data.payment] });
      try {
        const result = await probeBundle(bundle('matching-worker'), {
          event: { kind: 'matching-run', runId },
          env: {
            ...emulators.env(),
            AWS_REGION: cfg.AWS_REGION,
            MONGODB_URI: double.uri('billing'),
            POWERTOOLS_LOG_LEVEL: 'ERROR',
          },
          remainingMs: 60_000,
        });
        expect(result).toMatchObject({ driverAtInit: false, driverAfterRequest: true });
        // The second invocation finds the run succeeded and reads nothing.
        expect(double.queries().map((q) => q.command.find)).toEqual(['accrual', 'payment']);
      } finally {
        await double.close();
      }

      const run = await ledger.get(runId);
      expect(run).toMatchObject({ status: 'succeeded', attempts: 1, outputs: runOutputKeys(runId) });
      // Written through the workbook writer file beside the bundle.
      const s3 = local().s3();
      const { Body } = await s3.send(
        new GetObjectCommand({ Bucket: emulators.bucket, Key: runOutputKeys(runId).resultXlsx }),
      );
      const sheets = readWorkbook((await Body?.transformToByteArray()) ?? new Uint8Array());
      s3.destroy();
      expect(sheets.map((sheet) => sheet.name)).toEqual([
        'Summary',
        'Matches',
        'Unmatched payments',
        'Unpaid accruals',
        'Rejected',
      ]);
      expect(sheets[1]?.rows.length).toBe((run?.stats?.matched ?? 0) + 1);
      const sort = inputSort('account');
      const embedded = new EmbeddedDocumentStore({
        collections: { accrual: [...data.accrual], payment: [...data.payment] },
      });
      const direct = await matchPayments(
        embedded.find<Document>('accrual', {}, { sort }),
        embedded.find<Document>('payment', {}, { sort }),
        { policy: 'chronological', partitionBy: 'account' },
      );
      expect(run?.stats).toMatchObject({
        accruals: direct.stats.accruals,
        payments: direct.stats.payments,
        matched: direct.stats.matched,
        rejected: direct.stats.rejected,
      });
      expect(direct.stats.matched).toBeGreaterThan(0);
    });
  });
});
