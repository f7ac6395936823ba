// The registry the browser tests read: the real server (dist/cli.js) with authentication (admin may
// do everything, alice may pull only shop/a), filled by oras pushes and attaches, our CLI's native
// package with typed metadata, two releases and a retention policy.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { expect } from 'vitest';
import { basicOf, type PolicyRule, policyYaml } from '../helpers/auth-fixture.js';
import { oras } from '../helpers/oras.js';
import { runCli, type ServerProcess, spawnServer } from '../helpers/process.js';
import { freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

export const PASSWORDS = { admin: 'pw-admin', alice: 'pw-alice' } as const;
const ADMIN = basicOf('admin', PASSWORDS.admin);
/** oras flags: as the admin, over plain HTTP. */
export const asAdmin = ['-u', 'admin', '-p', PASSWORDS.admin, '--plain-http'];
const digestOf = (out: string) => /Digest: (sha256:[a-f0-9]{64})/.exec(out)?.[1] ?? '';

export interface UiFixture {
  server: ServerProcess;
  /** The working folder (files pushed, the server's data). */
  dir: string;
  /** host:port, as oras names the registry. */
  host: string;
  /** What was pushed. */
  pushed: {
    v1: string;
    report: string;
    reportAddress: string;
    sbom: string;
    signature: string;
    secret: string;
  };
  /** A native API call as the admin; its JSON (throws on a non-2xx answer). */
  api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startUiFixture(): Promise<UiFixture> {
  let server: ServerProcess;
  let host: string;
  const pushed = { v1: '', report: '', reportAddress: '', sbom: '', signature: '', secret: '' };
  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: ADMIN, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const dir = await tempDataDir('artifact-store-ui-');
  const lines = await Promise.all(
    Object.entries(PASSWORDS).map(async ([u, p]) => `${u}:${await hash(p, { cost: 4 })}`),
  );
  await writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
  const rules: PolicyRule[] = [
    { match: ['shop/a'], allow: { alice: ['pull'] } },
    { match: ['**'], allow: { admin: ['pull', 'push', 'delete'] } },
  ];
  await writeFile(join(dir, 'auth.yaml'), policyYaml('ui-test', rules, ['admin']));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(join(dir, 'token-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  const databaseUrl = await freshDatabaseUrl();
  server = await spawnServer({
    DATA_DIR: join(dir, 'data'),
    AUTH_CONFIG: join(dir, 'auth.yaml'),
    RATE_LIMIT: '0',
    AUTH_FAILURE_LIMIT: '0',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  try {
    host = new URL(server.url).host;

    // OCI artifacts by oras: shop/a:v1 (alice may pull it) and shop/b:v1 (she may not).
    await writeFile(join(dir, 'a.txt'), 'in shop a\n');
    await writeFile(join(dir, 'b-secret.txt'), `only for admins ${randomBytes(4).toString('hex')}\n`);
    pushed.v1 = digestOf(
      (
        await oras(
          ['push', ...asAdmin, `${host}/shop/a:v1`, 'a.txt', '--annotation', 'org.example.team=shop'],
          { cwd: dir },
        )
      ).stdout,
    );
    pushed.secret = digestOf(
      (await oras(['push', ...asAdmin, `${host}/shop/b:v1`, 'b-secret.txt'], { cwd: dir })).stdout,
    );

    // A native package with typed metadata, published by our CLI with an API token.
    await api('PUT', '/api/v1/schemas/ui.report.v1', {
      type: 'object',
      required: ['status'],
      properties: {
        status: { enum: ['passed', 'failed'], description: 'the outcome' },
        tests: { type: 'integer' },
      },
    });
    const token = await api('POST', '/api/v1/tokens', {
      name: 'ui-test',
      scopes: [{ repositories: ['shop/**'], actions: ['pull', 'push'] }],
    });
    await writeFile(join(dir, 'report.txt'), 'all good\n');
    await writeFile(join(dir, 'metadata.json'), JSON.stringify({ status: 'passed', tests: 42 }));
    const cli = await runCli(
      [
        'push',
        'shop/a:report',
        'report.txt',
        '--metadata',
        'metadata.json',
        '--schema',
        'ui.report.v1',
        '--url',
        server.url,
      ],
      { ARTIFACT_STORE_TOKEN: String(token.secret) },
      60_000,
      dir,
    );
    expect(cli.code, cli.stderr).toBe(0);
    const published = JSON.parse(cli.stdout) as { digest: string; address: string };
    pushed.report = published.digest;
    pushed.reportAddress = published.address;

    // Referrers of the package: an SBOM, and a signature of that SBOM.
    await writeFile(join(dir, 'sbom.json'), '{"spdxVersion":"SPDX-2.3"}');
    await writeFile(join(dir, 'sig.txt'), 'signature bytes');
    pushed.sbom = digestOf(
      (
        await oras(
          [
            'attach',
            ...asAdmin,
            `${host}/shop/a:report`,
            '--artifact-type',
            'application/spdx+json',
            'sbom.json',
          ],
          { cwd: dir },
        )
      ).stdout,
    );
    pushed.signature = digestOf(
      (
        await oras(
          [
            'attach',
            ...asAdmin,
            `${host}/shop/a@${pushed.sbom}`,
            '--artifact-type',
            'application/vnd.dev.cosign.artifact.sig.v1+json',
            'sig.txt',
          ],
          { cwd: dir },
        )
      ).stdout,
    );

    // Two releases of an app, and a retention policy for the dry run.
    await api('PUT', '/api/v1/schemas/ui.platform.v1', {
      type: 'object',
      properties: { ports: { type: 'array' } },
    });
    for (const ports of [[8080], [8081]]) {
      await api('POST', '/api/v1/apps/shop/releases', {
        image: `shop/a@${pushed.v1}`,
        platform: { ports },
        platform_schema: 'ui.platform.v1',
      });
    }
    // shop/old gets two tags, and a policy that keeps only the last one set.
    for (const tag of ['1', '2']) {
      await writeFile(join(dir, 'old.txt'), `old ${tag}\n`);
      await oras(['push', ...asAdmin, `${host}/shop/old:${tag}`, 'old.txt'], { cwd: dir });
    }
    await api('PUT', '/api/v1/retention-policies/keep-one', {
      repositories: ['shop/old'],
      keep_last: 1,
      untagged_after: '30d',
    });
  } catch (error) {
    // A failed setup leaves no server behind.
    await server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    dir,
    host,
    pushed,
    api,
    close: async () => {
      await server?.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
