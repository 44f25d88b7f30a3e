import { describe, expect, it, vi } from 'vitest';
import { dynamoDocumentClient } from '../../lib/aws/clients.js';
import { ServiceUnavailableError } from '../../lib/errors.js';
import { runMatchingJob } from '../../lib/runs/job.js';
import { RunLedger } from '../../lib/runs/ledger.js';
import { runOutputKeys } from '../../lib/runs/outputs.js';
import { useEmulators } from '../support/emulators.js';
import { completeOutputs, demoInputs, jobHarness } from '../support/job-harness.js';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

/**
 * The last ledger write of a run (`markSucceeded`) may commit while its answer is lost (a timeout
 * after the write, a connection reset), and DynamoDB may be unreachable right after it. Whatever
 * happens, a run the ledger calls `succeeded` keeps all three outputs, and outputs are deleted
 * only once the run is known not to be succeeded. Real DynamoDB and S3 emulators; only the
 * ledger's answers are tampered with.
 */

const { store } = demoInputs({ accounts: 10, accruals: 40, payments: 35, seed: 17 });

const outage = () => new ServiceUnavailableError('DynamoDB is unavailable (TimeoutError)');

/** A ledger whose `markSucceeded` and `get` answers can be lost, after or instead of the write. */
class LossyLedger extends RunLedger {
  /** `after`: the write lands, then the call fails; `instead`: it fails without writing; `retried`: the SDK sends it twice. */
  succeeded: 'after' | 'instead' | 'retried' | 'normal' = 'normal';
  /** From the failed `markSucceeded` on, `get` fails too (DynamoDB gone right after the lost answer). */
  goneAfterwards = false;
  #gone = false;

  override async markSucceeded(...args: Parameters<RunLedger['markSucceeded']>) {
    switch (this.succeeded) {
      case 'after':
        await super.markSucceeded(...args);
        throw outage();
      case 'instead':
        this.#gone = this.goneAfterwards;
        throw outage();
      case 'retried':
        await super.markSucceeded(...args);
        return super.markSucceeded(...args);
      case 'normal':
        return super.markSucceeded(...args);
    }
  }

  override async get(runId: string) {
    if (this.#gone) throw outage();
    return super.get(runId);
  }
}

describe('a lost answer to the success write (against the emulators)', () => {
  const local = useEmulators();
  const jobs = jobHarness(local, { store });
  const { bucket, outputsOf, queuedRun } = jobs;
  const ledger = () => new LossyLedger(dynamoDocumentClient(local().cfg), local().emulators.tables.runs);
  const allOutputs = completeOutputs;

  it('reports success and keeps the outputs when the write landed but its answer was lost', async () => {
    const runId = await queuedRun();
    const lossy = ledger();
    lossy.succeeded = 'after';

    const outcome = await runMatchingJob(runId, { store: store(), ledger: lossy, bucket: bucket() });

    expect(outcome).toMatchObject({ status: 'succeeded', runId });
    expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', outputs: runOutputKeys(runId) });
    expect(await outputsOf(runId)).toEqual(allOutputs(runId));
    const service = jobs.service({ ledger: ledger() });
    const url = (await service.describe(runId)).outputs?.resultJson.url;
    expect((await fetch(String(url))).status).toBe(200);
  });

  it('treats a retried success write that finds the run already succeeded as success', async () => {
    const runId = await queuedRun();
    const retrying = ledger();
    retrying.succeeded = 'retried';

    const outcome = await runMatchingJob(runId, { store: store(), ledger: retrying, bucket: bucket() });

    expect(outcome).toMatchObject({ status: 'succeeded', runId });
    expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await outputsOf(runId)).toEqual(allOutputs(runId));
  });

  it('fails the run and removes its outputs when the write did not land (the run is known not succeeded)', async () => {
    const runId = await queuedRun();
    const failing = ledger();
    failing.succeeded = 'instead';

    const outcome = await runMatchingJob(runId, { store: store(), ledger: failing, bucket: bucket() });

    expect(outcome).toMatchObject({
      status: 'failed',
      transient: true,
      reason: expect.stringMatching(/DynamoDB is unavailable/),
    });
    expect(await ledger().get(runId)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(await outputsOf(runId)).toEqual([]);
  });

  it('keeps the outputs and throws when the run cannot be read back, and the retry of that invocation finishes it', async () => {
    const runId = await queuedRun();
    const gone = ledger();
    gone.succeeded = 'instead';
    gone.goneAfterwards = true;

    await expect(
      runMatchingJob(runId, { store: store(), ledger: gone, bucket: bucket(), owner: 'request-1' }),
    ).rejects.toBeInstanceOf(ServiceUnavailableError);
    // Nothing may be deleted while the ledger might say succeeded.
    expect(await outputsOf(runId)).toEqual(allOutputs(runId));
    expect(await ledger().get(runId)).toMatchObject({ status: 'running', attempts: 1 });

    const retry = await runMatchingJob(runId, {
      store: store(),
      ledger: ledger(),
      bucket: bucket(),
      owner: 'request-1',
    });
    expect(retry).toMatchObject({ status: 'succeeded', runId });
    expect(await ledger().get(runId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await outputsOf(runId)).toEqual(allOutputs(runId));
  });
});
