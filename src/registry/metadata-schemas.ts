// Typed metadata (A8): producers register a JSON Schema (draft 2020-12) per variant; a registered
// schema never changes (a new version is a new variant), so a compiled validator can be cached by
// the schema's content for good. A package whose metadata names a variant is validated at publish.
import { createHash } from 'node:crypto';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import canonicalize from 'canonicalize';
import type { Database } from '../control-plane/db.js';
import { findSchema, schemaPage } from '../control-plane/package-queries.js';
import { DomainError } from '../errors.js';
import { MAX_VARIANT_LENGTH, VARIANT } from '../native/package-manifest.js';
import { type RegistryContext, withMutation } from './context.js';

/**
 * ajv and its formats are loaded on first use (about 10 MiB and 30 ms that a registry which never
 * sees a schema does not pay at start-up).
 */
let ajvModules: Promise<{ Ajv: typeof Ajv2020; addFormats: (ajv: Ajv2020) => void }> | undefined;
function loadAjv() {
  ajvModules ??= Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')]).then(([ajv, formats]) => ({
    Ajv: ajv.Ajv2020,
    addFormats: formats.default as unknown as (ajv: Ajv2020) => void,
  }));
  return ajvModules;
}

export type SchemaOutcome = 'inserted' | 'unchanged';

export function requireVariant(variant: string): void {
  if (variant.length > MAX_VARIANT_LENGTH || !VARIANT.test(variant)) {
    throw new DomainError(
      'request-invalid',
      'a schema variant is dotted lower-case words, such as build.report.v1',
      {
        variant: variant.slice(0, 200),
      },
    );
  }
}

/** Registers `schema` as `variant`: the same body again is unchanged, a different one a conflict. */
export async function registerSchema(
  ctx: RegistryContext,
  variant: string,
  schema: unknown,
): Promise<SchemaOutcome> {
  requireVariant(variant);
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new DomainError('request-invalid', 'a schema is a JSON object (JSON Schema draft 2020-12)');
  }
  const text = canonicalize(schema) as string;
  // Stored as JSON (the schema table, the event log), which PostgreSQL cannot hold with a NUL in it.
  if (hasNul(schema)) {
    throw new DomainError(
      'request-invalid',
      'a schema must not contain a NUL character (in a key or a string)',
    );
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  await compile(schema as Record<string, unknown>, sha256);
  return withMutation(ctx, async (m) => {
    const existing = await findSchema(m.tx, variant);
    if (existing) {
      if (existing.sha256 === sha256) return 'unchanged';
      throw new DomainError(
        'schema-conflict',
        `schema ${variant} is registered with a different body; schemas are immutable, register a new variant (e.g. ${nextVariant(variant)})`,
        { variant, registered: `sha256:${existing.sha256}`, given: `sha256:${sha256}` },
      );
    }
    await m.emit({ type: 'schema.registered', variant, schema: JSON.parse(text), sha256 });
    return 'inserted';
  });
}

export async function getSchema(db: Database, variant: string): Promise<unknown> {
  requireVariant(variant);
  const row = await findSchema(db, variant);
  if (!row) throw unknownSchema(variant);
  return row.schema;
}

export async function listSchemas(db: Database, after: string | undefined, limit: number) {
  const rows = await schemaPage(db, after, limit + 1);
  const page = rows.slice(0, limit).map((r) => ({ variant: r.variant, sha256: `sha256:${r.sha256}` }));
  return { schemas: page, next: rows.length > limit ? page.at(-1)?.variant : undefined };
}

/** Validates metadata (its JSON projection, without `schema`) against a registered variant. */
export async function validateMetadata(
  db: Database,
  variant: string,
  metadata: unknown,
  /** Where the document sits in the request, for the errors' JSON pointers. */
  at = '/metadata',
): Promise<void> {
  const row = await findSchema(db, variant);
  if (!row) throw unknownSchema(variant);
  const validate = await compile(row.schema as Record<string, unknown>, row.sha256);
  if (validate(metadata)) return;
  const errors = (validate.errors ?? []).slice(0, 100).map((e) => ({
    pointer: `${at}${e.instancePath}`,
    keyword: e.keyword,
    message: e.message ?? 'is invalid',
  }));
  throw new DomainError('metadata-invalid', `metadata does not satisfy schema ${variant}`, {
    schema: variant,
    errors,
  });
}

const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 1000;

async function compile(schema: Record<string, unknown>, sha256: string): Promise<ValidateFunction> {
  const cached = compiled.get(sha256);
  if (cached) return cached;
  const { Ajv, addFormats } = await loadAjv();
  // One instance per schema: two schemas may declare the same $id.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  let validate: ValidateFunction;
  try {
    if (!ajv.validateSchema(schema)) {
      throw new Error(ajv.errorsText(ajv.errors, { dataVar: 'schema' }));
    }
    validate = ajv.compile(schema);
  } catch (error) {
    throw new DomainError(
      'request-invalid',
      `not a usable JSON Schema (draft 2020-12): ${(error as Error).message}`,
    );
  }
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(sha256, validate);
  return validate;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => key.includes('\0') || hasNul(item));
  }
  return false;
}

function unknownSchema(variant: string): DomainError {
  return new DomainError('schema-unknown', `schema variant ${variant} is not registered`, { variant });
}

function nextVariant(variant: string): string {
  const match = /^(.*\.v)(\d+)$/.exec(variant);
  return match ? `${match[1]}${Number(match[2]) + 1}` : `${variant}.v2`;
}
