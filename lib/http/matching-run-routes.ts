import { config } from '../config.js';
import { RunDispatcher } from '../runs/dispatcher.js';
import { newRunId, RunLedger } from '../runs/ledger.js';
import { ResultsBucket } from '../runs/results-bucket.js';
import { MatchingRuns, runPath } from '../runs/service.js';
import { httpHandler } from './http-handler.js';
import { createMatchingRunRequest, getMatchingRunRequest } from './schemas.js';

let service: MatchingRuns | undefined;

/** The container's MatchingRuns service, built on first use from the configuration. */
export function matchingRuns(): MatchingRuns {
  service ??= new MatchingRuns({
    ledger: new RunLedger(),
    bucket: new ResultsBucket(),
    dispatcher: new RunDispatcher(),
    presignTtlSeconds: config().PRESIGNED_URL_TTL_SECONDS,
    newRunId: () => newRunId(),
  });
  return service;
}

/** `POST /matching-runs`: 202 with the run id, its URL and `Location`; same answer for a repeated Idempotency-Key. */
export const createMatchingRunHandler = httpHandler(createMatchingRunRequest, async ({ headers, body }) => {
  const started = await matchingRuns().start({
    ...body,
    ...(headers['idempotency-key'] === undefined ? {} : { idempotencyKey: headers['idempotency-key'] }),
  });
  return {
    status: 202,
    headers: { Location: runPath(started.runId) },
    body: { runId: started.runId, status: started.status, url: started.url },
  };
});

/** `GET /matching-runs/{runId}`: status, stats, error and outputs (presigned URLs once succeeded). */
export const getMatchingRunHandler = httpHandler(getMatchingRunRequest, async ({ path }) => ({
  status: 200,
  body: await matchingRuns().describe(path.runId),
}));
