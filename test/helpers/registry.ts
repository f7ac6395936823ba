// Starts a real registry server for a test file: the embedded PostgreSQL by default, or a fresh
// database on the PostgreSQL named by DATABASE_URL (the PostgreSQL pass).
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type RunningRegistry, startServer } from '../../src/server.js';

export { snapshotViews } from '../../src/control-plane/event-log.js';

export interface TestRegistry extends RunningRegistry {
  dataDir: string;
  /** The JSON log lines the server wrote so far (none unless LOG_LEVEL is set). */
  logs(): string[];
  /** fetch relative to the registry root */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** A fresh, empty database URL on the PostgreSQL of DATABASE_URL, or undefined for the embedded one. */
export async function freshDatabaseUrl(): Promise<string | undefined> {
  const base = process.env.DATABASE_URL;
  if (!base) return undefined;
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A new empty DATA_DIR that the embedded PostgreSQL's user can enter (it is not root's). */
export async function tempDataDir(prefix = 'artifact-store-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

export async function startTestRegistry(env: Record<string, string> = {}): Promise<TestRegistry> {
  const dataDir = await tempDataDir();
  // Request logs off unless a test asks for them (they would fill the test output).
  const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  // A fresh database on the PostgreSQL pass, unless the test names one (e.g. two nodes sharing it).
  if (!env.DATABASE_URL) config.databaseUrl = await freshDatabaseUrl();
  const lines: string[] = [];
  const running = await startServer(config, {
    logDestination: { write: (line: string) => lines.push(line) },
  });
  return {
    ...running,
    dataDir,
    fetch: (path, init) => fetch(`${running.url}${path}`, init),
    logs: () => [...lines],
    async close() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Pushes a blob monolithically (POST ?digest=) and returns its digest. */
export async function pushBlob(r: TestRegistry, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = digestOf(bytes);
  const res = await r.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${await res.text()}`);
  return digest;
}

export const EMPTY_CONFIG = Buffer.from('{}');

/** Pushes `{}` config + the given layers and an image manifest referencing them. */
export async function pushImage(
  r: TestRegistry,
  repo: string,
  reference: string,
  layers: Uint8Array[],
  extra: Record<string, unknown> = {},
): Promise<{ digest: string; bytes: Buffer; response: Response }> {
  const config = await pushBlob(r, repo, EMPTY_CONFIG);
  const layerDescriptors = [];
  for (const layer of layers) {
    layerDescriptors.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: await pushBlob(r, repo, layer),
      size: layer.byteLength,
    });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
    layers: layerDescriptors,
    ...extra,
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const response = await r.fetch(`/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: bytes,
  });
  if (response.status !== 201) throw new Error(`push manifest: ${response.status} ${await response.text()}`);
  return { digest: digestOf(bytes), bytes, response };
}

/** The OCI error code of an error answer (which must be JSON). */
export async function errorCode(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toBe('application/json');
  return ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;
}
