import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { httpEvent, lambdaContext } from '../test/http/request-events.js';
import { startMongoWireDouble } from '../test/support/mongo-wire-double.js';
import { type BuiltBundle, lambdaEnvironment } from './bundles.js';
import { RESULT_MARKER, runChild } from './child-process.js';
import { median } from './stats.js';

/** The function whose cold request is measured: the account summary route, which reads MongoDB. */
export const COLD_REQUEST_FUNCTION = 'get-account-actions';

/**
 * What one fresh process saw: `import` of the bundle, then (when an event is given) the first and
 * a second invocation of its handler. `driverAtInit` / `driverAfterRequest` tell whether the
 * MongoDB driver had been evaluated: it loads Node's `dns` module (SRV records of `mongodb+srv://`
 * URIs) when its code runs, and nothing else in a bundle or the AWS SDK loads `dns` at
 * initialisation (test/serverless/cold-start.test.ts checks both).
 */
export interface ColdRequestProbe {
  readonly initMs: number;
  readonly driverAtInit: boolean;
  readonly firstRequestMs: number | null;
  readonly warmRequestMs: number | null;
  readonly status: number | null;
  readonly driverAfterRequest: boolean;
}

/** argv: the bundle's file URL, then optionally an event and a Lambda context as JSON. */
const PROBE_SCRIPT = [
  "const driverEvaluated = () => process.moduleLoadList.includes('NativeModule dns');",
  'const [bundle, event, context] = process.argv.slice(1);',
  'const started = performance.now();',
  'const { handler } = await import(bundle);',
  'const initMs = performance.now() - started;',
  'const driverAtInit = driverEvaluated();',
  'let firstRequestMs = null, warmRequestMs = null, status = null;',
  'if (event !== undefined) {',
  '  const ctx = { ...JSON.parse(context), getRemainingTimeInMillis: () => 10_000 };',
  '  const first = performance.now();',
  '  status = (await handler(JSON.parse(event), ctx)).statusCode;',
  '  firstRequestMs = performance.now() - first;',
  '  const warm = performance.now();',
  '  await handler(JSON.parse(event), ctx);',
  '  warmRequestMs = performance.now() - warm;',
  '}',
  'const result = { initMs, driverAtInit, firstRequestMs, warmRequestMs, status, driverAfterRequest: driverEvaluated() };',
  `process.stdout.write('\\n' + ${JSON.stringify(RESULT_MARKER)} + JSON.stringify(result) + '\\n');`,
  'process.exit(0);',
].join('\n');

/** A request for the probe: what to invoke the handler with, and extra environment for it. */
export interface ProbeRequest {
  readonly event: unknown;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Imports `bundle` in a fresh plain Node process (as deployed: `--enable-source-maps`, the deployed
 * environment) and, given a request, invokes its handler twice.
 */
export function probeBundle(bundle: BuiltBundle, request?: ProbeRequest): Promise<ColdRequestProbe> {
  const args = request === undefined ? [] : [JSON.stringify(request.event), JSON.stringify(lambdaContext())];
  return runChild<ColdRequestProbe>(
    ['--input-type=module', '-e', PROBE_SCRIPT, pathToFileURL(bundle.file).href, ...args],
    {
      typescript: false,
      nodeFlags: ['--enable-source-maps'],
      env: { ...lambdaEnvironment(bundle.name), ...request?.env },
      cwd: path.dirname(bundle.file),
      timeoutMs: 60_000,
    },
  );
}

/** An account the MongoDB double serves, and the request for its summary. */
export const COLD_REQUEST_ACCOUNT = '7800000000001';

export function accountActionsEvent(number: string = COLD_REQUEST_ACCOUNT): unknown {
  return httpEvent({ routeKey: 'GET /accounts/{number}/actions', pathParameters: { number } });
}

/** Medians over fresh processes of a cold request to {@link COLD_REQUEST_FUNCTION}. */
export interface ColdRequestMeasurement {
  readonly name: string;
  readonly runs: number;
  readonly initMedianMs: number;
  readonly firstRequestMedianMs: number;
  /** Median of init + first request per process: the latency a cold container adds. */
  readonly coldMedianMs: number;
  readonly warmRequestMedianMs: number;
  readonly statuses: readonly number[];
  readonly driverAtInit: boolean;
}

/**
 * A cold request, `runs` times: a fresh process imports the bundle and serves the first request,
 * which opens the MongoDB connection (to a wire-protocol double on 127.0.0.1: no network latency,
 * so the figures are the CPU the function spends) and evaluates the driver; then a warm request.
 */
export async function measureColdRequest(bundle: BuiltBundle, runs: number): Promise<ColdRequestMeasurement> {
  const double = await startMongoWireDouble({
    collections: { Account: [{ number: COLD_REQUEST_ACCOUNT, name: 'bench', sessions: [] }] },
  });
  try {
    const probes: ColdRequestProbe[] = [];
    for (let run = 0; run < runs; run++) {
      probes.push(
        await probeBundle(bundle, {
          event: accountActionsEvent(),
          env: { MONGODB_URI: double.uri('billing'), POWERTOOLS_LOG_LEVEL: 'ERROR' },
        }),
      );
    }
    const first = probes.map((p) => p.firstRequestMs ?? Number.NaN);
    return {
      name: bundle.name,
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
