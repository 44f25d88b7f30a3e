import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';

/**
 * The state machine of sharded runs (serverless/matching-state-machine.yml), for local runs and
 * tests: loaded as serverless.yml deploys it, then adapted to what aws-local-stepfunctions
 * executes. Its Distributed Map reads the shard list from S3 (ItemReader) and runs each shard as a
 * child execution; locally the Map is inline and iterates the same list from the plan's result
 * (`shards`, beside `itemsKey`). Only AWS exercises the ItemReader, the child executions, their
 * IAM (StartExecution, DescribeExecution, StopExecution, s3:GetObject) and
 * ToleratedFailurePercentage; locally a failed iteration fails the Map as it does on AWS with 0 %
 * tolerated.
 */

export const STATE_MACHINE_FILE = path.resolve(
  import.meta.dirname,
  '../serverless/matching-state-machine.yml',
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
export type StateMachineDefinition = { StartAt: string; States: Record<string, JsonObject> } & JsonObject;

/** The deployed definition, with `Fn::GetAtt` task resources still in it. */
export async function loadStateMachineDefinition(file = STATE_MACHINE_FILE): Promise<StateMachineDefinition> {
  const document = yaml.load(await readFile(file, 'utf8')) as { definition?: StateMachineDefinition };
  if (!document?.definition?.States) throw new Error(`${file} has no definition with States`);
  return document.definition;
}

/** Fields only a Distributed Map has; aws-local-stepfunctions does not execute them. */
const DISTRIBUTED_ONLY = [
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'Label',
] as const;

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `$.plan.itemsKey` → `$.plan.shards`: the plan returns the items inline beside their S3 key (PlanResult). */
function inlineItemsPath(itemReader: Json | undefined): string {
  const key =
    isObject(itemReader) && isObject(itemReader.Parameters) ? itemReader.Parameters['Key.$'] : undefined;
  if (typeof key !== 'string' || !key.endsWith('.itemsKey'))
    throw new Error('a Distributed Map must read its items from a Key.$ path ending in .itemsKey');
  return `${key.slice(0, -'itemsKey'.length)}shards`;
}

/**
 * `definition` as aws-local-stepfunctions runs it (a new object; the argument is not changed):
 * every `{ "Fn::GetAtt": [<function key>, "Arn"] }` becomes `functionResource(key)`, and every
 * Distributed Map an inline Map over the plan's inline item list.
 */
export function localDefinition(
  definition: StateMachineDefinition,
  functionResource: (functionKey: string) => string,
): StateMachineDefinition {
  function adapt(value: Json): Json {
    if (Array.isArray(value)) return value.map(adapt);
    if (!isObject(value)) return value;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && getAtt[1] === 'Arn')
      return functionResource(getAtt[0]);
    const entries = Object.entries(value).map(([key, inner]) => [key, adapt(inner)] as const);
    const adapted: JsonObject = Object.fromEntries(entries);
    const processor = adapted.ItemProcessor;
    if (
      adapted.Type === 'Map' &&
      isObject(processor) &&
      isObject(processor.ProcessorConfig) &&
      processor.ProcessorConfig.Mode === 'DISTRIBUTED'
    ) {
      adapted.ItemsPath = inlineItemsPath(value.ItemReader);
      for (const field of DISTRIBUTED_ONLY) delete adapted[field];
      adapted.ItemProcessor = { ...processor, ProcessorConfig: { Mode: 'INLINE' } };
    }
    return adapted;
  }
  return adapt(definition) as StateMachineDefinition;
}

/**
 * aws-local-stepfunctions (engines: Node >= 22) calls `Promise.withResolvers`, which Node 20
 * lacks; this stand-in is all it misses there (its tests here run on Node 20).
 */
export function ensurePromiseWithResolvers(): void {
  const promise = Promise as unknown as { withResolvers?: () => unknown };
  promise.withResolvers ??= () => {
    let resolve: (value: unknown) => void = () => undefined;
    let reject: (reason?: unknown) => void = () => undefined;
    const created = new Promise((yes, no) => {
      resolve = yes;
      reject = no;
    });
    return { promise: created, resolve, reject };
  };
}
