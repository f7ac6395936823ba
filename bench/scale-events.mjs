// @ts-check
// The rebuild part of the scale benchmark (bench/scale.mjs): writes `count` valid, hash-chained events
// straight into a fresh embedded database (our compiled modules from dist/: openDatabase, chainHash;
// no HTTP), shaped like pushes, then times rebuildViews and checks the rebuilt views' row counts
// against what the generator knows it wrote.
//
// A push of image i in repository r is 7 events: upload.started, upload.completed, blob.committed
// (its layer), blob.linked, blob.committed (the manifest's bytes), manifest.stored (with its
// references) and tag.set; every 10th push also moves the repository's `latest` tag to it (tag.set
// the first time), and every 50th is then deleted by its client (tag.deleted, manifest.deleted).
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log } from './log.mjs';
import { serverCpu } from './proc.mjs';
import { ROOT } from './settings.mjs';

/** @typedef {import('../src/control-plane/db.js').OpenDatabase} OpenDatabase */
/** @typedef {import('../src/control-plane/events.js').RegistryEvent} RegistryEvent */

/**
 * @typedef {object} RebuildResult
 * @property {number} events
 * @property {number} writeS seconds to generate and write them
 * @property {number} rebuildS seconds rebuildViews took
 * @property {number} rebuildCpuS this process's CPU seconds during it
 * @property {number} databaseCpuS the embedded PostgreSQL's CPU seconds during it
 * @property {Record<string, number>} counts rows per view after the rebuild
 * @property {Record<string, number>} expected rows per view the generator expects
 * @property {boolean} countsOk
 */

/** Rows per INSERT … SELECT FROM unnest(…). */
const BATCH = 5000;
const REPOSITORIES = 1000;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** @param {number} n @param {string} salt */
function hex(n, salt) {
  // Distinct, well-spread 64-hex-digit names without hashing (the rebuild does not check them).
  const a = (n * 2654435761) >>> 0;
  return `${salt}${a.toString(16).padStart(8, '0')}${n.toString(16).padStart(12, '0')}`.padEnd(64, '0');
}

/**
 * Yields `total` events (exactly), in log order, and the view row counts they leave.
 * @param {number} total
 */
function generator(total) {
  const expected = {
    repositories: 0,
    blobs: 0,
    repositoryBlobs: 0,
    manifests: 0,
    manifestReferences: 0,
    tags: 0,
    uploads: 0,
  };
  /** @type {Map<number, number | undefined>} the push `latest` points at, per repository */
  const latest = new Map();
  /** @type {RegistryEvent[]} */
  const queue = [];
  /** What the event leaves in the views (the last push may be cut short: only what was emitted counts). */
  const count = (/** @type {RegistryEvent} */ e) => {
    if (e.type === 'repository.created') expected.repositories++;
    else if (e.type === 'blob.committed') expected.blobs++;
    else if (e.type === 'blob.linked') expected.repositoryBlobs++;
    else if (e.type === 'upload.started') expected.uploads++;
    else if (e.type === 'upload.completed') expected.uploads--;
    else if (e.type === 'tag.set') expected.tags++;
    else if (e.type === 'tag.deleted') expected.tags--;
    else if (e.type === 'manifest.stored') {
      expected.manifests++;
      expected.manifestReferences += e.references?.blobs.length ?? 0;
    } else if (e.type === 'manifest.deleted') {
      expected.manifests--;
      expected.manifestReferences--;
    }
  };
  let produced = 0;
  let push = 0;
  function refill() {
    const r = push % REPOSITORIES;
    const repository = `bench/repo-${String(r).padStart(4, '0')}`;
    if (push < REPOSITORIES) queue.push({ type: 'repository.created', repository });
    const layer = hex(push, 'a');
    const bytes = hex(push, 'b');
    const digest = `sha256:${bytes}`;
    const id = `upload-${push}`;
    const tag = `v${push}`;
    queue.push(
      { type: 'upload.started', id, repository },
      { type: 'upload.completed', id, repository, sha256: layer },
      { type: 'blob.committed', sha256: layer, blake3: hex(push, 'c'), size: 1000 + (push % 7919) },
      { type: 'blob.linked', repository, sha256: layer, via: 'upload' },
      { type: 'blob.committed', sha256: bytes, blake3: hex(push, 'd'), size: 400 },
      {
        type: 'manifest.stored',
        repository,
        digest,
        mediaType: MANIFEST_TYPE,
        size: 400,
        sha256: bytes,
        annotations: { 'org.example.push': String(push) },
        references: { blobs: [layer], manifests: [] },
      },
      { type: 'tag.set', repository, tag, digest },
    );
    if (push % 10 === 9) {
      const previous = latest.get(r);
      if (previous === undefined) {
        queue.push({ type: 'tag.set', repository, tag: 'latest', digest });
      } else {
        queue.push({
          type: 'tag.moved',
          repository,
          tag: 'latest',
          digest,
          previous: `sha256:${hex(previous, 'b')}`,
        });
      }
      latest.set(r, push);
    } else if (push % 50 === 48) {
      // Deleted by its client: its tag, then the manifest (nothing else points at it).
      queue.push(
        { type: 'tag.deleted', repository, tag, digest },
        { type: 'manifest.deleted', repository, digest },
      );
    }
    push++;
  }
  return {
    expected,
    /** @returns {RegistryEvent | undefined} */
    next() {
      if (produced === total) return undefined;
      if (queue.length === 0) refill();
      produced++;
      const event = /** @type {RegistryEvent} */ (queue.shift());
      count(event);
      return event;
    },
  };
}

/**
 * @param {string} dir a fresh directory for the database
 * @param {number} count events to write
 * @param {string} [distDir] our compiled modules (the directory of BENCH_OURS_CLI)
 * @returns {Promise<RebuildResult>}
 */
export async function rebuildBench(dir, count, distDir = join(ROOT, 'dist')) {
  await mkdir(dir, { recursive: true });
  const dist = (/** @type {string} */ path) => pathToFileURL(join(distDir, path)).href;
  /** @type {typeof import('../src/control-plane/db.js')} */
  const dbModule = await import(dist('control-plane/db.js'));
  /** @type {typeof import('../src/control-plane/event-log.js')} */
  const eventLog = await import(dist('control-plane/event-log.js'));
  const open = await dbModule.openDatabase({
    embeddedDir: join(dir, 'pg'),
    connectTimeoutMs: 60_000,
    log: (line) => log(`rebuild database: ${line}`),
  });
  try {
    const { sql } = open;
    const gen = generator(count);
    log(`rebuild: writing ${count} chained events`);
    const t0 = performance.now();
    let hash = eventLog.GENESIS_HASH;
    let seq = 0;
    const base = Date.UTC(2026, 0, 1);
    let event = gen.next();
    while (event) {
      /** @type {string[]} */
      const rows = [];
      while (event && rows.length < BATCH) {
        seq++;
        const at = new Date(base + seq);
        hash = eventLog.chainHash(hash, seq, at, event);
        const { type, ...payload } = event;
        rows.push(JSON.stringify({ seq, type, payload, at: at.toISOString(), hash }));
        event = gen.next();
      }
      await sql`insert into events (seq, type, payload, at, hash)
        select seq, type, payload, at, hash from jsonb_to_recordset(${`[${rows.join(',')}]`}::jsonb)
          as x(seq bigint, type text, payload jsonb, at timestamptz, hash text)`;
      if (seq % 100_000 < BATCH) log(`rebuild: ${seq} events written`);
    }
    await sql`update event_head set seq = ${seq}, hash = ${hash} where id = 1`;
    await sql`analyze events`;
    const writeS = (performance.now() - t0) / 1000;
    log(`rebuild: ${seq} events written in ${writeS.toFixed(1)} s; rebuilding the views`);
    // The embedded server's process tree (postmaster and backends): its CPU time is the database's work.
    const postmaster = Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const pg0 = serverCpu([postmaster]);
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    const replayed = await eventLog.rebuildViews(open.db);
    const rebuildS = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const pg1 = serverCpu([postmaster]);
    const databaseCpuS = pg1.user + pg1.sys - pg0.user - pg0.sys;
    log(
      `rebuild: ${replayed} events replayed in ${rebuildS.toFixed(1)} s ` +
        `(CPU: this process ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, PostgreSQL ${databaseCpuS.toFixed(1)} s)`,
    );
    /** @type {Record<string, number>} */
    const counts = {};
    const tables = {
      repositories: 'repositories',
      blobs: 'blobs',
      repositoryBlobs: 'repository_blobs',
      manifests: 'manifests',
      manifestReferences: 'manifest_references',
      tags: 'tags',
      uploads: 'uploads',
    };
    for (const [key, table] of Object.entries(tables)) {
      const [row] = await sql`select count(*)::int as n from ${sql(table)}`;
      counts[key] = Number(row?.n);
    }
    const expected = { ...gen.expected };
    const countsOk = replayed === seq && Object.entries(expected).every(([k, v]) => counts[k] === v);
    if (!countsOk) log(`rebuild: counts ${JSON.stringify(counts)}, expected ${JSON.stringify(expected)}`);
    const broken = await eventLog.verifyEventLog(open.db);
    if (broken !== undefined) log(`rebuild: the generated chain breaks at ${broken}`);
    return {
      events: seq,
      writeS,
      rebuildS,
      rebuildCpuS: (cpu.user + cpu.system) / 1e6,
      databaseCpuS,
      counts,
      expected,
      countsOk: countsOk && broken === undefined,
    };
  } finally {
    await open.close();
  }
}
