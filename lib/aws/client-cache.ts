/**
 * What every AWS SDK client of this project shares, whatever its service: the retry budget, the
 * emulator credentials and the per-container client cache. Kept free of SDK imports, so that a
 * Lambda bundle loads only the SDK clients its function uses (lib/aws/dynamodb-client.ts,
 * s3-client.ts, lambda-client.ts): each one costs tens of milliseconds of cold start to load.
 */

/** Credentials sent to the local emulators. s3rver only accepts keys it knows: scripts/emulators registers these. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Three attempts with the SDK's jittered backoff: enough to ride over a dropped keep-alive socket,
 * few enough that an outage surfaces as a 503 within seconds instead of at the Lambda timeout.
 */
export const AWS_MAX_ATTEMPTS = 3;

/** Where and how to reach one AWS service. */
export interface AwsClientOptions {
  readonly region: string;
  /** An emulator URL; unset in AWS. */
  readonly endpoint?: string | undefined;
}

/** The endpoint and dummy credentials for an emulator; nothing in AWS (default endpoint and credential chain). */
export function endpointSettings(endpoint: string | undefined) {
  return endpoint ? { endpoint, credentials: LOCAL_CREDENTIALS } : {};
}

type Destroyable = { destroy(): void };
const cache = new Map<string, Destroyable>();

/**
 * The client of `kind` for `options`, created by `create` on first use and reused afterwards
 * (sockets and credentials are cached inside each client). Keyed by region and endpoint, so tests
 * that point at different emulators get different clients.
 */
export function cachedClient<T extends Destroyable>(
  kind: string,
  options: AwsClientOptions,
  create: () => T,
): T {
  const key = `${kind}|${options.region}|${options.endpoint ?? ''}`;
  const existing = cache.get(key);
  if (existing) return existing as T;
  const client = create();
  cache.set(key, client);
  return client;
}

/**
 * Test hook: destroys every cached client (closing its keep-alive sockets) and forgets it, so the
 * next call builds a fresh one from the then-current configuration.
 */
export function resetAwsClients(): void {
  for (const client of cache.values()) client.destroy();
  cache.clear();
}
