import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';

/** CloudFormation short-form tags (`!Ref`, `!Sub`, `!GetAtt`, …) read as their long form. */
const CLOUDFORMATION_TAGS = [
  'Ref',
  'Sub',
  'GetAtt',
  'Join',
  'If',
  'Equals',
  'Select',
  'Split',
  'ImportValue',
  'FindInMap',
];

const schema = yaml.DEFAULT_SCHEMA.extend(
  CLOUDFORMATION_TAGS.flatMap((name) => {
    const key = name === 'Ref' ? 'Ref' : `Fn::${name}`;
    const construct = (data: unknown) => ({
      [key]: name === 'GetAtt' && typeof data === 'string' ? data.split('.') : data,
    });
    return (['scalar', 'sequence', 'mapping'] as const).map(
      (kind) => new yaml.Type(`!${name}`, { kind, construct }),
    );
  }),
);

/** Parses a YAML file (serverless.yml, openapi.yaml), understanding CloudFormation tags. */
export async function readYaml(path: string): Promise<unknown> {
  return yaml.load(await readFile(path, 'utf8'), { schema, filename: path });
}
