/**
 * Growable typed-array columns. The matcher keeps one number per record per column instead of
 * one object per record: typed arrays sort natively, cost no GC tracing and stay compact.
 */

function nextCapacity(current: number, needed: number): number {
  let capacity = Math.max(current, 16);
  while (capacity < needed) capacity *= 2;
  return capacity;
}

export function ensureFloat64(
  array: Float64Array<ArrayBuffer>,
  needed: number,
  keep = 0,
): Float64Array<ArrayBuffer> {
  if (array.length >= needed) return array;
  const grown = new Float64Array(nextCapacity(array.length, needed));
  if (keep > 0) grown.set(array.subarray(0, keep));
  return grown;
}

export function ensureInt32(
  array: Int32Array<ArrayBuffer>,
  needed: number,
  keep = 0,
): Int32Array<ArrayBuffer> {
  if (array.length >= needed) return array;
  const grown = new Int32Array(nextCapacity(array.length, needed));
  if (keep > 0) grown.set(array.subarray(0, keep));
  return grown;
}

export function ensureUint8(
  array: Uint8Array<ArrayBuffer>,
  needed: number,
  keep = 0,
): Uint8Array<ArrayBuffer> {
  if (array.length >= needed) return array;
  const grown = new Uint8Array(nextCapacity(array.length, needed));
  if (keep > 0) grown.set(array.subarray(0, keep));
  return grown;
}

/**
 * An append-only list of int32 values (record indices). Reserving on an empty list allocates
 * exactly, so a single-partition run owns exactly-sized arrays; later growth doubles.
 */
export class Int32List {
  data = new Int32Array(0);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) this.data = ensureInt32(this.data, this.length + 1, this.length);
    this.data[this.length++] = value;
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    if (this.length === 0) this.data = new Int32Array(extra);
    else this.data = ensureInt32(this.data, this.length + extra, this.length);
  }

  /** The values written so far (a view, not a copy). */
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Float64 counterpart of {@link Int32List} (distinct dates). */
export class Float64List {
  data = new Float64Array(0);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) this.data = ensureFloat64(this.data, this.length + 1, this.length);
    this.data[this.length++] = value;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Uint8 counterpart of {@link Int32List} (match rules). */
export class Uint8List {
  data = new Uint8Array(0);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) this.data = ensureUint8(this.data, this.length + 1, this.length);
    this.data[this.length++] = value;
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    if (this.length === 0) this.data = new Uint8Array(extra);
    else this.data = ensureUint8(this.data, this.length + extra, this.length);
  }

  view(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

/** Records per chunk of a {@link RecordStore}: 32 KiB of references, allocated young. */
const CHUNK_BITS = 12;
const CHUNK_SIZE = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_SIZE - 1;

/** Records by index, as a {@link RecordStore} held them at one point (what an outcome reads). */
export class HeldRecords {
  constructor(
    private readonly chunks: readonly (readonly unknown[])[],
    readonly length: number,
  ) {}

  at(index: number): unknown {
    return (this.chunks[index >>> CHUNK_BITS] as readonly unknown[])[index & CHUNK_MASK];
  }
}

/**
 * The records one source has read, in read order: outputs refer to records by read position and
 * re-derive their normalised date and month when written, so no per-record column outlives the
 * run's scratch space. Every record read is kept (rejected ones too, so that positions count
 * reads) until the run ends or, one partition at a time, until its partition is handed on.
 *
 * Kept in fixed-size chunks rather than one growing array: a million-element array is
 * reallocated and copied as it grows, three times its final size in fresh memory, and fresh
 * memory is what costs (page faults, and the full GC that old-space growth triggers).
 */
export class RecordStore {
  private last: unknown[] = [];
  private chunks: unknown[][] = [this.last];
  /** Records held: read positions `base..base + held`. */
  held = 0;
  /** Read position of the first record held (records before it were released). */
  base = 0;

  /** How many records were read so far, released or not. */
  get read(): number {
    return this.base + this.held;
  }

  /** Keeps the next record read and returns its read position. */
  keep(record: unknown): number {
    let last = this.last;
    if (last.length === CHUNK_SIZE) {
      last = [];
      this.chunks.push(last);
      this.last = last;
    }
    last.push(record);
    return this.base + this.held++;
  }

  /** The record read at position `seq` (still held). */
  at(seq: number): unknown {
    const index = seq - this.base;
    return (this.chunks[index >>> CHUNK_BITS] as unknown[])[index & CHUNK_MASK];
  }

  /** The records held now, indexed from 0 (read position `base`). */
  snapshot(): HeldRecords {
    return new HeldRecords(this.chunks, this.held);
  }

  /** Drops every record held so far; read positions carry on from where they were. */
  release(): void {
    this.base += this.held;
    this.held = 0;
    this.last = [];
    this.chunks = [this.last];
  }
}
