import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { lazyDocumentStore } from '../../lib/store/lazy-store.js';

async function all(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('lazyDocumentStore', () => {
  const real = new EmbeddedDocumentStore({ collections: { payment: [{ id: 1 }, { id: 2 }] } });

  it('does not open the store until a cursor is read, then opens it once', async () => {
    let opened = 0;
    const store = lazyDocumentStore(async () => {
      opened += 1;
      return real;
    });
    const cursor = store.find('payment', {});
    expect(opened).toBe(0);
    expect(await all(cursor)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await all(store.aggregate('payment', [{ $count: 'n' }]))).toEqual([{ n: 2 }]);
    expect(opened).toBe(1);
  });

  it('surfaces a failure to open on the read, and tries again on the next one', async () => {
    let attempts = 0;
    const store = lazyDocumentStore(async () => {
      attempts += 1;
      if (attempts === 1) throw new ServiceUnavailableError('MongoDB is unavailable: network error');
      return real;
    });
    await expect(all(store.find('payment', {}))).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(await all(store.find('payment', {}))).toHaveLength(2);
    expect(attempts).toBe(2);
  });

  it('leaves the store it wraps open on close (it belongs to the container)', async () => {
    const store = lazyDocumentStore(async () => real);
    await all(store.find('payment', {}));
    await store.close();
    expect(await all(real.find('payment', {}))).toHaveLength(2);
  });
});
