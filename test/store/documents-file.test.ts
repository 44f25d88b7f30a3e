import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EJSON, Long, ObjectId } from 'bson';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import {
  DocumentsFileError,
  parseDocuments,
  readDocuments,
  readDocumentsFile,
} from '../../lib/store/documents-file.js';
import { documentFromText } from '../../lib/store/extended-json.js';
import { jsonSyntaxError } from '../../lib/store/json-syntax.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'documents-file-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileWith(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function readFailure(path: string, options = {}): Promise<DocumentsFileError> {
  try {
    await readDocumentsFile(path, options);
  } catch (error) {
    if (error instanceof DocumentsFileError) return error;
    throw error;
  }
  throw new Error('expected a DocumentsFileError');
}

describe('readDocumentsFile', () => {
  it('reads a JSON array of Extended JSON documents', async () => {
    const path = await fileWith(
      'array.json',
      `[
        {"_id": {"$oid": "65a000000000000000000001"}, "date": {"$date": "2024-01-31T10:00:00Z"}, "n": 5, "x": 1.5},
        {"_id": 2}
      ]`,
    );
    const [first, second] = await readDocumentsFile(path);
    expect(first?._id).toBeInstanceOf(ObjectId);
    expect((first?._id as ObjectId | undefined)?.toHexString()).toBe('65a000000000000000000001');
    expect(first?.date).toEqual(new Date('2024-01-31T10:00:00Z'));
    expect(first?.n).toBe(5);
    expect(first?.x).toBe(1.5);
    expect(second).toEqual({ _id: 2 });
  });

  it('reads NDJSON, skipping blank lines and accepting CRLF line ends', async () => {
    const path = await fileWith('lines.ndjson', '{"id": 1}\r\n\r\n   \n{"id": "b"}\n{"id": 3}');
    expect(await readDocumentsFile(path)).toEqual([{ id: 1 }, { id: 'b' }, { id: 3 }]);
  });

  it('reads mongoexport output in canonical Extended JSON', async () => {
    const path = await fileWith(
      'export.ndjson',
      [
        '{"_id":{"$oid":"65a000000000000000000002"},"id":{"$numberInt":"7"},"amount":{"$numberDouble":"10.5"},' +
          '"date":{"$date":{"$numberLong":"1706695200000"}},"seq":{"$numberLong":"42"},' +
          '"big":{"$numberLong":"9007199254740993"}}',
      ].join('\n'),
    );
    const [doc] = await readDocumentsFile(path);
    expect(doc?._id).toBeInstanceOf(ObjectId);
    expect(doc?.id).toBe(7);
    expect(doc?.amount).toBe(10.5);
    expect(doc?.date).toEqual(new Date(1706695200000));
    expect(doc?.seq).toBe(42);
    expect(doc?.big).toBeInstanceOf(Long);
    expect(String(doc?.big)).toBe('9007199254740993');
  });

  it('reads a $date string without an offset as UTC, whatever the local time zone', async () => {
    const savedZone = process.env.TZ;
    process.env.TZ = 'Asia/Yekaterinburg';
    try {
      const [doc] = parseDocuments('{"date": {"$date": "2024-01-31T10:00:00"}}', 'inline');
      expect((doc?.date as Date | undefined)?.toISOString()).toBe('2024-01-31T10:00:00.000Z');
    } finally {
      if (savedZone === undefined) delete process.env.TZ;
      else process.env.TZ = savedZone;
    }
  });

  it.each([
    ['a space instead of T', '2024-02-01 01:00:00', '2024-02-01T01:00:00.000Z'],
    ['a date alone', '2024-02-01', '2024-02-01T00:00:00.000Z'],
    ['an offset', '2024-02-01T01:00:00+03:00', '2024-01-31T22:00:00.000Z'],
    ['a fraction beyond milliseconds', '2024-02-01T01:00:00.1239Z', '2024-02-01T01:00:00.123Z'],
    ['the usual mongoexport form', '2024-02-28T23:59:59.999Z', '2024-02-28T23:59:59.999Z'],
    ['a leap day', '2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
    ['day 31', '2024-12-31T00:00:00Z', '2024-12-31T00:00:00.000Z'],
  ])('reads a strict ISO 8601 $date with %s exactly, in any local time zone', (_form, text, iso) => {
    const savedZone = process.env.TZ;
    try {
      for (const zone of ['UTC', 'Europe/Moscow', 'America/St_Johns']) {
        process.env.TZ = zone;
        const [doc] = parseDocuments(`{"date": {"$date": ${JSON.stringify(text)}}}`, 'inline');
        const date = doc?.date;
        expect(date, zone).toBeInstanceOf(Date);
        expect(date instanceof Date ? date.toISOString() : date, zone).toBe(iso);
      }
    } finally {
      if (savedZone === undefined) delete process.env.TZ;
      else process.env.TZ = savedZone;
    }
  });

  it.each([
    ['an impossible day', '2024-02-30T00:00:00Z'],
    ['29 February of a common year', '2023-02-29T00:00:00Z'],
    ['day 31 of a 30-day month', '2024-04-31T00:00:00.000Z'],
    ['hour 24', '2024-01-05T24:00:00Z'],
    ['prose', 'March 7, 2024'],
    ['a time without a date', 'T10:00:00Z'],
    ['an empty string', ''],
    ['an escaped quote', 'say \\"when\\"'],
  ])('keeps a $date with %s as text for the matcher to reject, instead of guessing a date', (_form, text) => {
    const json = `{"id": 1, "date": {"$date": "${text}"}, "month": {"$date": "${text}"}, "note": "ok"}`;
    const [doc] = parseDocuments(json, 'inline');
    const expected = (JSON.parse(json) as { date: unknown }).date;
    expect(doc).toEqual({ id: 1, date: expected, month: expected, note: 'ok' });
    expect(doc?.date).not.toBeInstanceOf(Date);
    expect(Object.getPrototypeOf(doc?.date)).toBe(Object.prototype);
  });

  it.each([
    [
      'with other keys',
      '{"d": {"$date": "2024-02-30", "src": "x"}}',
      { d: { $date: '2024-02-30', src: 'x' } },
    ],
    ['with an escaped key', '{"d": {"\\u0024date": "2024-02-30"}}', { d: { $date: '2024-02-30' } }],
    [
      'in an array',
      '{"d": [{"$date": "soon"}, {"$date": "2024-01-01T00:00:00Z"}]}',
      { d: [{ $date: 'soon' }, new Date(Date.UTC(2024, 0, 1))] },
    ],
  ])('keeps a bad $date %s as written', (_form, json, expected) => {
    expect(parseDocuments(json, 'inline')).toEqual([expected]);
  });

  it('reads a $date key written with an escape strictly too', () => {
    const [doc] = parseDocuments('{"d": {"\\u0024date": "2024-01-31 10:00:00"}}', 'inline');
    expect(doc?.d).toEqual(new Date(Date.UTC(2024, 0, 31, 10)));
  });

  it('leaves alone text that only looks like a $date key', () => {
    const json = '{"\\"$date": "2024-01-31T10:00:00", "s": "{\\"$date\\": \\"2024-02-30\\"}"}';
    expect(parseDocuments(json, 'inline')).toEqual([JSON.parse(json)]);
  });

  it('still refuses white space JSON does not allow around a $date key', () => {
    expect(() => parseDocuments('{"d": {"$date"\u00a0: "2024-02-30"}}', 'inline')).toThrow(
      DocumentsFileError,
    );
  });

  it('ignores a byte order mark', () => {
    expect(parseDocuments('\uFEFF[{"a": 1}]', 'bom.json')).toEqual([{ a: 1 }]);
  });

  it('keeps a "__proto__" key as plain data', () => {
    const [doc] = parseDocuments('{"__proto__": {"polluted": true}, "a": {"$numberInt": "1"}}', 'inline');
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect((doc as { polluted?: unknown }).polluted).toBeUndefined();
    expect(doc?.a).toBe(1);
  });

  it('reads a DBRef-shaped document as the embedded document the server holds, numbers promoted', () => {
    const [doc] = parseDocuments(
      '{"s": {"$ref": "session", "$id": {"$oid": "65a000000000000000000001"}, "$db": "billing",' +
        ' "actions": [{"$ref": "action", "$id": {"$numberLong": "7"}, "type": "read"}], "n": {"$numberInt": "1"}}}',
      'inline',
    );
    const session = doc?.s as Record<string, unknown>;
    expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
    expect(Object.keys(session)).toEqual(['$ref', '$id', '$db', 'actions', 'n']);
    expect(session).toEqual({
      $ref: 'session',
      $id: new ObjectId('65a000000000000000000001'),
      $db: 'billing',
      actions: [{ $ref: 'action', $id: 7, type: 'read' }],
      n: 1,
    });
  });

  it('lets no "__proto__" field of a DBRef-shaped document change a prototype', () => {
    // (bson's Extended JSON reader drops such a field while it builds the DBRef.)
    const [doc] = parseDocuments('{"r": {"$ref": "x", "$id": 1, "__proto__": {"polluted": true}}}', 'inline');
    const ref = doc?.r as Record<string, unknown>;
    expect(Object.getPrototypeOf(ref)).toBe(Object.prototype);
    expect((ref as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it.each([
    [
      'a truncated record',
      '{"id": 1}\n{"id": 2}\n{"id": 3, "date": {"$date": "2024-01-01T00:00:00Z"}\n',
      3,
      /invalid JSON/,
    ],
    ['a trailing comma', '{"id": 1}\n\n{"id": 2,}\n', 3, /invalid JSON/],
    ['a malformed ObjectId', '{"id": 1}\n{"id": {"$oid": "not-hex"}}\n', 2, /invalid Extended JSON/],
    ['a line that is not a document', '{"id": 1}\n[1, 2]\n', 2, /not a JSON object/],
  ])('names the file and line of %s in NDJSON', async (_title, text, line, reason) => {
    const path = await fileWith(`bad-${line}.ndjson`, text);
    const error = await readFailure(path);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.field).toBe('file');
    expect(error.path).toBe(path);
    expect(error.line).toBe(line);
    expect(error.message).toContain(`${path} line ${line}:`);
    expect(error.message).toMatch(reason);
  });

  it('names the line of a syntax error inside a JSON array', async () => {
    const path = await fileWith('bad-array.json', '[\n  {"id": 1},\n  {"id": 2},\n  {"id": }\n]\n');
    const error = await readFailure(path);
    expect(error.line).toBe(4);
    expect(error.message).toMatch(/line 4: invalid JSON at column 10: expected a value/);
  });

  it('names the element of a JSON array that is not a document', async () => {
    const path = await fileWith('scalar-element.json', '[{"id": 1}, 42]');
    await expect(readDocumentsFile(path)).rejects.toThrow(/element 1 is not a document/);
  });

  it.each([
    ['a JSON array', '[{"id": 1}, [1, 2], 42, "x", null, {"id": 2}]'],
    ['NDJSON', '{"id": 1}\n[1, 2]\n42\n"x"\nnull\n{"id": 2}\n'],
  ])('keeps values that are not documents, in place, when asked to (%s)', async (_form, text) => {
    const path = await fileWith(`mixed-${_form.length}.txt`, text);
    expect(await readDocumentsFile(path, { nonObjects: 'keep' })).toEqual([
      { id: 1 },
      [1, 2],
      42,
      'x',
      null,
      { id: 2 },
    ]);
    await expect(readDocumentsFile(path)).rejects.toBeInstanceOf(DocumentsFileError);
    await expect(readDocumentsFile(path, { nonObjects: 'error' })).rejects.toBeInstanceOf(DocumentsFileError);
  });

  it('reports a missing file by path and error code', async () => {
    const path = join(dir, 'absent.ndjson');
    const error = await readFailure(path);
    expect(error.message).toBe(`file: ${path}: cannot read file (ENOENT)`);
  });
});

describe('readDocuments on exports of any size', () => {
  /** The next document, or 'timed out' when none comes within `ms`. */
  async function nextWithin(iterator: AsyncIterator<unknown>, ms: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timed out'), ms);
    });
    try {
      return await Promise.race([Promise.resolve(iterator.next()).then((step) => step.value), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it.each([
    ['NDJSON', '{"id": 1}\n{"id": 2}\n', '{"id": 3}\n'],
    ['a JSON array', '[{"id": 1},\n{"id": 2},\n', '{"id": 3}]\n'],
  ])(
    'hands out the first documents of %s before the rest of the file exists',
    async (_format, head, tail) => {
      // A named pipe: the file has no end until the writer closes it, so a reader that took the file
      // whole (as one string, which V8 caps at about 512 MiB) would hand out nothing before that.
      const fifo = join(dir, `export-${_format.length}.fifo`);
      execFileSync('mkfifo', [fifo]);
      const writer = createWriteStream(fifo);
      writer.write(head);
      const iterator = readDocuments(fifo)[Symbol.asyncIterator]();
      try {
        expect(await nextWithin(iterator, 5000)).toEqual({ id: 1 });
        expect(await nextWithin(iterator, 5000)).toEqual({ id: 2 });
      } finally {
        writer.end(tail);
      }
      expect(await nextWithin(iterator, 5000)).toEqual({ id: 3 });
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    },
  );

  it.each([
    ['NDJSON', Buffer.from('{"id": 1}\n{"id": 2}\n{"name": "\xc0\xff"}\n{"id": 4}\n', 'latin1'), 3],
    ['a JSON array', Buffer.from('[\n{"id": 1},\n{"name": "\xe9t\xe9"}\n]', 'latin1'), 3],
  ])('names the line of %s that is not UTF-8', async (_format, bytes, line) => {
    const path = join(dir, `latin1-${_format.length}.txt`);
    await writeFile(path, bytes);
    const error = await readFailure(path);
    expect(error.line).toBe(line);
    expect(error.detail).toMatch(/^not UTF-8/);
    expect(error.message).toContain(`${path} line ${line}: not UTF-8`);
  });

  it('refuses a line too long to be one record, naming it, without holding more of it', async () => {
    const path = await fileWith(
      'long-line.ndjson',
      `{"id": 1}\n{"note": "${'x'.repeat(5000)}"}\n{"id": 3}\n`,
    );
    const error = await readFailure(path, { maxLineChars: 1000 });
    expect(error.line).toBe(2);
    expect(error.detail).toMatch(/longer than 1,000 characters: too large to be one record/);
    expect(await readDocumentsFile(path, { maxLineChars: 6000 })).toHaveLength(3);
  });

  it('names the element of a JSON array whose Extended JSON bson refuses', async () => {
    const path = await fileWith('bad-oid.json', '[{"id": 1}, {"id": {"$oid": "not-hex"}}]');
    const error = await readFailure(path);
    expect(error.detail).toMatch(/^element 1: invalid Extended JSON/);
  });

  it('reads a JSON array larger than one read, element by element', async () => {
    const documents = Array.from({ length: 30_000 }, (_, i) => ({
      id: i,
      date: { $date: '2024-01-31T10:00:00Z' },
    }));
    const path = await fileWith('large.json', JSON.stringify(documents, null, 1));
    const read = await readDocumentsFile(path);
    expect(read).toHaveLength(30_000);
    expect(read[29_999]).toEqual({ id: 29_999, date: new Date('2024-01-31T10:00:00Z') });
  });

  it('names a directory given as a file', async () => {
    const error = await readFailure(dir);
    expect(error.detail).toBe('cannot read file: it is a directory');
  });
});

/** Extended JSON values as exports write them, canonical and relaxed, with the forms bson must read. */
const extendedJsonValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(2 ** 53 + 2)),
    fc.constantFrom(-(2 ** 60), 2 ** 63, 1e300, -0),
    fc.string({ maxLength: 8 }),
    fc.boolean(),
    fc.constant(null),
    fc.stringMatching(/^[0-9a-f]{24}$/).map(($oid) => ({ $oid })),
    fc
      .constantFrom(
        '2024-01-31T10:00:00Z',
        '2024-01-31T10:00:00.123Z',
        '2024-02-29T00:00:00+03:00',
        '2024-02-30T00:00:00Z',
        '2024-01-31 10:00:00',
        'March 7, 2024',
        '',
      )
      .map(($date) => ({ $date })),
    fc.integer({ min: -1e15, max: 1e15 }).map((ms) => ({ $date: { $numberLong: String(ms) } })),
    fc
      .constantFrom('0', '-0', '42', '-9007199254740993', '007', '123456789012345')
      .map(($numberLong) => ({ $numberLong })),
    fc.constantFrom('7', '-2147483648', '1.5').map(($numberInt) => ({ $numberInt })),
    fc.constantFrom('10.5', '-0.0', 'Infinity', 'NaN', '1e400').map(($numberDouble) => ({ $numberDouble })),
    fc.constantFrom('1.5', '-0').map(($numberDecimal) => ({ $numberDecimal })),
    fc.constant({ $date: '2024-01-31T10:00:00Z', src: 'x' }),
    fc.constant({ $ref: 'session', $id: { $numberLong: '7' }, note: { $numberInt: '1' } }),
    fc.constant({ $regularExpression: { pattern: 'a+', options: 'i' } }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'id', 'date', 'month', 'n'), tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('Extended JSON', () => {
  it("reads every document as bson's reader does (the shortcut for common wrappers changes nothing)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.constantFrom('_id', 'id', 'date', 'v'), extendedJsonValue), {
          maxLength: 4,
        }),
        (documents) => {
          const lines = documents.map((document) => JSON.stringify(document));
          let expected: unknown[] | undefined;
          try {
            expected = lines.map((line) => documentFromText(line));
          } catch {
            // bson refuses one of them: so must the reader, naming the file.
          }
          for (const text of [lines.join('\n'), `[${lines.join(',')}]`]) {
            if (expected === undefined)
              expect(() => parseDocuments(text, 'inline')).toThrow(DocumentsFileError);
            else expect(parseDocuments(text, 'inline')).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with bson on its own output, canonical and relaxed', () => {
    const document = {
      _id: new ObjectId('65a000000000000000000001'),
      n: 5,
      big: Long.fromString('9007199254740993'),
      date: new Date('2024-01-31T10:00:00Z'),
      nested: [{ at: new Date(0) }],
    };
    for (const relaxed of [true, false]) {
      const text = EJSON.stringify(document, { relaxed });
      expect(parseDocuments(text, 'inline')).toEqual([documentFromText(text)]);
    }
  });
});

describe('jsonSyntaxError', () => {
  it.each([
    ['{"a": 1}', undefined],
    ['[1, -2.5e3, "x\\u00e9", true, false, null, {}]', undefined],
    ['{"a": 1', { line: 1, column: 8, reason: "expected ','" }],
    ['{\n"a": tru}', { line: 2, column: 6, reason: 'expected a value' }],
    ['[01]', { line: 1, column: 3, reason: "expected ','" }],
    ['"\\x"', { line: 1, column: 2, reason: 'escaped characters' }],
    ['{"a": 1} {}', { line: 1, column: 10, reason: 'unexpected characters' }],
  ])('locates the first error in %j', (text, expected) => {
    const found = jsonSyntaxError(text);
    if (expected === undefined) expect(found).toBeUndefined();
    else expect(found).toEqual(expected);
  });

  it('locates an error in text given in pieces, across the pieces', () => {
    expect(jsonSyntaxError(['[{"id": 1},\n', '{"id"', ': }]'])).toEqual({
      line: 2,
      column: 8,
      reason: 'expected a value',
    });
  });
});
