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
import { bsonTypeRank, compareBson, type SortDirections, sortDocuments } from './bson-order.js';

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
  },
  pipeline: { ...pipelineOperators, $sort: bsonSort },
  projection: { ...projectionOperators },
  query: {
    ...queryOperators,
    $gt: queryComparison((order) => order > 0),
    $gte: queryComparison((order) => order >= 0),
    $lt: queryComparison((order) => order < 0),
    $lte: queryComparison((order) => order <= 0),
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
