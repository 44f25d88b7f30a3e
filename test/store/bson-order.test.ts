import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBson, compareUtf8, sortDocuments, sortKeyOf } from '../../lib/store/bson-order.js';

const OID_1 = new ObjectId('65a000000000000000000001');
const OID_2 = new ObjectId('65a000000000000000000002');

describe('compareBson', () => {
  it.each<[string, unknown, unknown]>([
    ['MinKey before null', new MinKey(), null],
    ['undefined before null', undefined, null],
    ['null before numbers', null, Number.NEGATIVE_INFINITY],
    ['NaN before every other number', Number.NaN, Number.NEGATIVE_INFINITY],
    ['numbers by value across kinds', new Int32(1), 1.5],
    ['a double below a Long it cannot represent', 9007199254740992, Long.fromString('9007199254740993')],
    ['a Long below a larger double', Long.fromString('9007199254740993'), 9007199254740994],
    ['a fraction above its Long floor', Long.fromNumber(2), 2.5],
    ['Decimal128 by value', Decimal128.fromString('1.5'), new Double(2)],
    ['numbers before strings', Number.MAX_VALUE, ''],
    ['upper case before lower case (bytes)', 'Z', 'a'],
    ['ASCII before accented letters', 'z', 'é'],
    ['U+FFFD before astral characters (UTF-8, unlike UTF-16)', '\uFFFD', '𝔸'],
    ['a prefix first', 'ab', 'abc'],
    ['strings before documents', '𝔸', {}],
    ['documents by field value', { a: 1 }, { a: 2 }],
    ['documents by value type before field name', { b: 1 }, { a: 'x' }],
    ['documents by field name', { a: 1 }, { b: 1 }],
    ['a shorter document first', { a: 1 }, { a: 1, b: 1 }],
    ['documents before arrays', { z: 1 }, []],
    ['arrays element by element', [1, 2], [1, 3]],
    ['a shorter array first', [1], [1, 0]],
    ['arrays before binary data', [9], new Binary(new Uint8Array([0]))],
    ['binary data by length first', new Binary(new Uint8Array([9])), new Uint8Array([0, 0])],
    ['binary data before ObjectIds', new Uint8Array([255]), OID_1],
    ['ObjectIds by bytes', OID_1, OID_2],
    ['ObjectIds before booleans', OID_2, false],
    ['false before true', false, true],
    ['booleans before dates', true, new Date(0)],
    ['dates by time, before the epoch too', new Date(-1), new Date(0)],
    ['dates before timestamps', new Date(8.64e15), new Timestamp({ t: 0, i: 0 })],
    ['timestamps by time then increment', new Timestamp({ t: 1, i: 5 }), new Timestamp({ t: 1, i: 6 })],
    ['timestamps before regular expressions', new Timestamp({ t: 9, i: 9 }), /a/],
    ['regular expressions by pattern', /a/, new BSONRegExp('b', '')],
    ['regular expressions before MaxKey', /z/, new MaxKey()],
  ])('orders %s', (_title, smaller, larger) => {
    expect(compareBson(smaller, larger)).toBe(-1);
    expect(compareBson(larger, smaller)).toBe(1);
  });

  it.each<[string, unknown, unknown]>([
    ['Int32 and number', new Int32(1), 1],
    ['Long and number', Long.fromNumber(7), 7],
    ['Double and number', new Double(2.5), 2.5],
    ['0 and -0', 0, -0],
    ['NaN and NaN', Number.NaN, Number.NaN],
    ['ObjectIds with the same bytes', new ObjectId(OID_1.toHexString()), OID_1],
    ['dates with the same time', new Date(5), new Date(5)],
    ['documents with equal fields', { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }],
  ])('finds %s equal', (_title, a, b) => {
    expect(compareBson(a, b)).toBe(0);
  });

  it('sorts the id and date kinds we store in MongoDB order', () => {
    const mixed = [new Date(0), true, OID_1, { a: 1 }, 'b', 2, null, 'a', 1];
    expect(mixed.sort(compareBson)).toEqual([null, 1, 2, 'a', 'b', { a: 1 }, OID_1, true, new Date(0)]);
  });

  it('is a consistent total order on mixed values (antisymmetric and transitive)', () => {
    const value = fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.double({ noDefaultInfinity: false }),
      fc.string({ maxLength: 3 }),
      fc.boolean(),
      fc.constant(null),
      fc.integer({ min: -3, max: 3 }).map((n) => new Date(n)),
      fc.integer({ min: 1, max: 3 }).map((n) => new ObjectId(n.toString(16).padStart(24, '0'))),
      fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
    );
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        expect(compareBson(a, b)).toBe(-compareBson(b, a) || 0);
        if (compareBson(a, b) <= 0 && compareBson(b, c) <= 0)
          expect(compareBson(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe('compareUtf8', () => {
  it('agrees with comparing the UTF-8 bytes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 6 }),
        fc.string({ unit: 'binary', maxLength: 6 }),
        (a, b) => {
          const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
          expect(compareUtf8(a, b)).toBe(bytes);
        },
      ),
    );
  });
});

describe('sortKeyOf', () => {
  it.each<[string, unknown, string, 1 | -1, unknown]>([
    ['a missing field sorts as null', { a: 1 }, 'b', 1, null],
    ['an array ascending sorts by its smallest element', { a: [3, 1, 2] }, 'a', 1, 1],
    ['an array descending sorts by its largest element', { a: [3, 1, 2] }, 'a', -1, 3],
    ['an empty array sorts below null', { a: [] }, 'a', 1, undefined],
    ['a dotted path reaches into embedded documents', { a: { b: 'x' } }, 'a.b', 1, 'x'],
    ['a dotted path fans out over an array of documents', { a: [{ b: 5 }, { b: 4 }] }, 'a.b', 1, 4],
    ['a numeric path segment indexes an array', { a: [{ b: 5 }, { b: 4 }] }, 'a.0.b', 1, 5],
  ])('%s', (_title, doc, path, direction, expected) => {
    expect(sortKeyOf(doc, path, direction)).toEqual(expected);
  });
});

describe('sortDocuments', () => {
  it('sorts by several keys with their own directions and keeps ties in input order', () => {
    const docs = [
      { n: 1, k: 'a', tag: 'first' },
      { n: 2, k: 'b' },
      { n: 1, k: 'b' },
      { n: 1, k: 'a', tag: 'second' },
    ];
    expect(sortDocuments(docs, { k: 1, n: -1 })).toEqual([
      { n: 1, k: 'a', tag: 'first' },
      { n: 1, k: 'a', tag: 'second' },
      { n: 2, k: 'b' },
      { n: 1, k: 'b' },
    ]);
  });

  it('leaves its input untouched', () => {
    const docs = [{ n: 2 }, { n: 1 }];
    sortDocuments(docs, { n: 1 });
    expect(docs).toEqual([{ n: 2 }, { n: 1 }]);
  });

  it('rejects a direction other than 1 or -1', () => {
    expect(() => sortDocuments([{}], { n: 0 as 1 })).toThrow(/must be 1 or -1/);
  });
});
