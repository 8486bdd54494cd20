/**
 * The API as the security suites see it: every operation of the OpenAPI document the gateway
 * generates (never a hand-kept list), with who may call it (from the route table) and a request that
 * passes validation, built from the operation's schemas.
 */
import type { ApiKeyRole } from '@fairlabel/contracts';
import type { AppInstance } from '@fairlabel/http';

type Schema = Record<string, unknown>;
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** OpenAPI form, `/v1/jobs/{id}`. */
  path: string;
  /** `METHOD /path` in OpenAPI form: the key of the authorization table. */
  key: string;
  operationId: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON body's schema, if the operation documents one. */
  body: Schema | null;
  /** Roles allowed (undefined: any authenticated key). */
  roles: readonly ApiKeyRole[] | undefined;
  public: boolean;
}

export function operationsOf(app: AppInstance): { operations: Operation[]; doc: { components?: { schemas?: Record<string, Schema> } } } {
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Record<string, unknown>>>; components?: { schemas?: Record<string, Schema> } };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const fastifyUrl = path.replace(/\{([^}]+)\}/g, ':$1');
      const route = app.routeTable.find((r) => r.method === method.toUpperCase() && r.url === fastifyUrl);
      const params = (op.parameters as Parameter[] | undefined) ?? [];
      const content = (op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)?.content;
      operations.push({
        method: method.toUpperCase(),
        path,
        key: `${method.toUpperCase()} ${path}`,
        operationId: String(op.operationId),
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: content?.['application/json']?.schema ?? null,
        roles: route?.roles,
        public: route?.auth === 'public' || (Array.isArray(op.security) && op.security.length === 0),
      });
    }
  }
  return { operations, doc };
}

/** Resolves `$ref`s and the first branch of unions, so a sample can be built. */
function resolve(schema: Schema | undefined, components: Record<string, Schema>): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 20 && typeof s.$ref === 'string'; i++) s = components[(s.$ref as string).split('/').pop()!] ?? {};
  return s;
}

/**
 * A value that satisfies `schema` as far as a generic walk can tell (the first enum value, the
 * minimum, required properties only). Some fail a route's own refinements; that is fine, they are the
 * starting point for mutations, not the test.
 */
export function sampleOf(schema: Schema | undefined, components: Record<string, Schema>, ids: IdPool, depth = 0): unknown {
  const s = resolve(schema, components);
  if (depth > 8) return null;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if (s.default !== undefined) return s.default;
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = s[key] as Schema[] | undefined;
    if (branches?.length) {
      const nonNull = branches.find((b) => resolve(b, components).type !== 'null') ?? branches[0];
      return sampleOf(nonNull, components, ids, depth + 1);
    }
  }
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : (s.type as string | undefined);
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const name of (s.required as string[] | undefined) ?? []) out[name] = sampleOf(props[name], components, ids, depth + 1);
      return out;
    }
    case 'array': {
      const min = Number(s.minItems ?? 1);
      return Array.from({ length: Math.max(1, min) }, () => sampleOf(s.items as Schema, components, ids, depth + 1));
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? Math.max(s.minimum, type === 'integer' ? 1 : 0.5) : 1;
    case 'boolean':
      return false;
    case 'string':
      return stringSample(s, ids);
    default:
      return 'x';
  }
}

function stringSample(s: Schema, ids: IdPool): string {
  if (s.format === 'uuid') return ids.uuid();
  if (s.format === 'date-time') return '2026-01-01T00:00:00.000Z';
  if (s.format === 'date') return '2026-01-01';
  if (s.format === 'uri') return 'https://example.com/hook';
  if (typeof s.pattern === 'string') {
    if (s.pattern.includes('[A-Z]{3}')) return 'USD';
    if (s.pattern.includes('[A-Z]{2}')) return 'IN';
    if (s.pattern.includes('0-9')) return '1';
  }
  const min = Number(s.minLength ?? 1);
  return 'a'.repeat(Math.max(1, Math.min(min, 64)));
}

/** Ids of rows that exist, so that mutated requests also reach handlers past their 404s. */
export interface IdPool {
  uuid(): string;
  int(): string;
}
