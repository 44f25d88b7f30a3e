import { describe, expect, it } from 'vitest';
import { dynamoDocumentClient, s3Client } from '../../lib/aws/clients.js';
import { loadConfig } from '../../lib/config.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { newRunId, RunLedger } from '../../lib/runs/ledger.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { closedEndpoint, useEmulators } from '../support/emulators.js';

async function timed<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - started };
}

const MiB = 1024 * 1024;

describe('AWS faults', () => {
  const local = useEmulators();

  describe('DynamoDB unavailable', () => {
    it('fails a ledger call with ServiceUnavailableError (with Retry-After) within 3 s', async () => {
      const cfg = loadConfig({ DYNAMODB_ENDPOINT: await closedEndpoint() });
      const ledger = new RunLedger(dynamoDocumentClient(cfg), 'matching-runs');

      const { error, ms } = await timed(
        ledger.create({ runId: newRunId(), policy: 'chronological', trigger: 'http' }),
      );

      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect((error as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
      expect((error as ServiceUnavailableError).message).toMatch(/DynamoDB is unavailable \(ECONNREFUSED\)/);
      expect(ms).toBeLessThan(3000);
    });

    it('answers 503-style while the emulator is down and recovers with its data once it is back', async () => {
      const { emulators, cfg } = local();
      const ledger = new RunLedger(dynamoDocumentClient(cfg), emulators.tables.runs);
      const { run } = await ledger.create({ runId: newRunId(), policy: 'chronological', trigger: 'event' });

      await emulators.dynamodb.down();
      try {
        const { error, ms } = await timed(ledger.markRunning(run.runId));
        expect(error).toBeInstanceOf(ServiceUnavailableError);
        expect(ms).toBeLessThan(3000);
      } finally {
        await emulators.dynamodb.up();
      }

      expect(await ledger.get(run.runId)).toEqual(run);
      expect(await ledger.markRunning(run.runId)).toMatchObject({ status: 'running', attempts: 1 });
    });
  });

  describe('S3 unavailable', () => {
    it('fails a call with ServiceUnavailableError within 3 s', async () => {
      const cfg = loadConfig({ S3_ENDPOINT: await closedEndpoint() });
      const { error, ms } = await timed(new ResultsBucket(s3Client(cfg), 'matching-results').exists('any'));

      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect((error as ServiceUnavailableError).message).toMatch(/^S3 is unavailable/);
      expect(ms).toBeLessThan(3000);
    });

    it('fails an upload cut off mid-stream with a typed error, leaves no object, and a retry succeeds', async () => {
      const { emulators, cfg } = local();
      const bucket = new ResultsBucket(s3Client(cfg), emulators.bucket);
      const key = `matching-runs/${newRunId()}/result.json`;
      const chunk = 'y'.repeat(64 * 1024);
      const chunksPerMiB = MiB / chunk.length;

      // S3 goes away after the first 5 MiB part has been handed over, while the source still yields.
      async function* outputCutOffMidway(): AsyncIterable<string> {
        for (let i = 0; i < 12 * chunksPerMiB; i++) {
          if (i === 6 * chunksPerMiB) await emulators.s3.down();
          yield chunk;
        }
      }

      try {
        const { error, ms } = await timed(bucket.upload(key, outputCutOffMidway(), 'application/json'));
        expect(error).toBeInstanceOf(ServiceUnavailableError);
        expect((error as Error).message).toMatch(/^S3 is unavailable \(E[A-Z]+\)$/);
        expect(ms).toBeLessThan(10_000);
      } finally {
        await emulators.s3.up();
      }
      expect(await bucket.exists(key)).toBe(false);

      await bucket.upload(
        key,
        Array.from({ length: 12 * chunksPerMiB }, () => chunk),
        'application/json',
      );
      expect(await bucket.exists(key)).toBe(true);
    });
  });
});
