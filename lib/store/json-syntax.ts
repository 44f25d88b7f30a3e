import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser } from 'stream-json/core/parser.js';
import { streamArray } from 'stream-json/core/streamers/stream-array.js';
import { jsonVerifier } from 'stream-json/core/utils/verifier.js';

/**
 * JSON text that is too large to be one string, through stream-json: the elements of a top-level
 * array as they complete, and where a text breaks the JSON grammar. stream-json's functions are
 * driven directly, chunk by chunk, rather than through streams: a Node stream per token would cost
 * more than the parsing.
 */

/** Where and why a JSON text is invalid: 1-based line and column (UTF-16 code units). */
export interface JsonSyntaxError {
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

/** The values a stream-json stage returns for one input: one value, several, or `none`. */
function valuesOf(output: unknown): readonly unknown[] {
  if (output === none) return [];
  return isMany(output) ? getManyValues(output) : [output];
}

/** The elements of one top-level JSON array, fed text piece by piece. */
export interface JsonValueStream {
  /** The elements that `text` completes, in order. @throws Error for invalid JSON (no position). */
  push(text: string): unknown[];
  /** The last elements, once the text has ended. @throws Error when the text ends too early. */
  end(): unknown[];
}

/**
 * A parser for the elements of a top-level JSON array (stream-json's parser and `streamArray`),
 * each assembled as `JSON.parse` would (a `__proto__` key stays an own property).
 */
export function jsonArrayElements(): JsonValueStream {
  // A flushable stage is flushed by calling it with `none`, which its type does not spell out.
  const parse = jsonParser({ streamValues: false }) as (text: string | typeof none) => unknown;
  const elements = streamArray();
  const feed = (tokens: unknown): unknown[] => {
    const out: unknown[] = [];
    for (const token of valuesOf(tokens)) {
      for (const element of valuesOf(elements(token as never))) {
        out.push((element as { value: unknown }).value);
      }
    }
    return out;
  };
  return {
    push: (text) => feed(parse(text)),
    end: () => feed(parse(none)),
  };
}

/** stream-json's verifier prefixes its reasons with this; the position says the rest. */
const VERIFIER_PREFIX = /^ERROR at \d+ \(\d+, \d+\): Verifier (?:cannot parse input: )?/;

/**
 * The first JSON syntax error in a text given whole or in pieces (stream-json's verifier), or
 * undefined when it is valid JSON. Called only once parsing has failed: `JSON.parse` and the
 * streaming parser say what is wrong but not always where, and an operator needs the line of a
 * broken record in a large export.
 */
export function jsonSyntaxError(text: string | Iterable<string>): JsonSyntaxError | undefined {
  const verify = jsonVerifier() as (text: string | typeof none) => unknown;
  try {
    for (const piece of typeof text === 'string' ? [text] : text) verify(piece);
    verify(none);
    return undefined;
  } catch (error) {
    const { line, pos, message } = error as { line?: unknown; pos?: unknown; message?: unknown };
    if (typeof line !== 'number' || typeof pos !== 'number') throw error;
    return { line, column: pos, reason: String(message).replace(VERIFIER_PREFIX, '') };
  }
}
