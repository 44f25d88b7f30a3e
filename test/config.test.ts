import { afterEach, describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, redactMongoUri, resetConfig } from '../lib/config.js';
import { productionWorkerDeps } from '../lib/runs/workers/matching-worker.js';
import { productionPaymentsImportedWorkerDeps } from '../lib/runs/workers/payments-imported-worker.js';

describe('configuration', () => {
  it('applies defaults for local runs', () => {
    const c = loadConfig({});
    expect(c.MONGODB_URI).toBeUndefined();
    expect(c.PRESIGNED_URL_TTL_SECONDS).toBe(300);
    expect(describeConfig(c).store).toBe('embedded');
  });

  it('rejects a presigned URL lifetime above 15 minutes', () => {
    expect(() => loadConfig({ PRESIGNED_URL_TTL_SECONDS: '901' })).toThrow(/PRESIGNED_URL_TTL_SECONDS/);
  });

  it.each([
    [
      'mongodb+srv://user:s3cret@cluster0.example.net/billing?retryWrites=true',
      'mongodb+srv://cluster0.example.net',
    ],
    ['mongodb://a:b@h1:27017,h2:27017/db', 'mongodb://h1:27017,h2:27017'],
    ['mongodb://localhost:27017', 'mongodb://localhost:27017'],
  ])('redacts credentials from %s', (uri, expected) => {
    expect(redactMongoUri(uri)).toBe(expected);
    expect(describeConfig(loadConfig({ MONGODB_URI: uri })).mongoHosts).not.toMatch(/s3cret|a:b/);
  });
});

describe('settings read once with the rest of the configuration', () => {
  afterEach(() => {
    for (const name of ['WORKER_SAFETY_MARGIN_MS', 'IS_OFFLINE']) delete process.env[name];
    resetConfig();
  });

  it('parses CORS origins into a trimmed list, empty by default', () => {
    expect(loadConfig({}).CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(
      loadConfig({ CORS_ALLOWED_ORIGINS: ' https://a.example , ,https://b.example' }).CORS_ALLOWED_ORIGINS,
    ).toEqual(['https://a.example', 'https://b.example']);
  });

  it.each([
    [{}, undefined],
    [{ WORKER_SAFETY_MARGIN_MS: '' }, undefined],
    [{ WORKER_SAFETY_MARGIN_MS: '30000' }, 30_000],
  ])('reads WORKER_SAFETY_MARGIN_MS from %j as %s', (env, expected) => {
    expect(loadConfig(env).WORKER_SAFETY_MARGIN_MS).toBe(expected);
  });

  it('gives a queued run 60 s to be picked up before a repeated POST dispatches it again', () => {
    expect(loadConfig({}).QUEUED_RUN_STALE_AFTER_SECONDS).toBe(60);
    expect(loadConfig({ QUEUED_RUN_STALE_AFTER_SECONDS: '120' }).QUEUED_RUN_STALE_AFTER_SECONDS).toBe(120);
    expect(() => loadConfig({ QUEUED_RUN_STALE_AFTER_SECONDS: '0' })).toThrow(
      /QUEUED_RUN_STALE_AFTER_SECONDS/,
    );
  });

  it('refuses a negative or fractional safety margin', () => {
    expect(() => loadConfig({ WORKER_SAFETY_MARGIN_MS: '-1' })).toThrow(/WORKER_SAFETY_MARGIN_MS/);
    expect(() => loadConfig({ WORKER_SAFETY_MARGIN_MS: '1.5' })).toThrow(/WORKER_SAFETY_MARGIN_MS/);
  });

  it('hands the safety margin and the offline flag to the worker', () => {
    process.env.WORKER_SAFETY_MARGIN_MS = '20000';
    process.env.IS_OFFLINE = 'true';
    resetConfig();
    expect(productionWorkerDeps()).toMatchObject({ safetyMarginMs: 20_000, lambdaRetries: false });
    expect(productionPaymentsImportedWorkerDeps()).toMatchObject({
      safetyMarginMs: 20_000,
      lambdaRetries: false,
      idempotencyTtlSeconds: expect.any(Number),
    });
    delete process.env.IS_OFFLINE;
    delete process.env.WORKER_SAFETY_MARGIN_MS;
    resetConfig();
    const deps = productionWorkerDeps();
    expect(deps.lambdaRetries).toBe(true);
    expect(deps.safetyMarginMs).toBeUndefined();
  });
});
