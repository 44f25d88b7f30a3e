import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { getDocumentStore, resetDocumentStore } from '../../lib/store/get-document-store.js';

const ssm = vi.hoisted(() => ({ getParameter: vi.fn() }));
vi.mock('@aws-lambda-powertools/parameters/ssm', () => ssm);

const PASSWORD = 'Pa55word-s3cret';

/** A 127.0.0.1 port that was just free: bound, then released, so connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

let deadUri: string;

beforeAll(async () => {
  deadUri = `mongodb://billing:${PASSWORD}@127.0.0.1:${await closedPort()}/billing?directConnection=true`;
});

afterEach(async () => {
  await resetDocumentStore();
  ssm.getParameter.mockReset();
  vi.restoreAllMocks();
});

describe('getDocumentStore', () => {
  it('serves the embedded store on DATA_DIR when no MongoDB URI is configured, one per container', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-factory-'));
    try {
      await writeFile(join(dir, 'Account.json'), '[{"number": "7800000000001"}]');
      const cfg = loadConfig({ DATA_DIR: dir });
      const store = await getDocumentStore(cfg);
      expect(store).toBeInstanceOf(EmbeddedDocumentStore);
      expect(await getDocumentStore(cfg)).toBe(store);
      const numbers: unknown[] = [];
      for await (const account of store.find('Account', {})) numbers.push(account.number);
      expect(numbers).toEqual(['7800000000001']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails fast with ServiceUnavailableError for an unreachable MongoDB, never showing the password', async () => {
    const cfg = loadConfig({
      MONGODB_URI: deadUri,
      MONGODB_URI_PARAMETER: '/unused/because/uri/wins',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
    });
    const started = Date.now();
    const error = await failure(getDocumentStore(cfg));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).status).toBe(503);
    expect((error as Error).message).toMatch(/MongoDB is unavailable/);
    expect((error as Error).message).not.toContain(PASSWORD);
    expect((error as Error).message).not.toContain('billing:');
    expect(String((error as Error).cause)).not.toContain(PASSWORD);
    expect(ssm.getParameter).not.toHaveBeenCalled();
  });

  it('tries to connect again on the next call instead of returning the cached failure', async () => {
    const connect = vi.spyOn(MongoClient.prototype, 'connect');
    const cfg = loadConfig({ MONGODB_URI: deadUri, MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000' });
    const first = await failure(getDocumentStore(cfg));
    const second = await failure(getDocumentStore(cfg));
    expect(second).toBeInstanceOf(ServiceUnavailableError);
    expect(second).not.toBe(first);
    expect(connect).toHaveBeenCalledTimes(2);
  });

  it('reads MONGODB_URI_PARAMETER from SSM with decryption, once per cold start', async () => {
    ssm.getParameter.mockResolvedValue(deadUri);
    const cfg = loadConfig({
      MONGODB_URI_PARAMETER: '/billing/mongodb-uri',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
    });
    expect(await failure(getDocumentStore(cfg))).toBeInstanceOf(ServiceUnavailableError);
    expect(await failure(getDocumentStore(cfg))).toBeInstanceOf(ServiceUnavailableError);
    expect(ssm.getParameter).toHaveBeenCalledTimes(1);
    expect(ssm.getParameter).toHaveBeenCalledWith('/billing/mongodb-uri', { decrypt: true });
  });

  it('reports an unreadable SSM parameter as ServiceUnavailableError and asks SSM again next time', async () => {
    ssm.getParameter.mockRejectedValue(new Error('AccessDeniedException'));
    const cfg = loadConfig({ MONGODB_URI_PARAMETER: '/billing/mongodb-uri' });
    const error = await failure(getDocumentStore(cfg));
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as Error).message).toContain('/billing/mongodb-uri');
    await failure(getDocumentStore(cfg));
    expect(ssm.getParameter).toHaveBeenCalledTimes(2);
  });

  it('rejects a malformed connection string without quoting it', async () => {
    const cfg = loadConfig({ MONGODB_URI: `http://billing:${PASSWORD}@db.example.net` });
    const error = await failure(getDocumentStore(cfg));
    expect((error as Error).message).toBe('MONGODB_URI is not a valid MongoDB connection string');
    expect((error as Error).cause).toBeUndefined();
  });
});
