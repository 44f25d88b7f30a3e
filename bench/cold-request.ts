import { pathToFileURL } from 'node:url';
import type { Document } from 'mongodb';
import { httpEvent, lambdaContext } from '../test/http/request-events.js';
import { type MongoWireDouble, startMongoWireDouble } from '../test/support/mongo-wire-double.js';
import { type BuiltBundle, runBundleChild } from './bundles.js';
import { RESULT_MARKER } from './child-process.js';
import { median } from './targets.js';

/** The function whose cold request is measured: the account summary route, which reads MongoDB. */
export const COLD_REQUEST_FUNCTION = 'get-account-actions';

/**
 * What one fresh process saw: `import` of the bundle, then (given an event) a first and a second
 * invocation of its handler. `driverAtInit` / `driverAfterRequest`: whether the MongoDB driver had
 * been evaluated. It loads Node's `dns` module when its code runs, and nothing else in a bundle or
 * the AWS SDK loads `dns` at initialisation (test/serverless/cold-start.test.ts checks both ways).
 */
export interface ColdRequestProbe {
  readonly initMs: number;
  readonly driverAtInit: boolean;
  readonly firstRequestMs: number | null;
  readonly warmRequestMs: number | null;
  /** The first invocation's `statusCode`; null for a handler that returns none (the workers). */
  readonly status: number | null;
  readonly driverAfterRequest: boolean;
}

/** argv: the bundle's file URL, then optionally an event, a Lambda context and its remaining ms. */
const PROBE_SCRIPT = `
const driverEvaluated = () => process.moduleLoadList.includes('NativeModule dns');
const [bundle, event, context, remainingMs] = process.argv.slice(1);
const started = performance.now();
const { handler } = await import(bundle);
const initMs = performance.now() - started;
const driverAtInit = driverEvaluated();
let firstRequestMs = null, warmRequestMs = null, status = null;
if (event !== undefined) {
  const deadline = Date.now() + Number(remainingMs);
  const ctx = { ...JSON.parse(context), getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  const first = performance.now();
  status = (await handler(JSON.parse(event), ctx))?.statusCode ?? null;
  firstRequestMs = performance.now() - first;
  const warm = performance.now();
  await handler(JSON.parse(event), ctx);
  warmRequestMs = performance.now() - warm;
}
const result = { initMs, driverAtInit, firstRequestMs, warmRequestMs, status, driverAfterRequest: driverEvaluated() };
process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(result) + '\\n');
process.exit(0);`;

/** What to invoke the handler with (twice), and environment added to the deployed one. */
export interface ProbeRequest {
  readonly event: unknown;
  readonly env: NodeJS.ProcessEnv;
  /** `context.getRemainingTimeInMillis()` at the first invocation (default 10 s). */
  readonly remainingMs?: number;
}

/**
 * Imports `bundle` in a fresh plain Node process, as deployed (`--enable-source-maps`, the deployed
 * environment) and, given a request, invokes its handler twice.
 */
export function probeBundle(bundle: BuiltBundle, request?: ProbeRequest): Promise<ColdRequestProbe> {
  const args =
    request === undefined
      ? []
      : [
          JSON.stringify(request.event),
          JSON.stringify(lambdaContext()),
          String(request.remainingMs ?? 10_000),
        ];
  return runBundleChild<ColdRequestProbe>(bundle, PROBE_SCRIPT, [pathToFileURL(bundle.file).href, ...args], {
    nodeFlags: ['--enable-source-maps'],
    ...(request === undefined ? {} : { env: request.env }),
  });
}

const ACCOUNT = '7800000000001';

/** A MongoDB wire-protocol double serving one account (and `extra` collections). */
export function startColdRequestDouble(
  extra: Readonly<Record<string, Document[]>> = {},
): Promise<MongoWireDouble> {
  return startMongoWireDouble({
    collections: { Account: [{ number: ACCOUNT, name: 'bench', sessions: [] }], ...extra },
  });
}

/** `GET /accounts/{number}/actions` for that account, as API Gateway sends it. */
export function accountActionsEvent(): unknown {
  return httpEvent({ routeKey: 'GET /accounts/{number}/actions', pathParameters: { number: ACCOUNT } });
}

/** Medians over fresh processes of a cold request to {@link COLD_REQUEST_FUNCTION}. */
export interface ColdRequestMeasurement {
  readonly runs: number;
  readonly initMedianMs: number;
  readonly firstRequestMedianMs: number;
  /** Median of init + first request per process: the latency a cold container adds. */
  readonly coldMedianMs: number;
  readonly warmRequestMedianMs: number;
  readonly statuses: readonly number[];
  /** Whether the driver was evaluated during initialisation (in any run). */
  readonly driverAtInit: boolean;
}

/**
 * A cold request, `runs` times: a fresh process imports the bundle and serves the first request,
 * which opens the MongoDB connection (to a wire-protocol double on 127.0.0.1: no network latency,
 * so the figures are the time the function spends); then a warm request.
 */
export async function measureColdRequest(bundle: BuiltBundle, runs: number): Promise<ColdRequestMeasurement> {
  const double = await startColdRequestDouble();
  try {
    const probes: ColdRequestProbe[] = [];
    for (let run = 0; run < runs; run++) {
      const env = { MONGODB_URI: double.uri('billing'), POWERTOOLS_LOG_LEVEL: 'ERROR' };
      probes.push(await probeBundle(bundle, { event: accountActionsEvent(), env }));
    }
    const first = probes.map((p) => p.firstRequestMs ?? Number.NaN);
    return {
      runs,
      initMedianMs: median(probes.map((p) => p.initMs)),
      firstRequestMedianMs: median(first),
      coldMedianMs: median(probes.map((p, i) => p.initMs + (first[i] as number))),
      warmRequestMedianMs: median(probes.map((p) => p.warmRequestMs ?? Number.NaN)),
      statuses: [...new Set(probes.map((p) => p.status ?? 0))],
      driverAtInit: probes.some((p) => p.driverAtInit),
    };
  } finally {
    await double.close();
  }
}
