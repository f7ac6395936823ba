// Starts a real registry server for a test file: the embedded PostgreSQL by default, or a fresh
// database on the PostgreSQL named by DATABASE_URL (the PostgreSQL pass); blobs in its DATA_DIR, or
// under a fresh prefix of the S3 bucket named by BLOB_STORE (the S3 pass). With TEST_NODES=2 (and
// both of those), a "registry" is two nodes sharing the database and the bucket behind a round-robin
// proxy, so every other request reaches the other node: tests run unchanged against several nodes.
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
  /** One node's own URL (the registry's URL but with TEST_NODES=2, where that is the proxy's). */
  nodeUrl: string;
  /** The JSON log lines the server wrote so far (errors only, unless LOG_LEVEL says otherwise). */
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

/**
 * Blobs are in an S3 bucket (the S3 pass): tests that inject faults by editing DATA_DIR's files
 * skip; everything above the storage driver is the same code on either store.
 */
export const onS3 = process.env.BLOB_STORE?.startsWith('s3://') ?? false;

/**
 * The S3 settings of the S3 pass (BLOB_STORE=s3://…) with a fresh prefix, so each registry starts
 * with an empty store; {} otherwise.
 */
export function freshBlobStore(): Record<string, string> {
  const base = process.env.BLOB_STORE;
  if (!base?.startsWith('s3://')) return {};
  const settings: Record<string, string> = {
    BLOB_STORE: `${base.replace(/\/+$/, '')}/t-${randomBytes(6).toString('hex')}`,
  };
  for (const name of ['S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'S3_PART_SIZE']) {
    const value = process.env[name];
    if (value) settings[name] = value;
  }
  return settings;
}

/**
 * Registries are several nodes behind a proxy (TEST_NODES=2 on the PostgreSQL + S3 pass): tests of
 * one process's internals (its metrics, its waiters) skip.
 */
export const multiNode =
  Number(process.env.TEST_NODES ?? '1') > 1 &&
  Boolean(process.env.DATABASE_URL && process.env.BLOB_STORE?.startsWith('s3://'));

/** Several nodes per registry (TEST_NODES=2): only where they can share a database and a bucket. */
function nodesWanted(env: Record<string, string>): number {
  const wanted = Number(process.env.TEST_NODES ?? '1');
  const shared = process.env.DATABASE_URL && process.env.BLOB_STORE?.startsWith('s3://');
  // A test that names its own database or store builds its own set-up.
  return wanted > 1 && shared && !env.DATABASE_URL && !env.BLOB_STORE ? wanted : 1;
}

export async function startTestRegistry(env: Record<string, string> = {}): Promise<TestRegistry> {
  const nodes = nodesWanted(env);
  if (nodes > 1) {
    const shared = { DATABASE_URL: (await freshDatabaseUrl()) as string, ...freshBlobStore(), ...env };
    const started: TestRegistry[] = [];
    for (let i = 0; i < nodes; i++) started.push(await startTestRegistry(shared));
    return behindProxy(started);
  }
  const dataDir = await tempDataDir();
  // Errors only, kept in memory (never printed), so that a failing test can say what the server hit;
  // request logs only when a test asks for them.
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    ...(env.BLOB_STORE ? {} : freshBlobStore()),
    ...env,
  });
  // A fresh database on the PostgreSQL pass, unless the test names one (e.g. two nodes sharing it).
  if (!env.DATABASE_URL) config.databaseUrl = await freshDatabaseUrl();
  const lines: string[] = [];
  const running = await startServer(config, {
    logDestination: { write: (line: string) => lines.push(line) },
  });
  return {
    ...running,
    dataDir,
    nodeUrl: running.url,
    fetch: (path, init) => fetch(`${running.url}${path}`, init),
    logs: () => [...lines],
    async close() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Nodes behind one round-robin proxy, as one TestRegistry: its url is the proxy's; what a test reads
 * from the process (ctx, dataDir, logs) is the first node's.
 */
async function behindProxy(nodes: TestRegistry[]): Promise<TestRegistry> {
  // Loaded only here: most runs never need it.
  const { startRoundRobin } = await import('../../scripts/round-robin.mjs');
  const proxy = await startRoundRobin(nodes.map((n) => n.url));
  const first = nodes[0] as TestRegistry;
  return {
    ...first,
    url: proxy.url,
    port: proxy.port,
    fetch: (path, init) => fetch(`${proxy.url}${path}`, init),
    logs: () => nodes.flatMap((n) => n.logs()),
    // SIGHUP goes to every node, as an operator's reload would.
    async reload() {
      const messages: string[] = [];
      for (const node of nodes) messages.push(...(await node.reload()));
      return messages;
    },
    async close() {
      await proxy.close();
      for (const node of nodes.reverse()) await node.close();
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

/**
 * For an assertion message: the answers that are not `expected` (status and body) and the errors the
 * server logged, so that a failure in CI names its cause. Reads the bodies of those answers.
 */
export async function explainStatuses(
  r: TestRegistry,
  answers: Response[],
  expected: number,
): Promise<string> {
  const wrong = answers.filter((a) => a.status !== expected);
  const bodies = await Promise.all(wrong.map(async (a) => `${a.status} ${(await a.text()).slice(0, 500)}`));
  return [...bodies, ...r.logs().filter((line) => line.includes('"level":"error"'))].join('\n');
}
