import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { JsonBodyEvent } from './json-body.js';

/** zod schemas for the parts of a request a route reads; omitted parts are not read at all. */
export interface RequestSchemas {
  readonly path?: z.ZodType;
  readonly query?: z.ZodType;
  readonly headers?: z.ZodType;
  readonly body?: z.ZodType;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** A request after validation: each part typed by its schema. */
export interface ParsedRequest<S extends RequestSchemas> {
  readonly path: Parsed<S['path']>;
  readonly query: Parsed<S['query']>;
  readonly headers: Parsed<S['headers']>;
  readonly body: Parsed<S['body']>;
}

type Part = keyof RequestSchemas;

/** The reason for a field the route does not accept, whatever the schema's error messages say. */
const UNKNOWN_FIELD_REASON = 'is not an accepted field';

/** Validates one part; the first issue becomes a ValidationError naming the field. */
function parsePart(part: Part, schema: z.ZodType | undefined, input: unknown): unknown {
  if (schema === undefined) return undefined;
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  if (issue === undefined) throw new ValidationError(part, 'is invalid');
  // zod's own message for unknown keys quotes them; the field name already names them once.
  const reason = issue.code === 'unrecognized_keys' ? UNKNOWN_FIELD_REASON : issue.message;
  throw new ValidationError(fieldName(part, issue), reason);
}

function fieldName(part: Part, issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path.push(issue.keys.join(', '));
  if (path.length === 0) return part;
  return part === 'body' ? `body.${path.join('.')}` : path.join('.');
}

/**
 * Reads and validates path parameters, query string, headers (already lower-cased) and the
 * parsed JSON body against the route's schemas. Values from the request only ever leave here as
 * what the schemas produce (strings, numbers, enums), never as raw objects.
 */
export function parseRequest<S extends RequestSchemas>(schemas: S, event: JsonBodyEvent): ParsedRequest<S> {
  return {
    path: parsePart('path', schemas.path, event.pathParameters ?? {}),
    query: parsePart('query', schemas.query, event.queryStringParameters ?? {}),
    headers: parsePart('headers', schemas.headers, event.headers ?? {}),
    body: parsePart('body', schemas.body, event.parsedBody),
  } as ParsedRequest<S>;
}
