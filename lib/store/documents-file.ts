import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { Document } from 'mongodb';
import { ValidationError } from '../errors.js';
import { documentFromJson } from './extended-json.js';
import {
  type JsonSyntaxError,
  type JsonValueStream,
  jsonArrayElements,
  jsonSyntaxError,
} from './json-syntax.js';

/**
 * A documents file (JSON array or NDJSON) that cannot be read or parsed. It is a
 * `ValidationError` on field `file` (the command line turns it into exit code 2); `path`, `line`
 * and `detail` say where and what, so an operator can fix one bad record in a large `mongoexport`.
 */
export class DocumentsFileError extends ValidationError {
  constructor(
    readonly path: string,
    readonly line: number | undefined,
    /** What is wrong, without the path and line (`invalid JSON at column 7: …`). */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super('file', `${path}${line === undefined ? '' : ` line ${line}`}: ${detail}`, options);
  }
}

/**
 * What to do with a JSON value that is not a document (`[1, 2]`, `42`, `"x"`, `null`): `error`
 * (default) refuses the file, naming the line or element; `keep` returns it in place, for a
 * caller that reports such records itself (the matcher rejects them as "not an object").
 */
export interface ReadDocumentsOptions {
  readonly nonObjects?: 'keep' | 'error';
  /** NDJSON: the longest line read as one record (default {@link MAX_LINE_CHARS}). */
  readonly maxLineChars?: number;
}

/**
 * The longest line (NDJSON) read as one record: V8 cannot hold a longer string, and a record
 * that long is not a record but a file in the wrong format.
 */
export const MAX_LINE_CHARS = 2 ** 28;

/** Bytes read from a file at a time: large enough that reads are cheap, small enough to stay flat in memory. */
const READ_BYTES = 1024 * 1024;

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A problem at a place in the input, before the file's path is known to the message. */
class Problem extends Error {
  constructor(
    readonly line: number | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

function syntaxDetail(error: JsonSyntaxError): string {
  return `invalid JSON at column ${error.column}: ${error.reason}`;
}

function extendedJsonDetail(error: unknown): string {
  // Valid JSON that bson rejects: a malformed `$oid`, `$date`, `$numberLong`, ...
  return `invalid Extended JSON: ${error instanceof Error ? error.message : String(error)}`;
}

/** One document per line, blank lines ignored (`mongoexport` output as is). */
class LinesParser {
  /** The start of a line that continues in the next text (pieces: joining them each time is quadratic). */
  private pending: string[] = [];
  private pendingChars = 0;
  /** Lines completed so far (the next line is number `lines + 1`). */
  private lines = 0;

  constructor(
    private readonly keepNonObjects: boolean,
    private readonly maxLineChars: number,
  ) {}

  push(text: string, into: unknown[]): void {
    let end = text.indexOf('\n');
    if (end === -1) {
      this.hold(text);
      return;
    }
    this.line(this.completed(text.slice(0, end)), into);
    let start = end + 1;
    for (end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
      this.line(text.slice(start, end), into);
      start = end + 1;
    }
    if (start < text.length) this.hold(text.slice(start));
  }

  end(into: unknown[]): void {
    if (this.pendingChars > 0) this.line(this.completed(''), into);
  }

  private hold(text: string): void {
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars > this.maxLineChars) throw this.tooLong(this.lines + 1);
  }

  private tooLong(line: number): Problem {
    return new Problem(
      line,
      `longer than ${this.maxLineChars.toLocaleString('en-US')} characters: too large to be one record (a JSON array or a pretty-printed export? NDJSON has one record per line)`,
    );
  }

  /** The line whose last piece is `tail`. */
  private completed(tail: string): string {
    if (this.pending.length === 0) return tail;
    const text = this.pending.join('') + tail;
    this.pending = [];
    this.pendingChars = 0;
    return text;
  }

  private line(text: string, into: unknown[]): void {
    this.lines++;
    if (text.length > this.maxLineChars) throw this.tooLong(this.lines);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      if (text.trim() === '') return;
      throw new Problem(this.lines, syntaxDetail(jsonSyntaxError(text) ?? unknownSyntax(error)), {
        cause: error,
      });
    }
    let document: unknown;
    try {
      document = documentFromJson(parsed);
    } catch (error) {
      throw new Problem(this.lines, extendedJsonDetail(error), { cause: error });
    }
    if (!this.keepNonObjects && !isDocument(document)) throw new Problem(this.lines, 'not a JSON object');
    into.push(document);
  }
}

function unknownSyntax(error: unknown): JsonSyntaxError {
  return { line: 1, column: 1, reason: error instanceof Error ? error.message : String(error) };
}

/** A JSON array of documents, element by element (stream-json), never held as one string. */
class ArrayParser {
  private readonly elements: JsonValueStream;
  private index = 0;

  constructor(private readonly keepNonObjects: boolean) {
    this.elements = jsonArrayElements();
  }

  push(text: string, into: unknown[]): void {
    this.accept(this.elements.push(text), into);
  }

  end(into: unknown[]): void {
    this.accept(this.elements.end(), into);
  }

  private accept(values: readonly unknown[], into: unknown[]): void {
    for (const value of values) {
      let document: unknown;
      try {
        document = documentFromJson(value);
      } catch (error) {
        throw new Problem(undefined, `element ${this.index}: ${extendedJsonDetail(error)}`, { cause: error });
      }
      if (!this.keepNonObjects && !isDocument(document)) {
        throw new Problem(undefined, `element ${this.index} is not a document`);
      }
      into.push(document);
      this.index++;
    }
  }
}

const WHITESPACE = /^[ \t\r\n]*/;

/**
 * Turns the text of a documents file, pushed piece by piece, into documents: a JSON array when
 * the first character that is not white space is `[`, NDJSON otherwise. A byte order mark at the
 * very start is ignored.
 */
class DocumentsParser {
  private parser: LinesParser | ArrayParser | undefined;
  private started = false;
  private pending = '';

  private readonly keepNonObjects: boolean;
  private readonly maxLineChars: number;

  constructor(options: ReadDocumentsOptions) {
    this.keepNonObjects = options.nonObjects === 'keep';
    this.maxLineChars = options.maxLineChars ?? MAX_LINE_CHARS;
  }

  /** Appends the documents completed by `text` to `into`. */
  push(text: string, into: unknown[]): void {
    let body = text;
    if (!this.started) {
      this.started = true;
      if (body.charCodeAt(0) === 0xfeff) body = body.slice(1);
    }
    if (this.parser === undefined) {
      body = this.pending + body;
      const blank = WHITESPACE.exec(body)?.[0].length ?? 0;
      if (blank === body.length) {
        this.pending = body;
        return;
      }
      this.pending = '';
      this.parser =
        body[blank] === '['
          ? new ArrayParser(this.keepNonObjects)
          : new LinesParser(this.keepNonObjects, this.maxLineChars);
    }
    this.parser.push(body, into);
  }

  end(into: unknown[]): void {
    this.parser?.end(into);
  }

  get isArray(): boolean {
    return this.parser instanceof ArrayParser;
  }
}

/** A {@link Problem} raised while parsing `path`, as the error callers see. */
function fileError(path: string, error: unknown): unknown {
  if (error instanceof Problem) {
    // The Problem only carried the place: what caused it (if anything) is the cause.
    return new DocumentsFileError(path, error.line, error.detail, { cause: error.cause });
  }
  return error;
}

/**
 * Parses documents from text: a JSON array (first non-blank character `[`) or NDJSON (one
 * document per line, blank lines ignored; `mongoexport` output as is). Values are Extended JSON in
 * canonical or relaxed form (lib/store/extended-json.ts): `{"$date": …}` → Date (strict ISO 8601
 * text, UTC when it has no offset; other text stays `{ $date: text }`, an unparseable date to the
 * matcher), `{"$oid": …}` → ObjectId, `{"$numberLong": …}` → number when exact, else Long. `path`
 * only names the source in errors. Values that are not documents: see {@link ReadDocumentsOptions}.
 *
 * @throws DocumentsFileError naming `path` and, where known, the line.
 */
export function parseDocuments(
  text: string,
  path: string,
  options?: ReadDocumentsOptions & { nonObjects?: 'error' },
): Document[];
export function parseDocuments(
  text: string,
  path: string,
  options: ReadDocumentsOptions & { nonObjects: 'keep' },
): unknown[];
export function parseDocuments(text: string, path: string, options: ReadDocumentsOptions = {}): unknown[] {
  const parser = new DocumentsParser(options);
  const documents: unknown[] = [];
  try {
    parser.push(text, documents);
    parser.end(documents);
  } catch (error) {
    throw fileError(path, parser.isArray ? locateArrayError(error, [text]) : error);
  }
  return documents;
}

/**
 * The array parser says what is wrong but not where: find the line and column by reading the text
 * again with stream-json's verifier (only when a file is broken).
 */
function locateArrayError(error: unknown, texts: Iterable<string>): unknown {
  if (error instanceof Problem || !(error instanceof Error)) return error;
  if (error instanceof RangeError) {
    return new Problem(undefined, `a value too large to read (${error.message})`, { cause: error });
  }
  const located = jsonSyntaxError(texts);
  if (located === undefined)
    return new Problem(undefined, `invalid JSON: ${error.message}`, { cause: error });
  return new Problem(located.line, syntaxDetail(located), { cause: error });
}

/**
 * The decoded text of a file, piece by piece; a byte sequence that is not UTF-8 fails the read.
 * The next piece is read while this one is parsed. A piece of plain ASCII, as exports of Latin
 * ids, dates and months mostly are, is decoded as Latin-1, which is the same text and several times
 * quicker than the UTF-8 decoder (and gives one-byte strings, which `JSON.parse` reads faster).
 */
async function* fileText(path: string): AsyncGenerator<string> {
  const file = await open(path, 'r');
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)];
    const readInto = (buffer: Buffer) => file.read(buffer, 0, READ_BYTES, null);
    let turn = 0;
    let reading = readInto(buffers[0] as Buffer);
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      const bytes = (buffers[turn] as Buffer).subarray(0, bytesRead);
      turn = 1 - turn;
      reading = readInto(buffers[turn] as Buffer);
      // Flushing first: bytes the decoder holds from the last piece make an ASCII piece invalid.
      if (isAscii(bytes)) yield decoder.decode() + bytes.toString('latin1');
      else yield decoder.decode(bytes, { stream: true });
    }
    const last = decoder.decode();
    if (last !== '') yield last;
  } finally {
    await file.close();
  }
}

function isDecodingError(error: unknown): boolean {
  return (
    error instanceof TypeError && (error as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
  );
}

/**
 * The line holding the first byte sequence that is not UTF-8 (1-based). A second pass, only once
 * decoding failed: each line is checked as it streams by, so no line is held whole.
 */
async function lineNotUtf8(path: string): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let line = 1;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, READ_BYTES, null);
      if (bytesRead === 0) break;
      const bytes = buffer.subarray(0, bytesRead);
      for (let start = 0; ; ) {
        const end = bytes.indexOf(10, start);
        try {
          decoder.decode(bytes.subarray(start, end === -1 ? bytesRead : end), { stream: end === -1 });
        } catch {
          return line;
        }
        if (end === -1) break;
        line++;
        start = end + 1;
      }
    }
    decoder.decode();
    return undefined;
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
}

function cannotRead(path: string, error: unknown): DocumentsFileError {
  const code = (error as NodeJS.ErrnoException).code;
  const detail =
    code === 'EISDIR' ? 'cannot read file: it is a directory' : `cannot read file${code ? ` (${code})` : ''}`;
  return new DocumentsFileError(path, undefined, detail, { cause: error });
}

const DONE: IteratorResult<never> = { done: true, value: undefined };

/**
 * The documents of a file as they are parsed, one read of {@link READ_BYTES} at a time: `next()`
 * answers synchronously while the documents of the last read last, and with a promise only when
 * the file must be read again (the matcher, lib/matching/record-stream.ts, then pays one promise
 * per read, not one per document). One consumer, awaiting each answer.
 */
class DocumentsCursor implements AsyncIterable<unknown> {
  private text: AsyncGenerator<string> | undefined;
  private readonly parser: DocumentsParser;
  private batch: unknown[] = [];
  private index = 0;
  private ended = false;

  constructor(
    private readonly path: string,
    options: ReadDocumentsOptions,
  ) {
    this.parser = new DocumentsParser(options);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    // `next` may answer without a promise, which the AsyncIterator type does not spell out.
    return this as unknown as AsyncIterator<unknown>;
  }

  next(): IteratorResult<unknown> | Promise<IteratorResult<unknown>> {
    if (this.index < this.batch.length) {
      const value = this.batch[this.index];
      this.batch[this.index++] = undefined;
      return { done: false, value };
    }
    return this.read();
  }

  async return(): Promise<IteratorResult<unknown>> {
    await this.stop();
    return DONE;
  }

  private async read(): Promise<IteratorResult<unknown>> {
    while (!this.ended) {
      this.batch = [];
      this.index = 0;
      try {
        this.text ??= fileText(this.path);
        const step = await this.text.next();
        if (step.done) {
          this.ended = true;
          this.parser.end(this.batch);
        } else {
          this.parser.push(step.value, this.batch);
        }
      } catch (error) {
        await this.stop();
        throw await this.describe(error);
      }
      if (this.batch.length > 0) return this.next();
    }
    return DONE;
  }

  private async describe(error: unknown): Promise<unknown> {
    if (isDecodingError(error)) {
      const line = await lineNotUtf8(this.path);
      return new DocumentsFileError(
        this.path,
        line,
        'not UTF-8 text (save the export as UTF-8: mongoexport writes UTF-8)',
        { cause: error },
      );
    }
    if ((error as NodeJS.ErrnoException | null)?.syscall !== undefined) return cannotRead(this.path, error);
    if (this.parser.isArray) return fileError(this.path, locateArrayError(error, await fileTexts(this.path)));
    return fileError(this.path, error);
  }

  private async stop(): Promise<void> {
    this.ended = true;
    this.batch = [];
    this.index = 0;
    await this.text?.return(undefined);
  }
}

/** The file's text again, for the verifier (only when a file is broken). */
async function fileTexts(path: string): Promise<Iterable<string>> {
  const texts: string[] = [];
  let held = 0;
  try {
    for await (const text of fileText(path)) {
      texts.push(text);
      held += text.length;
      // Enough to locate the error in any file this can read; do not hold a huge file twice.
      if (held > MAX_LINE_CHARS) break;
    }
  } catch {
    // Located in what was read.
  }
  return texts;
}

/**
 * Streams the documents of a JSON-array or NDJSON file of Extended JSON documents (see
 * {@link parseDocuments} for the formats) in file order, reading it piece by piece: the file is
 * never held as one string, so its size is bounded only by what the caller keeps of it.
 *
 * @example
 * ```ts
 * for await (const payment of readDocuments('exports/payment.ndjson')) console.log(payment);
 * ```
 * @throws DocumentsFileError (while iterating) when the file cannot be read, is not UTF-8 or a
 *   record cannot be parsed: naming the path and, where known, the line (NDJSON) or element.
 */
export function readDocuments(path: string, options: ReadDocumentsOptions = {}): AsyncIterable<unknown> {
  return new DocumentsCursor(path, options);
}

/**
 * Reads every document of a JSON-array or NDJSON file into an array; see {@link readDocuments}.
 *
 * @example
 * ```ts
 * const payments = await readDocumentsFile('exports/payment.ndjson');
 * const records = await readDocumentsFile('exports/payment.ndjson', { nonObjects: 'keep' });
 * ```
 * @throws DocumentsFileError when the file cannot be read or a record cannot be parsed.
 */
export async function readDocumentsFile(
  path: string,
  options?: ReadDocumentsOptions & { nonObjects?: 'error' },
): Promise<Document[]>;
export async function readDocumentsFile(
  path: string,
  options: ReadDocumentsOptions & { nonObjects: 'keep' },
): Promise<unknown[]>;
export async function readDocumentsFile(
  path: string,
  options: ReadDocumentsOptions = {},
): Promise<unknown[]> {
  const documents: unknown[] = [];
  for await (const document of readDocuments(path, options)) documents.push(document);
  return documents;
}
