import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { s3Client } from '../../lib/aws/clients.js';
import {
  type ConcatPiece,
  MAX_COPY_PART_BYTES,
  MIN_PART_BYTES,
  type PlannedPart,
  planConcat,
} from '../../lib/runs/concat.js';
import { ResultsBucket } from '../../lib/runs/results-bucket.js';
import { useEmulators } from '../support/emulators.js';

const MiB = 1024 * 1024;

/** One part request as the SDK client sent it: which operation, its number, its size in bytes. */
interface SentPart {
  readonly command: 'UploadPart' | 'UploadPartCopy';
  readonly partNumber: number;
  readonly size: number;
}

/**
 * Records the parts a client sends (UploadPart: its body's length; UploadPartCopy: its source
 * range's length) and every command's name, so tests see S3's part-size rule kept even though the
 * emulator does not enforce it.
 */
function recordParts(client: S3Client): { parts: SentPart[]; commands: string[] } {
  const parts: SentPart[] = [];
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { PartNumber?: number; Body?: Uint8Array; CopySourceRange?: string };
      commands.push(context.commandName ?? '');
      if (context.commandName === 'UploadPartCommand') {
        parts.push({
          command: 'UploadPart',
          partNumber: input.PartNumber ?? 0,
          size: input.Body?.length ?? -1,
        });
      } else if (context.commandName === 'UploadPartCopyCommand') {
        const [, first, last] = /^bytes=(\d+)-(\d+)$/.exec(input.CopySourceRange ?? '') ?? [];
        parts.push({
          command: 'UploadPartCopy',
          partNumber: input.PartNumber ?? 0,
          size: Number(last) - Number(first) + 1,
        });
      }
      return next(args);
    },
    { step: 'initialize', name: `recordParts${Math.random()}` },
  );
  return { parts, commands };
}

/** Every part but the last at least 5 MiB, copies at most 5 GiB: S3's rules. */
function expectS3PartRules(sizes: readonly number[]): void {
  for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(MIN_PART_BYTES);
}

/** A piece or a part segment as a run of source bytes: literals by identity, ranges by key. */
type Run = readonly [source: unknown, start: number, end: number];

function runsOf(segments: ReadonlyArray<ConcatPiece | { bytes: Uint8Array }>): Run[] {
  const runs: Run[] = [];
  for (const segment of segments) {
    const run: Run =
      'bytes' in segment
        ? [segment.bytes, 0, segment.bytes.length]
        : [segment.key, segment.start, segment.end];
    if (run[2] === run[1]) continue;
    const last = runs.at(-1);
    // Adjacent runs of the same source are one (a range split into a top-up and a copy).
    if (last !== undefined && last[0] === run[0] && last[2] === run[1])
      runs[runs.length - 1] = [last[0], last[1], run[2]];
    else runs.push(run);
  }
  return runs;
}

function partRuns(parts: readonly PlannedPart[]): Run[] {
  return runsOf(parts.flatMap((part) => (part.kind === 'copy' ? [part.source] : part.segments)));
}

describe('planConcat', () => {
  const piece = fc.oneof(
    fc.nat({ max: 3000 }).map((length): ConcatPiece => ({ bytes: new Uint8Array(length) })),
    fc
      .record({
        key: fc.constantFrom('a', 'b', 'c'),
        start: fc.nat({ max: 20 * MiB }),
        length: fc.oneof(
          fc.nat({ max: 64 * 1024 }),
          fc.integer({ min: MIN_PART_BYTES - 4096, max: 3 * MIN_PART_BYTES }),
          fc.integer({ min: MAX_COPY_PART_BYTES - MiB, max: 3 * MAX_COPY_PART_BYTES }),
        ),
      })
      .map(({ key, start, length }): ConcatPiece => ({ key, start, end: start + length })),
  );

  it('covers the pieces in order, every part but the last ≥ 5 MiB, copies of 5 MiB..5 GiB', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const parts = planConcat(pieces);
        expect(partRuns(parts)).toEqual(runsOf(pieces));
        expectS3PartRules(parts.map((part) => part.size));
        for (const part of parts) {
          const size = part.kind === 'copy' ? part.source.end - part.source.start : part.size;
          expect(size).toBe(part.size);
          if (part.kind === 'copy') {
            expect(part.size).toBeGreaterThanOrEqual(MIN_PART_BYTES);
            expect(part.size).toBeLessThanOrEqual(MAX_COPY_PART_BYTES);
          } else {
            // Only small pieces and top-ups are held: never two large parts' worth.
            expect(part.size).toBeLessThan(2 * MIN_PART_BYTES + 3000);
            const held = part.segments.reduce(
              (sum, segment) =>
                sum + ('bytes' in segment ? segment.bytes.length : segment.end - segment.start),
              0,
            );
            expect(held).toBe(part.size);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('copies a large range after a small header from its head on: one top-up of 5 MiB, then a copy', () => {
    const parts = planConcat([{ bytes: 'id,amount\n' }, { key: 'a', start: 10, end: 10 + 12 * MiB }]);
    expect(parts.map((part) => [part.kind, part.size])).toEqual([
      ['upload', MIN_PART_BYTES],
      ['copy', 12 * MiB - (MIN_PART_BYTES - 10)],
    ]);
  });

  it('refuses a range that ends before it starts', () => {
    expect(() => planConcat([{ key: 'a', start: 5, end: 4 }])).toThrow(RangeError);
  });
});

describe('ResultsBucket.concat and the emulator’s part copies (against the S3 emulator)', () => {
  const local = useEmulators();
  const recorded = () => {
    const client = s3Client(local().cfg);
    return { client, ...recordParts(client), bucket: new ResultsBucket(client, local().emulators.bucket) };
  };

  async function put(client: S3Client, key: string, body: Uint8Array): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket: local().emulators.bucket, Key: key, Body: body }));
  }

  async function get(client: S3Client, key: string): Promise<Buffer | undefined> {
    try {
      const { Body } = await client.send(
        new GetObjectCommand({ Bucket: local().emulators.bucket, Key: key }),
      );
      return Buffer.from((await Body?.transformToByteArray()) ?? []);
    } catch {
      return undefined;
    }
  }

  it('the patched emulator copies a part from a source range (UploadPartCopy through the SDK)', async () => {
    const { client } = recorded();
    const Bucket = local().emulators.bucket;
    const source = randomBytes(6 * MiB + 123);
    await put(client, 'concat/part-copy-source', source);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'concat/part-copy-result' }),
    );
    const first = await client.send(
      new UploadPartCopyCommand({
        Bucket,
        Key: 'concat/part-copy-result',
        UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/concat/part-copy-source`,
        CopySourceRange: `bytes=100-${100 + MIN_PART_BYTES - 1}`,
      }),
    );
    expect(first.CopyPartResult?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    const second = await client.send(
      new UploadPartCommand({
        Bucket,
        Key: 'concat/part-copy-result',
        UploadId,
        PartNumber: 2,
        Body: 'tail',
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'concat/part-copy-result',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.CopyPartResult?.ETag },
            { PartNumber: 2, ETag: second.ETag },
          ],
        },
      }),
    );
    const written = await get(client, 'concat/part-copy-result');
    expect(
      written?.equals(Buffer.concat([source.subarray(100, 100 + MIN_PART_BYTES), Buffer.from('tail')])),
    ).toBe(true);

    // A range past the source's end is refused, as S3 does.
    const { UploadId: refused } = await client.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'concat/part-copy-refused' }),
    );
    await expect(
      client.send(
        new UploadPartCopyCommand({
          Bucket,
          Key: 'concat/part-copy-refused',
          UploadId: refused,
          PartNumber: 1,
          CopySource: `${Bucket}/concat/part-copy-source`,
          CopySourceRange: `bytes=0-${source.length}`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidArgument' });
    // Aborting deletes the upload: it can no longer be completed, nor aborted again.
    await client.send(
      new AbortMultipartUploadCommand({ Bucket, Key: 'concat/part-copy-refused', UploadId: refused }),
    );
    await expect(
      client.send(
        new AbortMultipartUploadCommand({ Bucket, Key: 'concat/part-copy-refused', UploadId: refused }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('concatenates small pieces and ranges over 5 MiB byte for byte, copying the large ranges in S3', async () => {
    const { client, bucket, parts, commands } = recorded();
    const a = randomBytes(12 * MiB + 5);
    const b = randomBytes(100 * 1024);
    const c = randomBytes(12 * MiB + 17);
    await put(client, 'concat/a', a);
    await put(client, 'concat/b', b);
    await put(client, 'concat/c', c);
    const pieces: ConcatPiece[] = [
      { bytes: 'header\n' },
      { key: 'concat/a', start: 10, end: a.length },
      { key: 'concat/b', start: 5, end: b.length },
      { bytes: ',' },
      { key: 'concat/c', start: 0, end: c.length },
      { key: 'concat/b', start: 0, end: 50 },
      { key: 'concat/a', start: 0, end: 0 },
      { bytes: new Uint8Array([0xd0, 0x9f]) },
    ];
    const expected = Buffer.concat([
      Buffer.from('header\n'),
      a.subarray(10),
      b.subarray(5),
      Buffer.from(','),
      c,
      b.subarray(0, 50),
      Buffer.from([0xd0, 0x9f]),
    ]);
    const planned = await bucket.concat('concat/result', pieces, 'text/csv; charset=utf-8');

    expect((await get(client, 'concat/result'))?.equals(expected)).toBe(true);
    // Parts are sent a few at a time, so in any order: each number once.
    expect(parts.map((part) => part.partNumber).sort((x, y) => x - y)).toEqual(
      planned.map((_, index) => index + 1),
    );
    const sizes = [...parts].sort((x, y) => x.partNumber - y.partNumber).map((part) => part.size);
    expect(sizes).toEqual(planned.map((part) => part.size));
    expectS3PartRules(sizes);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(expected.length);
    expect(parts.filter((part) => part.command === 'UploadPartCopy').length).toBeGreaterThanOrEqual(2);
    // Through this process: the small pieces and the 5 MiB top-ups, not the 24 MiB of the large ranges.
    const uploaded = parts
      .filter((part) => part.command === 'UploadPart')
      .reduce((sum, part) => sum + part.size, 0);
    expect(uploaded).toBeLessThan(expected.length / 2);
    expect(commands).toContain('CompleteMultipartUploadCommand');
    expect(commands).not.toContain('AbortMultipartUploadCommand');
  });

  it('writes a small or empty result with one PutObject', async () => {
    const { client, bucket, commands } = recorded();
    await put(client, 'concat/small', Buffer.from('0123456789'));
    await bucket.concat('concat/empty', [], 'application/json');
    await bucket.concat(
      'concat/short',
      [{ bytes: '[' }, { key: 'concat/small', start: 2, end: 6 }, { bytes: ']' }],
      'application/json',
    );
    expect((await get(client, 'concat/empty'))?.length).toBe(0);
    expect((await get(client, 'concat/short'))?.toString()).toBe('[2345]');
    expect(commands.filter((name) => name !== 'GetObjectCommand' && name !== 'PutObjectCommand')).toEqual([]);
  });

  it('aborts the multipart upload and leaves no object when a piece cannot be read', async () => {
    const { client, bucket, commands } = recorded();
    await put(client, 'concat/present', randomBytes(6 * MiB));
    const pieces: ConcatPiece[] = [
      { key: 'concat/present', start: 0, end: 6 * MiB },
      { bytes: 'x' },
      { key: 'concat/missing', start: 0, end: 6 * MiB },
    ];
    await expect(bucket.concat('concat/failed', pieces, 'text/plain')).rejects.toThrow();
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    expect(await get(client, 'concat/failed')).toBeUndefined();
  });
});
