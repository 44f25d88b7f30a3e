import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EJSON } from 'bson';
import type { Document } from 'mongodb';
import { ValidationError } from '../errors.js';
import { parseIsoDate } from '../matching/dates.js';
import { defineField } from '../matching/json-safe.js';
import { dbRefAsDocument } from './bson-order.js';
import { findJsonSyntaxError } from './json-syntax.js';

/**
 * A documents file (JSON array or NDJSON) that cannot be read or parsed. It is a
 * `ValidationError` on field `file` (the command line turns it into exit code 2); `path` and `line`
 * say where, so an operator can fix one bad record in a large `mongoexport`.
 */
export class DocumentsFileError extends ValidationError {
  constructor(
    readonly path: string,
    readonly line: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('file', `${path}${line === undefined ? '' : ` line ${line}`}: ${detail}`, options);
  }
}

/**
 * `{"$date": "<text>"}`: bson would read the text with `Date.parse`, which accepts impossible days
 * (`2024-02-30` becomes March 1st), `24:00`, prose such as `March 7, 2024`, and text without an
 * offset as local time (the spec says UTC). So each such pair is rewritten before bson sees it:
 * text that is strict ISO 8601 (lib/matching/dates.ts `parseIsoDate`) becomes the exact epoch
 * milliseconds, and any other text is parked under {@link UNPARSED_DATE_KEY} and restored as a plain
 * `{ $date: text, …other keys }` object: as `date` or `month` the matcher rejects its record as
 * unparseable (with the text kept), in any other field it is carried through as written. Text in
 * the usual `mongoexport` form, UTC with `Z` and a day up to 28, is left to bson, which reads it
 * exactly.
 *
 * The pattern runs on the raw text, so it only takes a key that starts right after `{` or `,` (and
 * JSON white space): a quote there opens a key, never the inside of a string. The key may be
 * written `$date` or `\u0024date`; other escapes inside the key are not recognised.
 */
const DATE_STRING =
  /(?<=[{,][ \t\r\n]*)"(?:\$|\\u0024)date"[ \t\r\n]*:[ \t\r\n]*"(?!\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,3})?Z")((?:[^"\\]|\\.)*)"/g;

/**
 * Where a `$date` text that is not strict ISO 8601 waits until the document is parsed. Unique per
 * process, so no key in the data can be mistaken for it.
 */
const UNPARSED_DATE_KEY = `$unparsedDate:${randomUUID()}`;

function rewriteDateString(pair: string, literal: string): string {
  const text = literal.includes('\\') ? (JSON.parse(`"${literal}"`) as string) : literal;
  const ms = parseIsoDate(text);
  if (Number.isNaN(ms)) return `"${UNPARSED_DATE_KEY}":"${literal}"`;
  // The common case, text with `Z` or an offset, means the same instant to bson: leave it.
  return Date.parse(text) === ms ? pair : `"$date":{"$numberLong":"${ms}"}`;
}

/** `{ $date: text, …the other keys }` for an object holding a parked `$date` text, else undefined. */
function restoreUnparsedDate(record: Record<string, unknown>): Record<string, unknown> | undefined {
  const text = record[UNPARSED_DATE_KEY];
  if (typeof text !== 'string') return undefined;
  const restored: Record<string, unknown> = { $date: text };
  for (const key of Object.keys(record)) {
    if (key !== UNPARSED_DATE_KEY) defineField(restored, key, promoteNumbers(record[key]));
  }
  return restored;
}

interface BsonNumberWrapper {
  readonly _bsontype: 'Int32' | 'Double' | 'Long';
  valueOf(): number;
  toBigInt?(): bigint;
  toNumber?(): number;
}

function isBsonNumberWrapper(value: object): value is BsonNumberWrapper {
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return tag === 'Int32' || tag === 'Double' || tag === 'Long';
}

/**
 * Canonical-mode EJSON keeps numbers wrapped (Int32, Double, Long). The driver hands out plain
 * numbers for int32/double; do the same, and for a Long that is a safe integer (the MongoDB store
 * keeps every int64 a Long; the matcher reads either). A Long beyond ±(2^53 − 1) stays a Long,
 * which the matcher rejects as an id from either store. Also restores parked `$date` texts, and
 * turns the DBRef objects bson makes of `{ $ref, $id, … }` back into the embedded documents the
 * server holds, so pipelines see their fields (`session.actions`) and `$type` says `'object'`.
 */
function promoteNumbers(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const dbRef = dbRefAsDocument(value);
  if (dbRef !== undefined) return promoteNumbers(dbRef);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = promoteNumbers(value[i]);
    return value;
  }
  if (isBsonNumberWrapper(value)) {
    if (value._bsontype !== 'Long') return value.valueOf();
    const big = value.toBigInt ? value.toBigInt() : BigInt(String(value));
    const asNumber = Number(big);
    return Number.isSafeInteger(asNumber) ? asNumber : value;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    const restored = restoreUnparsedDate(record);
    if (restored !== undefined) return restored;
    for (const key of Object.keys(record)) {
      const current = record[key];
      const promoted = promoteNumbers(current);
      // defineProperty, not assignment: a `__proto__` key must stay a plain data property.
      if (promoted !== current) defineField(record, key, promoted);
    }
  }
  return value;
}

function parseEjson(text: string): unknown {
  return promoteNumbers(EJSON.parse(text.replace(DATE_STRING, rewriteDateString), { relaxed: false }));
}

/**
 * What to do with a JSON value that is not a document (`[1, 2]`, `42`, `"x"`, `null`): `error`
 * (default) refuses the file, naming the line or element; `keep` returns it in place, for a
 * caller that reports such records itself (the matcher rejects them as "not an object").
 */
export interface ReadDocumentsOptions {
  readonly nonObjects?: 'keep' | 'error';
}

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeFailure(text: string, error: unknown): { line: number | undefined; detail: string } {
  const syntax = findJsonSyntaxError(text);
  if (syntax) {
    return { line: syntax.line, detail: `invalid JSON at column ${syntax.column}: ${syntax.reason}` };
  }
  // Valid JSON that bson rejects: a malformed `$oid`, `$date`, `$numberLong`, ...
  return {
    line: undefined,
    detail: `invalid Extended JSON: ${error instanceof Error ? error.message : String(error)}`,
  };
}

function parseArray(text: string, path: string, keepNonObjects: boolean): unknown[] {
  let parsed: unknown;
  try {
    parsed = parseEjson(text);
  } catch (error) {
    const { line, detail } = describeFailure(text, error);
    throw new DocumentsFileError(path, line, detail, { cause: error });
  }
  if (!Array.isArray(parsed))
    throw new DocumentsFileError(path, undefined, 'expected a JSON array of documents');
  if (keepNonObjects) return parsed;
  parsed.forEach((element, index) => {
    if (!isDocument(element)) {
      throw new DocumentsFileError(path, undefined, `element ${index} is not a document`);
    }
  });
  return parsed;
}

function parseLines(text: string, path: string, keepNonObjects: boolean): unknown[] {
  const documents: unknown[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? '').trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = parseEjson(line);
    } catch (error) {
      const { detail } = describeFailure(line, error);
      throw new DocumentsFileError(path, index + 1, detail, { cause: error });
    }
    if (!keepNonObjects && !isDocument(parsed))
      throw new DocumentsFileError(path, index + 1, 'not a JSON object');
    documents.push(parsed);
  }
  return documents;
}

/**
 * Parses documents from text: a JSON array (first non-blank character `[`) or NDJSON (one
 * document per line, blank lines ignored; `mongoexport` output as is). Values are Extended JSON in
 * canonical or relaxed form: `{"$date": …}` → Date (strict ISO 8601 text, UTC when it has no
 * offset; other text stays `{ $date: text }`, an unparseable date to the matcher),
 * `{"$oid": …}` → ObjectId, `{"$numberLong": …}` → number when exact, else Long. `path` only
 * names the source in errors. Values that are not documents: see {@link ReadDocumentsOptions}.
 *
 * @throws DocumentsFileError naming `path` and, where known, the line.
 */
export function parseDocuments(text: string, path: string, options?: { nonObjects?: 'error' }): Document[];
export function parseDocuments(text: string, path: string, options: { nonObjects: 'keep' }): unknown[];
export function parseDocuments(text: string, path: string, options: ReadDocumentsOptions = {}): unknown[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const keep = options.nonObjects === 'keep';
  return body.trimStart().startsWith('[') ? parseArray(body, path, keep) : parseLines(body, path, keep);
}

/**
 * Reads a JSON-array or NDJSON file of Extended JSON documents; see {@link parseDocuments}.
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
  options?: { nonObjects?: 'error' },
): Promise<Document[]>;
export async function readDocumentsFile(path: string, options: { nonObjects: 'keep' }): Promise<unknown[]>;
export async function readDocumentsFile(
  path: string,
  options: ReadDocumentsOptions = {},
): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DocumentsFileError(path, undefined, `cannot read file${code ? ` (${code})` : ''}`, {
      cause: error,
    });
  }
  return options.nonObjects === 'keep'
    ? parseDocuments(text, path, { nonObjects: 'keep' })
    : parseDocuments(text, path);
}
