import { describe, expect, it } from 'vitest';
import {
  AWS_MAX_ATTEMPTS,
  dynamoClient,
  dynamoDocumentClient,
  LOCAL_CREDENTIALS,
  lambdaClient,
  resetAwsClients,
  s3Client,
} from '../../lib/aws/clients.js';
import { loadConfig } from '../../lib/config.js';

const local = loadConfig({
  AWS_REGION: 'eu-central-1',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
  S3_ENDPOINT: 'http://127.0.0.1:9000',
  LAMBDA_ENDPOINT: 'http://127.0.0.1:3002',
});

describe('AWS clients', () => {
  it('are created once per endpoint and reused', () => {
    const other = { ...local, DYNAMODB_ENDPOINT: 'http://127.0.0.1:8001' };
    expect(dynamoDocumentClient(local)).toBe(dynamoDocumentClient(local));
    expect(s3Client(local)).toBe(s3Client(local));
    expect(lambdaClient(local)).toBe(lambdaClient(local));
    expect(dynamoClient(other)).not.toBe(dynamoClient(local));
  });

  it('share one low-level DynamoDB client between the document client and Powertools', () => {
    expect(dynamoDocumentClient(local).config).toBe(dynamoClient(local).config);
  });

  it.each([
    ['DynamoDB', () => dynamoClient(local), 'http://127.0.0.1:8000'],
    ['S3', () => s3Client(local), 'http://127.0.0.1:9000'],
    ['Lambda', () => lambdaClient(local), 'http://127.0.0.1:3002'],
  ])(
    'send %s calls to its emulator with dummy credentials and the configured region',
    async (_n, make, url) => {
      const client = make();
      const endpoint = await client.config.endpoint?.();
      expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`).toBe(url);
      expect(await client.config.credentials()).toMatchObject(LOCAL_CREDENTIALS);
      expect(await client.config.region()).toBe('eu-central-1');
      expect(await client.config.maxAttempts()).toBe(AWS_MAX_ATTEMPTS);
    },
  );

  it('address the S3 emulator path-style', () => {
    expect(s3Client(local).config.forcePathStyle).toBe(true);
  });

  it('use the default AWS endpoints, virtual-hosted S3 and no dummy credentials in AWS', async () => {
    const aws = loadConfig({ AWS_REGION: 'eu-west-1' });
    expect(s3Client(aws).config.forcePathStyle).toBe(false);
    expect(dynamoClient(aws).config.endpoint).toBeUndefined();
    expect(dynamoClient(aws).config.isCustomEndpoint).toBe(false);
  });

  it('are rebuilt after resetAwsClients()', () => {
    const before = s3Client(local);
    resetAwsClients();
    expect(s3Client(local)).not.toBe(before);
  });
});
