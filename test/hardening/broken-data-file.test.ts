import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../lib/config.js';
import type { HttpLambdaHandler } from '../../lib/http/http-handler.js';
import { newRunId } from '../../lib/runs/run-id.js';
import { resetDocumentStore } from '../../lib/store/get-document-store.js';
import { captureOutput, httpEvent, lambdaContext, structured } from '../http/request-events.js';

/**
 * The embedded store's data file is broken (local runs): that is the server's fault, not the
 * request's. The handler of `GET /accounts/{number}/actions`, loaded once as a container would,
 * answers a generic 500 naming only the request id, logs the file and line for the operator, and
 * reads the file again once it is fixed.
 */

const NUMBER = '7800000000001';
let dir: string;
let file: string;
let handler: HttpLambdaHandler;

async function getActions() {
  return captureOutput(async () =>
    structured(
      await handler(
        httpEvent({ routeKey: 'GET /accounts/{number}/actions', pathParameters: { number: NUMBER } }),
        lambdaContext(`req-${newRunId()}`),
      ),
    ),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'broken-data-'));
  file = path.join(dir, 'Account.ndjson');
  await writeFile(file, `{"number": "${NUMBER}", "sessions": []}\n{"number": oops}\n`);
  process.env.DATA_DIR = dir;
  resetConfig();
  ({ handler } = await import('../../functions/get-account-actions.js'));
});

afterAll(async () => {
  await resetDocumentStore();
  delete process.env.DATA_DIR;
  resetConfig();
  await rm(dir, { recursive: true, force: true });
});

describe('an HTTP handler whose embedded data file is broken', () => {
  it('answers a generic 500 without the server path, and logs the file and line', async () => {
    const { result, output } = await getActions();
    expect(result.statusCode).toBe(500);
    expect(result.headers?.['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(result.body)).toMatchObject({ status: 500, title: 'Internal server error' });
    expect(result.body).not.toContain(dir);
    expect(result.body).not.toContain('ndjson');
    expect(output).toContain(`${file} line 2`);
  });

  it('reads the file again once it is fixed', async () => {
    await writeFile(file, `{"number": "${NUMBER}", "sessions": []}\n`);
    const { result } = await getActions();
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ number: NUMBER });
  });
});
