import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { OUTPUTS_ADDED_LATER, RUN_OUTPUT_NAMES } from '../../lib/runs/outputs.js';
import { readYaml } from './yaml.js';

type Routes = string[];

async function openapiRoutes(): Promise<Routes> {
  const document = (await readYaml('openapi.yaml')) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  expect(document.openapi).toMatch(/^3\.1\./);
  return Object.entries(document.paths)
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

async function serverlessRoutes(): Promise<Routes> {
  const service = (await readYaml('serverless.yml')) as {
    functions: Record<string, { events?: Array<{ httpApi?: { method: string; path: string } }> }>;
  };
  return (
    Object.values(service.functions)
      .flatMap((fn) => fn.events ?? [])
      .flatMap((event) =>
        event.httpApi ? [`${event.httpApi.method.toUpperCase()} ${event.httpApi.path}`] : [],
      )
      // OpenAPI has no greedy path parameters: `{value+}` is documented as `{value}`.
      .map((route) => route.replaceAll(/\{(\w+)\+\}/g, '{$1}'))
      .sort()
  );
}

describe('openapi.yaml', () => {
  it('describes exactly the HTTP routes serverless.yml deploys', async () => {
    const [documented, deployed] = await Promise.all([openapiRoutes(), serverlessRoutes()]);
    expect(deployed).toHaveLength(6);
    expect(documented).toEqual(deployed);
  });

  it('resolves every $ref to a component it defines', async () => {
    const document = await readYaml('openapi.yaml');
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const path = ref.slice('"$ref":"#/'.length, -1).split('/');
      let node: unknown = document;
      for (const segment of path) node = (node as Record<string, unknown> | undefined)?.[segment];
      expect(node, ref).toBeDefined();
    }
  });

  it('lists every run output by name, requiring those every run has', async () => {
    const document = (await readYaml('openapi.yaml')) as {
      components: {
        schemas: { MatchingRun: { properties: { outputs: { properties: object; required: string[] } } } };
      };
    };
    const outputs = document.components.schemas.MatchingRun.properties.outputs;
    expect(Object.keys(outputs.properties).sort()).toEqual([...RUN_OUTPUT_NAMES].sort());
    const later: readonly string[] = OUTPUTS_ADDED_LATER;
    expect([...outputs.required].sort()).toEqual(
      RUN_OUTPUT_NAMES.filter((name) => !later.includes(name)).sort(),
    );
  });

  it('describes shards as the request schema takes it, on requests and on runs', async () => {
    const document = (await readYaml('openapi.yaml')) as {
      components: { schemas: Record<string, { properties: Record<string, unknown>; oneOf?: unknown }> };
    };
    const { schemas } = document.components;
    expect(Object.keys(schemas.CreateMatchingRunRequest?.properties ?? {}).sort()).toEqual([
      'limitationPeriod',
      'partitionBy',
      'policy',
      'shards',
    ]);
    expect(schemas.Shards?.oneOf).toEqual([
      { type: 'string', const: 'auto' },
      { type: 'integer', minimum: 1, maximum: loadConfig({}).MAX_SHARDS },
    ]);
    for (const run of ['MatchingRun', 'MatchingRunListItem'])
      expect(schemas[run]?.properties.shards, run).toMatchObject({ $ref: '#/components/schemas/Shards' });
  });
});
