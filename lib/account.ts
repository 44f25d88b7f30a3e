import { ValidationError } from './errors.js';
import { Model } from './model.js';

/** Length of an account number (лицевой счёт), counted in Unicode code points. */
export const ACCOUNT_NUMBER_LENGTH = 13;

/** The attributes an {@link Account} is built from; validated at runtime, so any value is accepted. */
export interface AccountFields {
  readonly number?: unknown;
}

/**
 * A user account in collection `Account` (= `Account.COLLECTION`).
 *
 * @example
 * ```ts
 * new Account({ number: '7800000000000' }).number; // '7800000000000'
 * new Account({ number: '780' }); // throws ValidationError: 'number: must be exactly 13 characters (Unicode code points), got 3'
 * ```
 */
export class Account extends Model {
  /** Exactly {@link ACCOUNT_NUMBER_LENGTH} Unicode code points. */
  readonly number: string;

  /** @throws ValidationError('number', reason) when `number` is missing or malformed. */
  constructor(fields: AccountFields) {
    super();
    this.number = Account.parseNumber(fields.number);
  }

  /**
   * Returns `value` as an account number, or throws a {@link ValidationError} naming `field` and
   * the reason. Length is counted in code points, not UTF-16 units, so a 13-unit string holding an
   * astral character (2 units each) is too short. The value is not trimmed or normalised: what is
   * stored is what is matched.
   */
  static parseNumber(value: unknown, field = 'number'): string {
    if (value === undefined || value === null) {
      throw new ValidationError(field, 'is required');
    }
    if (typeof value !== 'string') {
      throw new ValidationError(field, `must be a string, got ${describeType(value)}`);
    }
    const length = [...value].length;
    if (length !== ACCOUNT_NUMBER_LENGTH) {
      throw new ValidationError(
        field,
        `must be exactly ${ACCOUNT_NUMBER_LENGTH} characters (Unicode code points), got ${length}`,
      );
    }
    return value;
  }
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
