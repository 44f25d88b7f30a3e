import { MongoNetworkError, MongoNetworkTimeoutError, MongoParseError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { toStoreError } from '../../lib/store/mongo-errors.js';

describe('toStoreError', () => {
  it.each([
    ['a network error', new MongoNetworkError('connection reset by 10.0.0.5:27017')],
    ['a network timeout', new MongoNetworkTimeoutError('timed out')],
    ['a primary step-down', new MongoServerError({ message: 'not primary', code: 10107 })],
    ['failed authentication', new MongoServerError({ message: 'Authentication failed.', code: 18 })],
  ])(
    'turns %s into ServiceUnavailableError with our own message and the driver error as cause',
    (_title, error) => {
      const mapped = toStoreError(error);
      expect(mapped).toBeInstanceOf(ServiceUnavailableError);
      expect((mapped as ServiceUnavailableError).message).toMatch(/^MongoDB is unavailable: /);
      expect((mapped as ServiceUnavailableError).message).not.toContain(error.message);
      expect((mapped as ServiceUnavailableError).cause).toBe(error);
    },
  );

  it.each([
    ['a duplicate key', new MongoServerError({ message: 'E11000 duplicate key', code: 11000 })],
    ['a bad pipeline', new MongoServerError({ message: 'Unrecognized pipeline stage name', code: 40324 })],
    ['a programming error', new TypeError('x is not a function')],
  ])('passes %s through unchanged', (_title, error) => {
    expect(toStoreError(error)).toBe(error);
  });

  it('replaces a connection-string parse error, whose message may quote the URI', () => {
    const mapped = toStoreError(new MongoParseError('Invalid URI mongodb://user:secret@host'));
    expect(mapped).toBeInstanceOf(Error);
    expect((mapped as Error).message).not.toContain('secret');
    expect((mapped as Error).cause).toBeUndefined();
  });
});
