/**
 * The baseline of the actions-summary measurement: the summary pipeline as it was before it stopped
 * flattening. Every session's actions are appended to one array (`$reduce` + `$concatArrays`, which
 * copies the growing array once per session: quadratic in the number of sessions), then each type
 * is counted and dated over that array. Same output as `accountActionsPipeline` of
 * lib/summary/; only the single-account pipeline is kept.
 */
import type { Document } from 'mongodb';
import { Account } from '../lib/account.js';
import { ACTION_TYPES, arrayOrEmpty, extraTypesAscending, isOfType } from '../lib/summary/index.js';

/** Every action of every session in one array, keeping only documents whose `type` is a string. */
function flattenedCountableActions(): Document {
  return {
    $filter: {
      input: {
        $reduce: {
          input: arrayOrEmpty('$sessions'),
          initialValue: [],
          in: {
            $concatArrays: [
              '$$value',
              { $cond: [isOfType('$$this', 'object'), arrayOrEmpty('$$this.actions'), []] },
            ],
          },
        },
      },
      as: 'action',
      cond: { $and: [isOfType('$$action', 'object'), isOfType('$$action.type', 'string')] },
    },
  };
}

/** `{ type, last, count }` for `$$actionType` over `$$actions`. */
function summaryOfType(): Document {
  return {
    $let: {
      vars: {
        ofType: {
          $filter: { input: '$$actions', as: 'action', cond: { $eq: ['$$action.type', '$$actionType'] } },
        },
      },
      in: {
        type: '$$actionType',
        last: {
          $ifNull: [
            {
              $max: {
                $map: {
                  input: {
                    $filter: {
                      input: '$$ofType',
                      as: 'action',
                      cond: isOfType('$$action.created_at', 'date'),
                    },
                  },
                  as: 'action',
                  in: '$$action.created_at',
                },
              },
            },
            null,
          ],
        },
        count: { $size: '$$ofType' },
      },
    },
  };
}

/**
 * The flattening pipeline for account `number`: `$match` on `number`, then one `$project`.
 *
 * @example
 * for await (const doc of store.aggregate('Account', flatteningAccountActionsPipeline(number))) { ... }
 */
export function flatteningAccountActionsPipeline(number: string): Document[] {
  return [
    { $match: { number: Account.parseNumber(number) } },
    {
      $project: {
        _id: 0,
        number: 1,
        actions: {
          $let: {
            vars: { actions: flattenedCountableActions() },
            in: {
              $let: {
                vars: {
                  extraTypes: extraTypesAscending({
                    $map: { input: '$$actions', as: 'action', in: '$$action.type' },
                  }),
                },
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
    },
  ];
}
