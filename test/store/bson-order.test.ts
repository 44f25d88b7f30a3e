import {
  Binary,
  BSONRegExp,
  Code,
  DBRef,
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
import {
  bsonTypeAlias,
  compareBson,
  compareUtf8,
  dbRefAsDocument,
  sortDocuments,
  sortKeyOf,
} from '../../lib/store/bson-order.js';

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
    ['decimal 0.1 below the double 0.1 (0.1000000000000000055…)', Decimal128.fromString('0.1'), 0.1],
    ['the double 0.3 (0.299999999999999988…) below decimal 0.3', 0.3, Decimal128.fromString('0.3')],
    ['the double 2^53 below decimal 2^53 + 1', 9007199254740992, Decimal128.fromString('9007199254740993')],
    [
      'decimals a double cannot tell apart',
      Decimal128.fromString('1.0000000000000000000000000000001'),
      Decimal128.fromString('1.0000000000000000000000000000002'),
    ],
    [
      'a Long below a decimal a tenth above it',
      Long.fromString('9223372036854775807'),
      Decimal128.fromString('9223372036854775807.1'),
    ],
    [
      'a decimal beyond every double below +Infinity',
      Decimal128.fromString('1E+400'),
      Number.POSITIVE_INFINITY,
    ],
    [
      '-Infinity below a decimal beyond every double',
      Number.NEGATIVE_INFINITY,
      Decimal128.fromString('-1E+400'),
    ],
    ['decimal NaN below decimal -Infinity', Decimal128.fromString('NaN'), Decimal128.fromString('-Infinity')],
    ['the tiniest decimal above 0', 0, Decimal128.fromString('1E-6176')],
    ['a negative decimal below a smaller negative double', Decimal128.fromString('-2.5'), -2.25],
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
    ['decimals with different trailing zeros', Decimal128.fromString('1.50'), Decimal128.fromString('1.5E0')],
    ['a decimal and the double holding it exactly', Decimal128.fromString('0.5'), 0.5],
    ['a decimal and a Long', Decimal128.fromString('9007199254740993'), Long.fromString('9007199254740993')],
    ['decimal -0 and 0', Decimal128.fromString('-0'), 0],
    ['decimal NaN and NaN', Decimal128.fromString('NaN'), Number.NaN],
    ['decimal and double infinity', Decimal128.fromString('Infinity'), Number.POSITIVE_INFINITY],
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

/** A number as an exact fraction `numerator / denominator` (denominator > 0), for the reference. */
function fraction(value: number | Decimal128): [bigint, bigint] {
  if (typeof value !== 'number') {
    const [mantissa = '', exponent = '0'] = value.toString().split('E');
    const [whole = '', decimals = ''] = mantissa.split('.');
    const scale = Number(exponent) - decimals.length;
    const digits = BigInt(whole + decimals);
    return scale >= 0 ? [digits * 10n ** BigInt(scale), 1n] : [digits, 10n ** BigInt(-scale)];
  }
  // IEEE 754 fields, read from the bits.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const significand = (bits & 0xfffffffffffffn) + (biased === 0 ? 0n : 1n << 52n);
  const power = (biased === 0 ? 1 : biased) - 1075;
  const signed = negative ? -significand : significand;
  return power >= 0 ? [signed << BigInt(power), 1n] : [signed, 1n << BigInt(-power)];
}

describe('compareBson on numbers of mixed kinds', () => {
  const decimal = fc
    .tuple(fc.bigInt({ min: -(10n ** 34n) + 1n, max: 10n ** 34n - 1n }), fc.integer({ min: -40, max: 40 }))
    .map(([digits, exponent]) => Decimal128.fromString(`${digits}E${exponent}`));
  const nearby = fc.oneof(
    decimal,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer().map((n) => n / 8),
    fc.constantFrom(0.1, 0.3, 9007199254740992, 1e-30),
    fc
      .constantFrom('0.1', '0.3', '9007199254740993', '1E-30', '-0')
      .map((text) => Decimal128.fromString(text)),
  );

  it('orders finite decimals, doubles and integers by exact value, as MongoDB does', () => {
    fc.assert(
      fc.property(nearby, nearby, (a, b) => {
        const [p, q] = fraction(a);
        const [r, t] = fraction(b);
        const left = p * t;
        const right = r * q;
        expect(compareBson(a, b)).toBe(left < right ? -1 : left > right ? 1 : 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('bsonTypeAlias', () => {
  it.each<[string, unknown, string]>([
    ['a missing value', undefined, 'missing'],
    ['null', null, 'null'],
    ['a small integer', 5, 'int'],
    ['an integer beyond int32', 2 ** 40, 'long'],
    ['a fraction', 2.5, 'double'],
    ['an integer beyond the safe range', 2 ** 60, 'double'],
    ['-0', -0, 'double'],
    ['a bigint', 5n, 'long'],
    ['a Long', Long.fromNumber(5), 'long'],
    ['an Int32', new Int32(5), 'int'],
    ['a Double', new Double(5), 'double'],
    ['a Decimal128', Decimal128.fromString('1'), 'decimal'],
    ['a string', 'x', 'string'],
    ['a document', { a: 1 }, 'object'],
    ['a DBRef (an embedded document to the server)', new DBRef('c', 1 as unknown as ObjectId), 'object'],
    ['an array', [1], 'array'],
    ['a Binary', new Binary(new Uint8Array([1])), 'binData'],
    ['an ObjectId', OID_1, 'objectId'],
    ['a boolean', false, 'bool'],
    ['a date', new Date(0), 'date'],
    ['a timestamp', new Timestamp({ t: 1, i: 1 }), 'timestamp'],
    ['a regular expression', /a/, 'regex'],
    ['a BSON regular expression', new BSONRegExp('a', ''), 'regex'],
    ['code', new Code('x'), 'javascript'],
    ['MinKey', new MinKey(), 'minKey'],
    ['MaxKey', new MaxKey(), 'maxKey'],
  ])('names %s as MongoDB’s $type does', (_title, value, alias) => {
    expect(bsonTypeAlias(value)).toBe(alias);
  });
});

describe('dbRefAsDocument', () => {
  it('gives the embedded document the server holds: $ref, $id, $db, then the other fields', () => {
    const document = dbRefAsDocument(new DBRef('session', OID_1, 'billing', { actions: [], n: 1 }));
    expect(Object.entries(document ?? {})).toEqual([
      ['$ref', 'session'],
      ['$id', OID_1],
      ['$db', 'billing'],
      ['actions', []],
      ['n', 1],
    ]);
  });

  it('leaves $db out when the DBRef has none, and anything that is not a DBRef alone', () => {
    expect(dbRefAsDocument(new DBRef('session', 7 as unknown as ObjectId))).toEqual({
      $ref: 'session',
      $id: 7,
    });
    expect(dbRefAsDocument({ $ref: 'session', $id: 7 })).toBeUndefined();
    expect(dbRefAsDocument(null)).toBeUndefined();
  });

  it('orders a DBRef among documents as the embedded document it is', () => {
    // DBRef's type wants an ObjectId; any value is a valid $id.
    const ONE = 1 as unknown as ObjectId;
    expect(compareBson(new DBRef('a', ONE), { $ref: 'a', $id: 1 })).toBe(0);
    expect(compareBson(new DBRef('a', ONE, 'db', { x: 1 }), { $ref: 'a', $id: 1, $db: 'db', x: 1 })).toBe(0);
    expect(compareBson(new DBRef('a', ONE, 'db', { x: 1 }), { $ref: 'a', $id: 1, $db: 'db', x: 2 })).toBe(-1);
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
