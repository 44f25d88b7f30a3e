import type { Document } from 'mongodb';
import { Account } from '../account.js';
import { ValidationError } from '../errors.js';

/** The action types every summary lists, always in this order, even with count 0. */
export const ACTION_TYPES = ['create', 'read', 'update', 'delete'] as const;

/** Default and maximum page size of {@link listAccountActions}. */
export const DEFAULT_ACTIONS_PAGE_LIMIT = 100;
export const MAX_ACTIONS_PAGE_LIMIT = 1000;

/**
 * The longest `after` cursor accepted, in UTF-16 units. The cursor is the last `number` of the
 * previous page, whatever the data holds (not only well-formed 13-character numbers), so it is
 * bounded only to keep requests small.
 */
export const MAX_ACTIONS_CURSOR_LENGTH = 1024;

/** How often an account performed one action type, and when last (`null` when never, or undated). */
export type ActionSummary = { type: string; last: Date | null; count: number };

/** One output document of the actions summary. */
export type AccountActions = { number: string; actions: ActionSummary[] };

/** A keyset page: accounts with `number > after` (all when absent), at most `limit` of them. */
export type ActionsPage = { after?: string; limit: number };

// Everything below is per-document expression work inside one $project: no $unwind, no $group, so
// the pipeline streams, never hits the 100 MB blocking-stage limit, and keeps accounts without
// actions. Only operators that both MongoDB 5.0 and mingo 7 implement are used ($sortArray is 5.2+,
// so extra types are ordered by an insertion sort written with $reduce). Actions are never
// flattened into one array: concatenating session after session (`$reduce` + `$concatArrays`)
// copies the growing array once per session, quadratic in the number of sessions. Each type is
// counted session by session instead, so the work is (types) × (actions).

/** Values of `field` when it is an array, else an empty array (missing, null, or a wrong type). */
export function arrayOrEmpty(field: string): Document {
  return { $cond: [{ $isArray: [field] }, field, []] };
}

/** True when `expression` has BSON type `bsonType` (`'object'`, `'string'`, `'date'`, …). */
export function isOfType(expression: string, bsonType: string): Document {
  return { $eq: [{ $type: expression }, bsonType] };
}

/**
 * The distinct non-canonical strings of `types` (an array expression), ascending in binary string
 * order, as MongoDB's `$lt`: an insertion sort written with `$reduce`, which also drops duplicates.
 */
export function extraTypesAscending(types: Document | string): Document {
  return {
    $reduce: {
      input: { $setDifference: [types, { $literal: [...ACTION_TYPES] }] },
      initialValue: [],
      in: {
        $concatArrays: [
          { $filter: { input: '$$value', as: 'known', cond: { $lt: ['$$known', '$$this'] } } },
          ['$$this'],
          { $filter: { input: '$$value', as: 'known', cond: { $gt: ['$$known', '$$this'] } } },
        ],
      },
    },
  };
}

/**
 * The range of instants a JavaScript `Date` can hold, ±8.64e15 ms around the epoch (years −271821
 * to 275760). A BSON date is any int64 of milliseconds; one outside this range is read as an
 * invalid Date by both the driver and the Extended JSON reader, so it could never be reported.
 */
const DATE_RANGE_MS = 8.64e15;

/**
 * True when `expression` is a date JavaScript can hold. An action dated outside that range counts
 * but, like an undated one, gives no `last`: otherwise MongoDB's `$max` would pick it (the driver
 * then decodes it as an invalid Date), while the embedded store, which reads it as an invalid Date
 * already, would pick the latest valid date instead.
 */
function isRepresentableDate(expression: string): Document {
  return {
    $and: [
      isOfType(expression, 'date'),
      { $gte: [expression, new Date(-DATE_RANGE_MS)] },
      { $lte: [expression, new Date(DATE_RANGE_MS)] },
    ],
  };
}

/**
 * The `$match` on `number` every summary query starts with: `condition`, and `number` not an
 * array. MongoDB applies a query condition to each element of an array field: `$type: 'string'`,
 * `$gt` and equality all match an array holding one fitting string, and `$sort` then places the
 * document by its smallest element. An account whose number is an array would show up with a
 * number that is no string (`"a,b"`, in the answer and as the next cursor). Only string numbers
 * are account numbers, so arrays are excluded here, for one account and on every page alike. The
 * condition keeps its index bounds; the array test is a filter on the fetched documents.
 */
function matchNumber(condition: Document): Document {
  return { $match: { number: { ...condition, $not: { $type: 'array' } } } };
}

/**
 * Per session (object sessions only), its countable actions: documents whose `type` is a string.
 * An array of arrays, one per session.
 */
function countableActionsBySession(): Document {
  return {
    $map: {
      input: {
        $filter: { input: arrayOrEmpty('$sessions'), as: 'session', cond: isOfType('$$session', 'object') },
      },
      as: 'session',
      in: {
        $filter: {
          input: arrayOrEmpty('$$session.actions'),
          as: 'action',
          cond: { $and: [isOfType('$$action', 'object'), isOfType('$$action.type', 'string')] },
        },
      },
    },
  };
}

/** Every distinct type in `$$sessions`. */
function typesInSessions(): Document {
  return {
    $reduce: {
      input: '$$sessions',
      initialValue: [],
      in: { $setUnion: ['$$value', { $map: { input: '$$this', as: 'action', in: '$$action.type' } }] },
    },
  };
}

/**
 * `{ type, last, count }` for `$$actionType` over `$$sessions`: one pass over each session's actions
 * picks that type's actions and notes their count and latest date. Undated actions (and those dated
 * beyond JavaScript's range) count but have no `last` (`$max` ignores the nulls they become).
 */
function summaryOfType(): Document {
  return {
    $let: {
      vars: {
        bySession: {
          $map: {
            input: '$$sessions',
            as: 'session',
            in: {
              $let: {
                vars: {
                  ofType: {
                    $filter: {
                      input: '$$session',
                      as: 'action',
                      cond: { $eq: ['$$action.type', '$$actionType'] },
                    },
                  },
                },
                in: {
                  count: { $size: '$$ofType' },
                  last: {
                    $max: {
                      $map: {
                        input: '$$ofType',
                        as: 'action',
                        in: {
                          $cond: [isRepresentableDate('$$action.created_at'), '$$action.created_at', null],
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
      in: {
        type: '$$actionType',
        last: { $ifNull: [{ $max: '$$bySession.last' }, null] },
        count: { $sum: '$$bySession.count' },
      },
    },
  };
}

function summaryStage(): Document {
  return {
    $project: {
      _id: 0,
      number: 1,
      actions: {
        $let: {
          vars: { sessions: countableActionsBySession() },
          in: {
            $let: {
              vars: { extraTypes: extraTypesAscending(typesInSessions()) },
              in: {
                $map: {
                  input: { $concatArrays: [{ $literal: [...ACTION_TYPES] }, '$$extraTypes'] },
                  as: 'actionType',
                  in: summaryOfType(),
                },
              },
            },
          },
        },
      },
    },
  };
}

/**
 * The summary of one account. `$match` on `number` comes first so MongoDB uses the unique index
 * and the rest of the pipeline sees at most one document. A document whose `number` is an array
 * holding this number is no match (see {@link matchNumber}).
 *
 * @throws ValidationError('number', reason) for a malformed number (never reaches the database).
 */
export function accountActionsPipeline(number: string): Document[] {
  return [matchNumber({ $eq: Account.parseNumber(number) }), summaryStage()];
}

/**
 * One keyset page of summaries, ordered by `number`: `$match` (`number > after`, or any string
 * number on the first page; never an array, see {@link matchNumber}) → `$sort` → `$limit` →
 * per-document summary. The match and sort are served by the unique index on `number`; the
 * summary runs only on the page's documents.
 *
 * `after` is any string up to {@link MAX_ACTIONS_CURSOR_LENGTH}: it is the last number of the
 * previous page as stored, which need not be a well-formed account number, and it only ever
 * reaches MongoDB as a string compared with `$gt`, never as a key or an expression.
 *
 * @throws ValidationError('after' | 'limit', reason) for a malformed cursor or page size.
 */
export function actionsPagePipeline(page: ActionsPage): Document[] {
  const limit = parseLimit(page.limit);
  const number = page.after === undefined ? { $type: 'string' } : { $gt: parseActionsCursor(page.after) };
  return [matchNumber(number), { $sort: { number: 1 } }, { $limit: limit }, summaryStage()];
}

/**
 * Returns `after` as a page cursor: any string up to {@link MAX_ACTIONS_CURSOR_LENGTH}.
 *
 * @throws ValidationError('after', reason)
 */
export function parseActionsCursor(after: unknown): string {
  if (typeof after !== 'string') throw new ValidationError('after', 'must be a string');
  if (after.length > MAX_ACTIONS_CURSOR_LENGTH) {
    throw new ValidationError('after', `must be at most ${MAX_ACTIONS_CURSOR_LENGTH} characters`);
  }
  return after;
}

function parseLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_ACTIONS_PAGE_LIMIT) {
    throw new ValidationError('limit', `must be an integer from 1 to ${MAX_ACTIONS_PAGE_LIMIT}`);
  }
  return limit;
}
