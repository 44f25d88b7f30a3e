import { describe, expect, it } from 'vitest';
import { Account } from '../lib/account.js';
import { ValidationError } from '../lib/errors.js';

function validationErrorOf(action: () => unknown): ValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

const WRONG_LENGTH = 'must be exactly 13 characters (Unicode code points), got';

describe('Account', () => {
  it('lives in collection "Account"', () => {
    expect(Account.COLLECTION).toBe('Account');
  });

  it.each([
    ['13 digits', '7800000000000'],
    ['13 code points that include an astral character (14 UTF-16 units)', '780000000000😀'],
    ['13 Cyrillic letters', 'абвгдеёжзийкл'],
  ])('accepts a number of %s', (_case, number) => {
    expect(new Account({ number }).number).toBe(number);
    expect(Account.parseNumber(number)).toBe(number);
  });

  it.each([
    ['missing', undefined, 'is required'],
    ['null', null, 'is required'],
    ['a number', 7800000000000, 'must be a string, got number'],
    ['an array', ['7800000000000'], 'must be a string, got array'],
    ['an object', { $ne: null }, 'must be a string, got object'],
    ['empty', '', `${WRONG_LENGTH} 0`],
    ['12 characters', '780000000000', `${WRONG_LENGTH} 12`],
    ['14 characters', '78000000000000', `${WRONG_LENGTH} 14`],
    ['13 UTF-16 units but 12 code points (astral character)', '78000000000😀', `${WRONG_LENGTH} 12`],
    ['13 UTF-16 units but 7 code points (astral characters)', '1😀😀😀😀😀😀', `${WRONG_LENGTH} 7`],
  ])('rejects a number that is %s', (_case, number, reason) => {
    const fromConstructor = validationErrorOf(() => new Account({ number }));
    const fromParse = validationErrorOf(() => Account.parseNumber(number));
    for (const error of [fromConstructor, fromParse]) {
      expect(error.field).toBe('number');
      expect(error.reason).toBe(reason);
      expect(error.status).toBe(400);
      expect(error.message).toBe(`number: ${reason}`);
    }
  });

  it.each(['78000000000😀', '1😀😀😀😀😀😀'])(
    'counts code points, not UTF-16 units: %j is 13 units long',
    (number) => {
      expect(number.length).toBe(13);
      expect(() => Account.parseNumber(number)).toThrow(ValidationError);
    },
  );

  it('rejects construction without a number attribute', () => {
    expect(validationErrorOf(() => new Account({})).reason).toBe('is required');
  });

  it('names the field it was asked to when parsing a number from elsewhere (a page cursor)', () => {
    const error = validationErrorOf(() => Account.parseNumber('short', 'after'));
    expect(error.field).toBe('after');
    expect(error.reason).toBe(`${WRONG_LENGTH} 5`);
  });

  it('keeps the number exactly as given (no trimming)', () => {
    expect(validationErrorOf(() => Account.parseNumber(' 7800000000000')).reason).toBe(`${WRONG_LENGTH} 14`);
  });
});
