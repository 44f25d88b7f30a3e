import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../lib/aws/clients.js';
import { startEmulators } from '../../scripts/emulators.js';

describe('startEmulators', () => {
  it('serves DynamoDB and S3 on 127.0.0.1 with the requested tables and bucket, and stops cleanly twice', async () => {
    const s3Directory = await mkdtemp(path.join(os.tmpdir(), 's3-data-'));
    const emulators = await startEmulators({
      tables: { runs: 'runs-under-test', idempotency: 'idem-under-test' },
      bucket: 'bucket-under-test',
      s3Directory,
    });
    const dynamo = createDynamoClient({ region: 'us-east-1', endpoint: emulators.dynamodbEndpoint });
    const s3 = createS3Client({ region: 'us-east-1', endpoint: emulators.s3Endpoint });
    try {
      expect(emulators.dynamodbEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulators.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const { TableNames } = await dynamo.send(new ListTablesCommand({}));
      expect(TableNames).toEqual(['idem-under-test', 'runs-under-test']);
      await expect(s3.send(new HeadBucketCommand({ Bucket: 'bucket-under-test' }))).resolves.toBeDefined();
      expect(await readdir(s3Directory)).toContain('bucket-under-test');
      expect(emulators.env()).toMatchObject({
        DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
        S3_ENDPOINT: emulators.s3Endpoint,
        RUNS_TABLE: 'runs-under-test',
        IDEMPOTENCY_TABLE: 'idem-under-test',
        RESULTS_BUCKET: 'bucket-under-test',
      });
    } finally {
      dynamo.destroy();
      s3.destroy();
      await emulators.stop();
      await emulators.stop();
    }
    // A directory the caller supplied is the caller's to remove.
    expect(existsSync(s3Directory)).toBe(true);
    await rm(s3Directory, { recursive: true, force: true });
    await expect(fetch(emulators.s3Endpoint)).rejects.toThrow();
  });

  it('removes its own temporary S3 directory on stop', async () => {
    const emulators = await startEmulators();
    expect(path.dirname(emulators.s3Directory)).toBe(os.tmpdir());
    expect(existsSync(emulators.s3Directory)).toBe(true);
    await emulators.stop();
    expect(existsSync(emulators.s3Directory)).toBe(false);
  });
});
