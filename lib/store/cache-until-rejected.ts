/**
 * Caches the promise `create()` returns under `key` until it rejects, so a failed attempt (an
 * unreachable database, a data file fixed after a failed read) is retried by the next call.
 *
 * @example
 * ```ts
 * const stores = new Map<string, Promise<DocumentStore>>();
 * const store = await cacheUntilRejected(stores, uri, () => connect(uri));
 * ```
 */
export function cacheUntilRejected<K, T>(
  cache: Map<K, Promise<T>>,
  key: K,
  create: () => Promise<T>,
): Promise<T> {
  const cached = cache.get(key);
  if (cached) return cached;
  const created = create();
  cache.set(key, created);
  created.catch(() => {
    if (cache.get(key) === created) cache.delete(key);
  });
  return created;
}
