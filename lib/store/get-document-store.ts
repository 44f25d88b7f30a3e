import { type Config, config } from '../config.js';
import { ServiceUnavailableError } from '../errors.js';
import { cacheUntilRejected } from './cache-until-rejected.js';
import type { DocumentStore } from './document-store.js';
import { EmbeddedDocumentStore } from './embedded-store.js';

/** Store promises by configuration: one per container in production, where the config is fixed. */
const stores = new Map<string, Promise<DocumentStore>>();
/** URIs read from SSM, by parameter name: fetched once per cold start. */
const urisFromParameters = new Map<string, Promise<string>>();

async function readUriParameter(name: string): Promise<string> {
  let value: unknown;
  try {
    // Loaded on demand: local runs and the embedded store never pay for the SSM client.
    const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
    value = await getParameter(name, { decrypt: true });
  } catch (error) {
    throw new ServiceUnavailableError(`cannot read the MongoDB URI from SSM parameter ${name}`, 5, {
      cause: error,
    });
  }
  if (typeof value !== 'string' || value === '') {
    throw new ServiceUnavailableError(`SSM parameter ${name} holds no MongoDB URI`);
  }
  return value;
}

function mongoUri(cfg: Config): Promise<string> {
  if (cfg.MONGODB_URI) return Promise.resolve(cfg.MONGODB_URI);
  const name = cfg.MONGODB_URI_PARAMETER ?? '';
  return cacheUntilRejected(urisFromParameters, name, () => readUriParameter(name));
}

async function openMongoStore(cfg: Config): Promise<DocumentStore> {
  const uri = await mongoUri(cfg);
  // The driver (about half of a function bundle) is evaluated here, when a store is first opened,
  // not at cold start: see docs/decisions.md, "Cold starts".
  const { connectMongoStore } = await import('./connect-mongo.js');
  return connectMongoStore({
    uri,
    db: cfg.MONGODB_DB,
    serverSelectionTimeoutMS: cfg.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
  });
}

function usesMongo(cfg: Config): boolean {
  return Boolean(cfg.MONGODB_URI || cfg.MONGODB_URI_PARAMETER);
}

function storeKey(cfg: Config): string {
  if (!usesMongo(cfg)) return JSON.stringify(['embedded', cfg.DATA_DIR]);
  return JSON.stringify([
    'mongodb',
    cfg.MONGODB_URI ?? `ssm:${cfg.MONGODB_URI_PARAMETER}`,
    cfg.MONGODB_DB,
    cfg.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
  ]);
}

/**
 * The document store for this container: MongoDB when `MONGODB_URI` is set (or, failing that,
 * `MONGODB_URI_PARAMETER` names an SSM SecureString holding it), otherwise the embedded store on
 * `DATA_DIR`. Created once and reused by every invocation; do not `close()` it in a handler.
 *
 * An unreachable MongoDB rejects with `ServiceUnavailableError` within about
 * `MONGODB_SERVER_SELECTION_TIMEOUT_MS`; a failed attempt is not cached, so the next call
 * connects afresh.
 *
 * @example
 * ```ts
 * const store = await getDocumentStore();
 * const actions = await getAccountActions(store, number);
 * ```
 */
export function getDocumentStore(cfg: Config = config()): Promise<DocumentStore> {
  return cacheUntilRejected(stores, storeKey(cfg), async () =>
    usesMongo(cfg) ? openMongoStore(cfg) : new EmbeddedDocumentStore({ dataDir: cfg.DATA_DIR }),
  );
}

/** Test hook: closes every cached store and forgets cached URIs, as a new cold start would. */
export async function resetDocumentStore(): Promise<void> {
  const pending = [...stores.values()];
  stores.clear();
  urisFromParameters.clear();
  await Promise.all(
    pending.map(async (store) => {
      try {
        await (await store).close();
      } catch {
        // A store that never connected has nothing to close.
      }
    }),
  );
}
