/**
 * Locates the first JSON syntax error in a text. V8's `JSON.parse` messages do not always carry a
 * position ("Unexpected token '}', ... is not valid JSON"), and operators need the line of a
 * broken record in a large export. Only called after `JSON.parse` has failed, so speed is secondary.
 */

export interface JsonSyntaxError {
  /** Offset (UTF-16 code units) of the first offending character. */
  readonly offset: number;
  /** 1-based line and column of `offset`. */
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

class SyntaxProblem extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

function describe(char: string | undefined): string {
  return char === undefined ? 'end of input' : `'${char}'`;
}

class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): void {
    this.skipWhitespace();
    this.value();
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail('unexpected content after the JSON value');
  }

  private fail(reason: string): never {
    throw new SyntaxProblem(this.pos, reason);
  }

  private skipWhitespace(): void {
    while (WHITESPACE.has(this.text[this.pos] ?? '')) this.pos++;
  }

  private expect(char: string): void {
    if (this.text[this.pos] !== char)
      this.fail(`expected '${char}' but found ${describe(this.text[this.pos])}`);
    this.pos++;
  }

  private value(): void {
    const char = this.text[this.pos];
    if (char === '{') this.object();
    else if (char === '[') this.array();
    else if (char === '"') this.string();
    else if (char === 't') this.literal('true');
    else if (char === 'f') this.literal('false');
    else if (char === 'n') this.literal('null');
    else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) this.number();
    else this.fail(`unexpected ${describe(char)}`);
  }

  private literal(word: string): void {
    if (!this.text.startsWith(word, this.pos)) this.fail(`unexpected ${describe(this.text[this.pos])}`);
    this.pos += word.length;
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    if (!NUMBER.test(this.text)) this.fail('invalid number');
    this.pos = NUMBER.lastIndex;
  }

  private string(): void {
    this.pos++;
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined) this.fail('unterminated string');
      if (char === '"') {
        this.pos++;
        return;
      }
      if (char < ' ') this.fail('control character in string');
      if (char === '\\') {
        const escaped = this.text[this.pos + 1];
        if (escaped === 'u') {
          HEX4.lastIndex = this.pos + 2;
          if (!HEX4.test(this.text)) this.fail('invalid \\u escape');
          this.pos += 6;
          continue;
        }
        if (escaped === undefined || !ESCAPES.has(escaped)) this.fail('invalid escape');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private array(): void {
    this.sequence(']', () => this.value());
  }

  private object(): void {
    this.sequence('}', () => {
      if (this.text[this.pos] !== '"')
        this.fail(`expected a property name but found ${describe(this.text[this.pos])}`);
      this.string();
      this.skipWhitespace();
      this.expect(':');
      this.skipWhitespace();
      this.value();
    });
  }

  /** An array or object body: `item`s separated by commas up to `close` (the opener is at `pos`). */
  private sequence(close: ']' | '}', item: () => void): void {
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === close) {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      item();
      this.skipWhitespace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.text[this.pos] === close) {
        this.pos++;
        return;
      }
      this.fail(`expected ',' or '${close}' but found ${describe(this.text[this.pos])}`);
    }
  }
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** The first syntax error in `text`, or `undefined` when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  try {
    new Scanner(text).document();
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxProblem)) throw error;
    return { offset: error.offset, ...lineAndColumn(text, error.offset), reason: error.reason };
  }
}
