import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3Client } from '../../lib/aws/clients.js';
import { ValidationError } from '../../lib/errors.js';
import {
  MAX_PRESIGN_TTL_SECONDS,
  ResultsBucket,
  runOutputKeys,
  UPLOAD_PART_SIZE,
} from '../../lib/runs/results-bucket.js';
import { newRunId } from '../../lib/runs/run-id.js';
import { useEmulators } from '../support/emulators.js';

/** Records the S3 operations a client sends, with their request headers. */
function recordRequests(client: S3Client): Array<{ command: string; headers: Record<string, string> }> {
  const seen: Array<{ command: string; headers: Record<string, string> }> = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      seen.push({ command: context.commandName ?? '', headers: { ...request.headers } });
      return next(args);
    },
    { step: 'finalizeRequest', name: `recordRequests${Math.random()}` },
  );
  return seen;
}

async function* slowly(chunks: readonly string[]): AsyncIterable<string> {
  for (const chunk of chunks) {
    await Promise.resolve();
    yield chunk;
  }
}

async function* slowlyMixed(chunks: ReadonlyArray<string | Uint8Array>): AsyncIterable<string | Uint8Array> {
  for (const chunk of chunks) {
    await Promise.resolve();
    yield chunk;
  }
}

async function readObject(client: S3Client, bucket: string, key: string): Promise<string> {
  const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await Body?.transformToString('utf8')) ?? '';
}

describe('ResultsBucket (against the S3 emulator)', () => {
  const local = useEmulators();
  const client = () => s3Client(local().cfg);
  const bucket = () => new ResultsBucket(client(), local().emulators.bucket);
  const key = (name: string) => `test/${newRunId()}/${name}`;

  describe('upload', () => {
    it('streams an object larger than one part as a multipart upload and reads back byte-identical', async () => {
      // Multi-byte characters make sure part boundaries may fall inside a character.
      const line = 'payment;начисление;2024-05;€\n';
      const chunks = Array.from({ length: 5000 }, (_, i) => `${i};${line.repeat(60)}`);
      const expected = chunks.join('');
      expect(Buffer.byteLength(expected)).toBeGreaterThan(2 * UPLOAD_PART_SIZE);

      const target = key('big.csv');
      const s3 = client();
      const requests = recordRequests(s3);
      await new ResultsBucket(s3, local().emulators.bucket).upload(
        target,
        slowly(chunks),
        'text/csv; charset=utf-8',
      );

      expect(requests.filter((r) => r.command === 'UploadPartCommand').length).toBeGreaterThanOrEqual(3);
      expect(requests.some((r) => r.command === 'CompleteMultipartUploadCommand')).toBe(true);
      const create = requests.find((r) => r.command === 'CreateMultipartUploadCommand');
      expect(create?.headers['x-amz-server-side-encryption']).toBe('AES256');

      expect(await readObject(s3, local().emulators.bucket, target)).toBe(expected);
      const head = await s3.send(new HeadObjectCommand({ Bucket: local().emulators.bucket, Key: target }));
      expect(head.ContentType).toBe('text/csv; charset=utf-8');
    });

    it('writes a small output from a plain iterable with a single encrypted PUT', async () => {
      const target = key('result.json');
      const s3 = client();
      const requests = recordRequests(s3);
      await new ResultsBucket(s3, local().emulators.bucket).upload(
        target,
        ['{"a":', '1}'],
        'application/json',
      );

      const put = requests.find((r) => r.command === 'PutObjectCommand');
      expect(put?.headers['x-amz-server-side-encryption']).toBe('AES256');
      expect(await readObject(s3, local().emulators.bucket, target)).toBe('{"a":1}');
    });

    it('writes binary chunks as they are, mixed with text chunks written as UTF-8', async () => {
      // Every byte value, in chunks that are not valid UTF-8 on their own, across part boundaries.
      const bytes = Buffer.alloc(UPLOAD_PART_SIZE + 300_001);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
      const chunks: Array<string | Uint8Array> = ['начало'];
      for (let at = 0; at < bytes.length; at += 65_537)
        chunks.push(new Uint8Array(bytes.subarray(at, at + 65_537)));
      chunks.push('€');
      const target = key('result.xlsx');
      await bucket().upload(target, slowlyMixed(chunks), 'application/octet-stream');
      const { Body } = await client().send(
        new GetObjectCommand({ Bucket: local().emulators.bucket, Key: target }),
      );
      const read = Buffer.from((await Body?.transformToByteArray()) ?? []);
      expect(read.equals(Buffer.concat([Buffer.from('начало'), bytes, Buffer.from('€')]))).toBe(true);
    });

    it('writes an empty object from no chunks', async () => {
      const target = key('empty.csv');
      await bucket().upload(target, [], 'text/csv');
      expect(await readObject(client(), local().emulators.bucket, target)).toBe('');
    });

    it('rethrows an error from the chunk source unchanged and leaves no object behind', async () => {
      const target = key('broken.csv');
      const cause = new Error('matcher exploded');
      async function* failing(): AsyncIterable<string> {
        for (let i = 0; i < 200; i++) yield 'x'.repeat(64 * 1024);
        throw cause;
      }

      await expect(bucket().upload(target, failing(), 'text/csv')).rejects.toBe(cause);
      expect(await bucket().exists(target)).toBe(false);
    });
  });

  describe('presign', () => {
    it('gives a URL that downloads the object and expires after the requested lifetime', async () => {
      const target = key('matches.csv');
      await bucket().upload(target, ['a,b\n', '1,2\n'], 'text/csv');

      const url = new URL(await bucket().presign(target, 120));
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBe(120);
      expect(url.pathname).toBe(`/${local().emulators.bucket}/${target}`);

      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('a,b\n1,2\n');
    });

    it(`accepts the maximum lifetime of ${MAX_PRESIGN_TTL_SECONDS} s`, async () => {
      const url = new URL(await bucket().presign(key('x'), MAX_PRESIGN_TTL_SECONDS));
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBe(MAX_PRESIGN_TTL_SECONDS);
    });

    it.each([0, -1, 1.5, MAX_PRESIGN_TTL_SECONDS + 1, 86_400])('refuses a lifetime of %d s', async (ttl) => {
      await expect(bucket().presign(key('x'), ttl)).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe('readRange', () => {
    it('reads byte ranges with one ranged GET each: inside, at the ends, past the end', async () => {
      const target = key('partitions.jsonl');
      // Multi-byte characters: ranges count bytes, not characters.
      const text = Array.from({ length: 2000 }, (_, i) => `{"partition":"лс-${i}"}\n`).join('');
      const bytes = Buffer.from(text);
      await bucket().upload(target, [text], 'application/x-ndjson');
      const s3 = client();
      const requests = recordRequests(s3);
      const ranged = new ResultsBucket(s3, local().emulators.bucket);
      for (const [start, length] of [
        [0, 1],
        [0, 64 * 1024],
        [5, 17],
        [bytes.byteLength - 10, 10],
        [bytes.byteLength - 10, 1000],
        [1234, bytes.byteLength - 1234],
      ] as const) {
        expect(await ranged.readRange(target, start, length), `${start}+${length}`).toEqual(
          bytes.subarray(start, start + length),
        );
      }
      const gets = requests.filter((r) => r.command === 'GetObjectCommand');
      expect(gets).toHaveLength(6);
      expect(gets[2]?.headers.range).toBe('bytes=5-21');
    });

    it('reads a range of a multipart object across its part boundary', async () => {
      const target = key('big.jsonl');
      const chunks = Array.from(
        { length: 3000 },
        (_, i) => `${String(i).padStart(6, '0')};${'ж'.repeat(1200)}\n`,
      );
      const bytes = Buffer.from(chunks.join(''));
      expect(bytes.byteLength).toBeGreaterThan(UPLOAD_PART_SIZE);
      await bucket().upload(target, chunks, 'application/x-ndjson');
      const start = UPLOAD_PART_SIZE - 1000;
      expect(await bucket().readRange(target, start, 3000)).toEqual(bytes.subarray(start, start + 3000));
    });

    it('gives undefined when there is no object', async () => {
      expect(await bucket().readRange(key('never-written.jsonl'), 0, 100)).toBeUndefined();
    });

    it.each([
      [-1, 10],
      [0, 0],
      [1.5, 10],
    ])('refuses %d bytes from %d', async (start, length) => {
      await expect(bucket().readRange(key('x'), start, length)).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe('exists and remove', () => {
    it('reports an object until it is removed', async () => {
      const keys = [key('a.csv'), key('b.csv')];
      for (const k of keys) await bucket().upload(k, ['data'], 'text/csv');
      expect(await Promise.all(keys.map((k) => bucket().exists(k)))).toEqual([true, true]);

      await bucket().remove(keys);
      expect(await Promise.all(keys.map((k) => bucket().exists(k)))).toEqual([false, false]);
    });

    it('treats removing missing keys, or no keys, as done', async () => {
      await expect(bucket().remove([key('never-written.csv')])).resolves.toBeUndefined();
      await expect(bucket().remove([])).resolves.toBeUndefined();
    });
  });

  describe('runOutputKeys', () => {
    it('places the five outputs under matching-runs/{runId}/', () => {
      const runId = newRunId();
      expect(runOutputKeys(runId)).toEqual({
        resultJson: `matching-runs/${runId}/result.json`,
        matchesCsv: `matching-runs/${runId}/matches.csv`,
        unmatchedPaymentsCsv: `matching-runs/${runId}/unmatched-payments.csv`,
        unpaidAccrualsCsv: `matching-runs/${runId}/unpaid-accruals.csv`,
        resultXlsx: `matching-runs/${runId}/result.xlsx`,
      });
    });

    it('adds the partition lookup outputs for a partitioned run, before result.json', () => {
      const runId = newRunId();
      const keys = runOutputKeys(runId, 'account');
      expect(keys).toMatchObject({
        partitionsJsonl: `matching-runs/${runId}/partitions.jsonl`,
        partitionIndex: `matching-runs/${runId}/partition-index.jsonl`,
      });
      expect(Object.keys(keys).at(-1)).toBe('resultJson');
    });

    it.each(['', '../other', 'a/b', `${newRunId()}/..`])('refuses %j as a run id', (runId) => {
      expect(() => runOutputKeys(runId)).toThrow(ValidationError);
    });
  });
});
