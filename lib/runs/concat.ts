/**
 * Planning the concatenation of objects in S3 (lib/runs/results-bucket.ts `ResultsBucket.concat`):
 * which parts of one multipart upload are copied inside S3 (UploadPartCopy with a source range)
 * and which are uploaded from bytes held in memory. Pure: no I/O.
 *
 * S3's rules: every part but the last is at least {@link MIN_PART_BYTES}; a part copy copies at most
 * {@link MAX_COPY_PART_BYTES}; an upload has at most {@link MAX_PARTS} parts.
 */

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_COPY_PART_BYTES = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;

/** Bytes `[start, end)` of the object at `key`. */
export interface ObjectRange {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

/** One piece of the result: literal bytes (text as UTF-8), or a byte range of an existing object. */
export type ConcatPiece = { readonly bytes: Uint8Array | string } | ObjectRange;

/** What an uploaded part is made of, in order: bytes as given, or read from an object with a ranged GET. */
export type PartSegment = { readonly bytes: Uint8Array } | ObjectRange;

export type PlannedPart =
  | { readonly kind: 'upload'; readonly size: number; readonly segments: readonly PartSegment[] }
  | { readonly kind: 'copy'; readonly size: number; readonly source: ObjectRange };

/**
 * The parts of the concatenation of `pieces`, in order. Literal pieces and ranges smaller than
 * {@link MIN_PART_BYTES} accumulate in a pending part, uploaded once it reaches that size. A range
 * at least that large is copied inside S3; when a pending part precedes it, the pending part is
 * first topped up to exactly {@link MIN_PART_BYTES} from the range's head (read in memory), and
 * the rest is copied when it is still that large (read too otherwise). A range larger than
 * {@link MAX_COPY_PART_BYTES} is copied in equal parts. So at most about 2 × MIN_PART_BYTES is
 * held at once, and the bytes read through the caller are only the small pieces and top-ups.
 *
 * @example
 * ```ts
 * planConcat([{ bytes: 'header\n' }, { key: 'a.csv', start: 7, end: 9_000_000 }]);
 * // → [{ kind: 'upload', size: 5 MiB, … }, { kind: 'copy', size: 9_000_000 - 7 - (5 MiB - 7), … }]
 * ```
 */
export function planConcat(pieces: Iterable<ConcatPiece>): PlannedPart[] {
  const parts: PlannedPart[] = [];
  let pending: PartSegment[] = [];
  let pendingSize = 0;
  const add = (segment: PartSegment, size: number) => {
    if (size === 0) return;
    pending.push(segment);
    pendingSize += size;
    if (pendingSize >= MIN_PART_BYTES) flush();
  };
  const flush = () => {
    if (pendingSize === 0) return;
    parts.push({ kind: 'upload', size: pendingSize, segments: pending });
    pending = [];
    pendingSize = 0;
  };
  for (const piece of pieces) {
    if ('bytes' in piece) {
      const bytes = typeof piece.bytes === 'string' ? Buffer.from(piece.bytes, 'utf8') : piece.bytes;
      add({ bytes }, bytes.length);
      continue;
    }
    const { key, end } = piece;
    let { start } = piece;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new RangeError(`invalid byte range of ${key}: [${start}, ${end})`);
    }
    if (end - start >= MIN_PART_BYTES && pendingSize > 0) {
      const topUp = MIN_PART_BYTES - pendingSize;
      add({ key, start, end: start + topUp }, topUp);
      start += topUp;
    }
    if (end - start < MIN_PART_BYTES) {
      add({ key, start, end }, end - start);
      continue;
    }
    const count = Math.ceil((end - start) / MAX_COPY_PART_BYTES);
    for (let index = 0; index < count; index++) {
      const from = start + Math.floor(((end - start) * index) / count);
      const to = start + Math.floor(((end - start) * (index + 1)) / count);
      parts.push({ kind: 'copy', size: to - from, source: { key, start: from, end: to } });
    }
  }
  flush();
  if (parts.length > MAX_PARTS) {
    throw new RangeError(`the concatenation needs ${parts.length} parts; S3 allows ${MAX_PARTS}`);
  }
  return parts;
}
