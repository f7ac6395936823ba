// Typed metadata (A8) over real HTTP: schemas are registered once and immutable, packages are
// validated against the variant they name, and queried by metadata fields through an index.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, putJson, storeFile } from '../helpers/native.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const REPORT_V1 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    status: { enum: ['passed', 'failed'] },
    duration_ms: { type: 'integer', minimum: 0 },
    runner: { type: 'object', properties: { os: { type: 'string' } }, required: ['os'] },
  },
  required: ['status'],
  additionalProperties: false,
};

async function report(repo: string, metadata: Record<string, unknown>, tag?: string) {
  const file = await storeFile(r, repo, 'report.json', Buffer.from(JSON.stringify(metadata)));
  return publish(r, repo, tag, {
    manifest_version: 1,
    artifact_type: 'application/vnd.example.build-report',
    files: [file],
    metadata,
  });
}

describe('typed metadata', () => {
  it('registers a schema once; the same body is unchanged, a different one a conflict', async () => {
    const first = await putJson(r, '/api/v1/schemas/build.report.v1', REPORT_V1);
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ variant: 'build.report.v1', outcome: 'inserted' });
    // the same schema with its keys in another order is the same body
    const reordered = Object.fromEntries(Object.entries(REPORT_V1).reverse());
    const same = await putJson(r, '/api/v1/schemas/build.report.v1', reordered);
    expect(same.status).toBe(200);
    expect(((await same.json()) as { outcome: string }).outcome).toBe('unchanged');
    const different = await putJson(r, '/api/v1/schemas/build.report.v1', { ...REPORT_V1, required: [] });
    expect(different.status).toBe(409);
    const conflict = (await different.json()) as { error: { code: string; message: string } };
    expect(conflict.error.code).toBe('schema-conflict');
    expect(conflict.error.message).toContain('build.report.v2');

    const fetched = await r.fetch('/api/v1/schemas/build.report.v1');
    expect(await fetched.json()).toEqual(REPORT_V1);
    expect((await r.fetch('/api/v1/schemas/nope.v1')).status).toBe(404);
    const list = (await (await r.fetch('/api/v1/schemas')).json()) as { schemas: { variant: string }[] };
    expect(list.schemas.map((s) => s.variant)).toContain('build.report.v1');
  });

  it('refuses a schema that is not a JSON Schema, and bad variant names', async () => {
    const notSchema = await putJson(r, '/api/v1/schemas/bad.v1', { type: 'objekt' });
    expect(notSchema.status).toBe(400);
    expect(((await notSchema.json()) as { error: { code: string } }).error.code).toBe('request-invalid');
    expect((await putJson(r, '/api/v1/schemas/Bad.Name', { type: 'object' })).status).toBe(400);
    expect((await putJson(r, '/api/v1/schemas/ok.v1', [1, 2])).status).toBe(400);
  });

  it('bounds every JSON body: a schema past the limit is 413 and is not registered', async () => {
    const huge = { type: 'object', description: 'x'.repeat(17 * 1024 * 1024) };
    const res = await putJson(r, '/api/v1/schemas/huge.v1', huge);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('manifest-too-large');
    expect((await r.fetch('/api/v1/schemas/huge.v1')).status).toBe(404);
  });

  it('validates metadata at publish: 422 with a JSON pointer per error; unknown variants refused', async () => {
    await putJson(r, '/api/v1/schemas/build.report.v1', REPORT_V1);
    const bad = await report('meta/bad', {
      schema: 'build.report.v1',
      status: 'maybe',
      duration_ms: -1,
      runner: {},
      extra: true,
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error?.code).toBe('metadata-invalid');
    const pointers = ((bad.body.error?.details.errors ?? []) as { pointer: string }[])
      .map((e) => e.pointer)
      .sort();
    expect(pointers).toEqual(
      expect.arrayContaining(['/metadata', '/metadata/duration_ms', '/metadata/runner', '/metadata/status']),
    );
    const unknown = await report('meta/bad', { schema: 'never.registered.v1', status: 'passed' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error?.code).toBe('schema-unknown');
    // nothing was stored
    const list = (await (await r.fetch('/api/v1/repositories/meta/bad/packages')).json()) as {
      packages: unknown[];
    };
    expect(list.packages).toEqual([]);
    // metadata without a schema is the escape hatch
    expect((await report('meta/free', { anything: { goes: [1, 2] } })).status).toBe(201);
  });

  it('queries packages by typed metadata fields', async () => {
    await putJson(r, '/api/v1/schemas/build.report.v1', REPORT_V1);
    const passed = await report('meta/q', {
      schema: 'build.report.v1',
      status: 'passed',
      duration_ms: 10,
      runner: { os: 'linux' },
    });
    const failed = await report('meta/q', {
      schema: 'build.report.v1',
      status: 'failed',
      duration_ms: 20,
      runner: { os: 'mac' },
    });
    const other = await report('meta/q', { status: 'passed' }); // no schema
    const query = async (q: string) =>
      (
        (await (await r.fetch(`/api/v1/repositories/meta/q/packages?${q}`)).json()) as {
          packages: { address: string; schema?: string; metadata: unknown }[];
        }
      ).packages.map((p) => p.address);
    expect(await query('schema=build.report.v1&metadata.status=passed')).toEqual([passed.body.address]);
    expect(await query('metadata.status=passed')).toEqual([other.body.address, passed.body.address]);
    expect(await query('metadata.duration_ms=20')).toEqual([failed.body.address]);
    expect(await query('metadata.runner.os=mac')).toEqual([failed.body.address]);
    expect(await query('schema=build.report.v1')).toEqual([failed.body.address, passed.body.address]);
    expect(await query('metadata.status=passed&metadata.runner.os=mac')).toEqual([]);
    const one = (await (
      await r.fetch(`/api/v1/repositories/meta/q/packages?metadata.runner.os=linux`)
    ).json()) as {
      packages: { schema: string; metadata: unknown }[];
    };
    expect(one.packages[0]).toMatchObject({
      schema: 'build.report.v1',
      metadata: { status: 'passed', duration_ms: 10, runner: { os: 'linux' } },
    });
  });

  it('serves a metadata query from the GIN index, not a table scan', async () => {
    // The planner picks a scan for a tiny table; forbidding sequential scans shows the index serves it.
    const plan = await r.ctx.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const rows = await tx.execute(
        sql`explain select digest from manifests where repository = 'meta/q' and metadata_schema = 'build.report.v1' and metadata @> '{"status":"passed"}'::jsonb`,
      );
      return (rows as unknown as { 'QUERY PLAN': string }[]).map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/manifests_metadata_idx|manifests_schema_idx/);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
