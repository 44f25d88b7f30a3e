import { Context, evalExpr, ProcessingMode } from 'mingo/core';
import { Lazy } from 'mingo/lazy';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import type { CollectionResolver, Options } from 'mingo/types';
import { resolve } from 'mingo/util';
import {
  bsonTypeAlias,
  bsonTypeRank,
  compareBson,
  type SortDirections,
  sortDocuments,
} from './bson-order.js';

/**
 * The mingo operator set the embedded store runs with: every query, projection, expression,
 * pipeline, accumulator and window operator mingo ships (the `mingo/aggregator` and `mingo/query`
 * entry points register none by themselves), with the ordering operators replaced by versions that
 * follow MongoDB's BSON order (lib/store/bson-order.ts):
 *
 * - `$sort` stage: MongoDB type order, UTF-8 string order, missing fields as null, arrays by their
 *   min (ascending) / max (descending) element. A `$sort` under a collation keeps mingo's.
 * - query `$gt $gte $lt $lte`: MongoDB type bracketing (`{ id: { $gt: 5 } }` never matches a
 *   string) with BSON order inside the bracket, so a keyset page (`number > after`) agrees with the
 *   `$sort` that produced `after`.
 * - expression `$cmp $gt $gte $lt $lte`: BSON order across types, as in aggregation expressions.
 *   Numbers of every kind compare by exact value (Decimal128 included).
 * - query `$type`: an array field matches when the array itself or any element has the type, as
 *   MongoDB documents (mingo tests only the field as a whole); BSON classes and DBRef are named
 *   as the server names them (mingo calls a DBRef `'dbref'`, an ObjectId `'objectid'`).
 * - expression `$type`: the server's type names (`'objectId'`, `'decimal'`, `'binData'`, …), and
 *   `'object'` for a DBRef.
 *
 * Accumulators that order values (`$min`, `$max`, `$top`, ...) keep mingo's order.
 */

type SortStage = typeof pipelineOperators.$sort;
type QueryComparison = typeof queryOperators.$gt;
type ExpressionComparison = typeof expressionOperators.$gt;

const bsonSort: SortStage = (collection, sortKeys, options) => {
  if (options.collation) return pipelineOperators.$sort(collection, sortKeys, options);
  const spec: SortDirections = sortKeys;
  return collection.transform((items: unknown[]) => Lazy(sortDocuments(items, spec)));
};

/** What a query comparison sees for one field: every array element and the array itself. */
function candidates(resolved: unknown): unknown[] {
  if (resolved === undefined) return [null];
  if (Array.isArray(resolved)) return [...resolved, resolved];
  return [resolved];
}

function queryComparison(accepts: (order: number) => boolean): QueryComparison {
  return (selector, value, _options) => {
    const bracket = bsonTypeRank(value);
    return (doc) => {
      const resolved = resolve(doc, selector, { unwrapArray: true });
      return candidates(resolved).some(
        (candidate) => bsonTypeRank(candidate) === bracket && accepts(compareBson(candidate, value)),
      );
    };
  };
}

function evalPair(
  doc: Parameters<ExpressionComparison>[0],
  expr: unknown,
  options: Options,
): [unknown, unknown] {
  if (!Array.isArray(expr) || expr.length !== 2) {
    throw new Error('comparison expression expects an array of two arguments');
  }
  const values = evalExpr(doc, expr, options);
  return Array.isArray(values) ? [values[0], values[1]] : [undefined, undefined];
}

function expressionComparison(accepts: (order: number) => boolean): ExpressionComparison {
  return (doc, expr, options) => {
    const [a, b] = evalPair(doc, expr, options);
    return accepts(compareBson(a, b));
  };
}

/** Names a query `$type` takes besides the aliases: BSON type numbers (deprecated ones included). */
const TYPE_NUMBERS: Readonly<Record<number, string>> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  12: 'dbPointer',
  13: 'javascript',
  14: 'symbol',
  15: 'javascriptWithScope',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};

function hasType(value: unknown, alias: string): boolean {
  if (alias === 'number') return bsonTypeRank(value) === bsonTypeRank(0);
  // A plain number was a double, an int32 or an int64 before it was read; accept each that can
  // hold it (as mingo does), since which one it was is lost.
  if (typeof value === 'number') {
    if (alias === 'double') return true;
    if (alias === 'long') return Number.isSafeInteger(value);
    if (alias === 'int') return bsonTypeAlias(value) === 'int';
  }
  return bsonTypeAlias(value) === alias;
}

const bsonTypeQuery: typeof queryOperators.$type = (selector, value, _options) => {
  const aliases = (Array.isArray(value) ? value : [value]).map((type) =>
    typeof type === 'number' ? (TYPE_NUMBERS[type] ?? '') : String(type),
  );
  return (doc) => {
    const resolved = resolve(doc, selector, { unwrapArray: true });
    // A missing field has no type; an array is tested whole and element by element.
    if (resolved === undefined) return false;
    const values = Array.isArray(resolved) ? [resolved, ...resolved] : [resolved];
    return values.some((candidate) => aliases.some((alias) => hasType(candidate, alias)));
  };
};

const bsonTypeExpression: typeof expressionOperators.$type = (doc, expr, options) =>
  bsonTypeAlias(evalExpr(doc, expr, options));

const bsonCmp: typeof expressionOperators.$cmp = (doc, expr, options) => {
  const [a, b] = evalPair(doc, expr, options);
  return compareBson(a, b);
};

/** All of mingo's operators with MongoDB ordering semantics; see the module comment. */
export const MONGO_COMPATIBLE_CONTEXT: Context = Context.init({
  accumulator: { ...accumulatorOperators },
  expression: {
    ...expressionOperators,
    $cmp: bsonCmp,
    $gt: expressionComparison((order) => order > 0),
    $gte: expressionComparison((order) => order >= 0),
    $lt: expressionComparison((order) => order < 0),
    $lte: expressionComparison((order) => order <= 0),
    $type: bsonTypeExpression,
  },
  pipeline: { ...pipelineOperators, $sort: bsonSort },
  projection: { ...projectionOperators },
  query: {
    ...queryOperators,
    $gt: queryComparison((order) => order > 0),
    $gte: queryComparison((order) => order >= 0),
    $lt: queryComparison((order) => order < 0),
    $lte: queryComparison((order) => order <= 0),
    $type: bsonTypeQuery,
  },
  window: { ...windowOperators },
});

/**
 * mingo options for the embedded store. Outputs are cloned so a caller that mutates a returned
 * document cannot change the cached collection. Scripts stay enabled: mingo implements
 * `$setWindowFields` with `$function` internally, and `$where` / `$function` only run JavaScript
 * functions, which JSON input (files, HTTP bodies) cannot carry.
 */
export function mingoOptions(collectionResolver?: CollectionResolver): Partial<Options> {
  return {
    context: MONGO_COMPATIBLE_CONTEXT,
    processingMode: ProcessingMode.CLONE_OUTPUT,
    scriptEnabled: true,
    useStrictMode: true,
    ...(collectionResolver ? { collectionResolver } : {}),
  };
}
