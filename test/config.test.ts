import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, redactMongoUri } from '../lib/config.js';

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
