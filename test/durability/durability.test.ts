// A 201 means durable: traced with strace, every 201 for a blob, a manifest or a native package (both
// APIs) follows (1) a sync of the bytes, (2) their link into the content address and a sync of that
// directory, and (3) a sync of the database's write-ahead log (the commit), in that order. Needs
// strace; CI sets REQUIRE_STRACE=1 so that a machine without it fails instead of skipping.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blake3Of } from '../helpers/native.js';
import { freePort } from '../helpers/process.js';
import { digestOf, tempDataDir } from '../helpers/registry.js';

const hasStrace = spawnSync('strace', ['-V']).status === 0;
if (!hasStrace && process.env.REQUIRE_STRACE === '1')
  throw new Error('strace is required (REQUIRE_STRACE=1)');

interface Call {
  pid: number;
  start: number;
  end: number;
  name: string;
  args: string;
}

/**
 * Parses `strace -f -ttt -T -y` lines: `pid time name(args) = ret <duration>`. When threads run
 * syscalls at the same time, strace splits a call into `name(args <unfinished ...>` and, later,
 * `<... name resumed>rest) = ret <duration>`: the two halves are joined.
 */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const unfinished = new Map<string, { start: number; head: string }>();
  for (const line of text.split('\n')) {
    let whole = line;
    const split = /^(\d+)\s+(\d+\.\d+)\s+(\w+\(.*) <unfinished \.\.\.>$/.exec(line);
    if (split) {
      const name = /^(\w+)\(/.exec(split[3]!)![1]!;
      unfinished.set(`${split[1]} ${name}`, { start: Number(split[2]), head: split[3]! });
      continue;
    }
    const resumed = /^(\d+)\s+\d+\.\d+\s+<\.\.\. (\w+) resumed>(.*)$/.exec(line);
    if (resumed) {
      const first = unfinished.get(`${resumed[1]} ${resumed[2]}`);
      if (!first) continue;
      unfinished.delete(`${resumed[1]} ${resumed[2]}`);
      whole = `${resumed[1]} ${first.start} ${first.head}${resumed[3]}`;
    }
    const m = /^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+).*<(\d+\.\d+)>$/.exec(whole);
    if (!m || Number(m[5]) < 0) continue;
    const start = Number(m[2]);
    calls.push({ pid: Number(m[1]), start, end: start + Number(m[6]), name: m[3]!, args: m[4]! });
  }
  return calls;
}

const isSync = (c: Call) => c.name === 'fsync' || c.name === 'fdatasync';

describe.skipIf(!hasStrace)('durability (strace)', () => {
  let dataDir: string;
  let url: string;
  let stop: () => Promise<string>;

  beforeAll(async () => {
    dataDir = await tempDataDir('artifact-store-durable-');
    const port = await freePort();
    const tracePath = join(dataDir, '..', `${dataDir.split('/').pop()}.trace`);
    const child = spawn(
      'strace',
      [
        ...['-f', '-qq', '-ttt', '-T', '-y', '-s', '40', '-o', tracePath],
        ...['-e', 'trace=fsync,fdatasync,write,writev,link,rename', '-e', 'signal=none'],
        ...[process.execPath, 'dist/cli.js', 'serve'],
      ],
      { env: { ...process.env, PORT: String(port), DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start:\n${output}`)), 90_000);
      child.stdout!.on('data', (d) => {
        output += d;
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (d) => (output += d));
    });
    url = `http://127.0.0.1:${port}`;
    stop = async () => {
      // The server's pid is in DATA_DIR/lock; strace ends when its tracee does.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(Number((await readFile(join(dataDir, 'lock'), 'utf8')).trim()), 'SIGTERM');
      await exited;
      const trace = await readFile(tracePath, 'utf8');
      await rm(tracePath, { force: true });
      return trace;
    };
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every 201 follows a sync of the bytes, of their directory and of the database log', async () => {
    const blob = randomBytes(300_000);
    const chunked = randomBytes(200_000);
    // Every 201 in order; a session's creation stores no bytes (`bytes: false`).
    const pushes: { kind: string; digest: string; bytes?: false }[] = [];
    let res = await fetch(`${url}/v2/dur/a/blobs/uploads/?digest=${digestOf(blob)}`, {
      method: 'POST',
      body: blob,
    });
    expect(res.status).toBe(201);
    pushes.push({ kind: 'monolithic blob', digest: digestOf(blob) });

    const location = (await fetch(`${url}/v2/dur/a/blobs/uploads/`, { method: 'POST' })).headers.get(
      'location',
    )!;
    expect((await fetch(`${url}${location}`, { method: 'PATCH', body: chunked })).status).toBe(202);
    res = await fetch(`${url}${location}?digest=${digestOf(chunked)}`, { method: 'PUT' });
    expect(res.status).toBe(201);
    pushes.push({ kind: 'chunked blob', digest: digestOf(chunked) });

    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: digestOf(chunked),
            size: chunked.length,
          },
        ],
      }),
    );
    res = await fetch(`${url}/v2/dur/a/manifests/v1`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(res.status).toBe(201);
    pushes.push({ kind: 'manifest', digest: digestOf(manifest) });

    // The native API: an upload session completed, then a package published (its OCI projection,
    // the last of the bytes it stores before its commit).
    const native = randomBytes(100_000);
    const session = (await (await fetch(`${url}/api/v1/uploads`, { method: 'POST' })).json()) as {
      id: string;
    };
    pushes.push({ kind: 'native session', digest: '', bytes: false });
    const patched = await fetch(`${url}/api/v1/uploads/${session.id}`, {
      method: 'PATCH',
      headers: { 'Upload-Offset': '0', 'Content-Type': 'application/octet-stream' },
      body: native,
    });
    expect(patched.status).toBe(200);
    res = await fetch(`${url}/api/v1/uploads/${session.id}/complete`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sha256: digestOf(native) }),
    });
    expect(res.status).toBe(201);
    const completed = (await res.json()) as { blake3: string };
    pushes.push({ kind: 'native upload', digest: digestOf(native) });
    res = await fetch(`${url}/api/v1/repositories/dur/a/packages/n1`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        manifest_version: 1,
        artifact_type: 'application/vnd.example.durable',
        config: {
          media_type: 'application/octet-stream',
          size: blob.length,
          sha256: digestOf(blob),
          blake3: blake3Of(blob),
        },
        files: [
          {
            media_type: 'application/octet-stream',
            size: native.length,
            sha256: digestOf(native),
            blake3: completed.blake3,
            path: 'n.bin',
          },
        ],
      }),
    });
    expect(res.status).toBe(201);
    pushes.push({ kind: 'native package', digest: ((await res.json()) as { digest: string }).digest });

    const calls = parseTrace(await stop());
    const answers = calls.filter((c) => /^(write|writev)$/.test(c.name) && c.args.includes('HTTP/1.1 201'));
    expect(answers).toHaveLength(pushes.length);
    let from = 0;
    for (const [i, push] of pushes.entries()) {
      const answer = answers[i]!;
      if (push.bytes === false) {
        from = answer.end;
        continue;
      }
      const window = calls.filter((c) => c.start >= from && c.start < answer.start);
      const hex = push.digest.slice('sha256:'.length);
      const target = join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
      const linked = window.find((c) => c.name === 'link' && c.args.endsWith(`"${target}"`));
      expect(linked, `${push.kind}: link into the content address`).toBeDefined();
      // The linked file, and the temporary name it may have been written under before a rename.
      const source = /^"([^"]+)"/.exec(linked!.args)![1]!;
      const renamed = window.find((c) => c.name === 'rename' && c.args.endsWith(`"${source}"`));
      const names = [source, ...(renamed ? [/^"([^"]+)"/.exec(renamed.args)![1]!] : [])];
      const bytesSynced = window.find(
        (c) => isSync(c) && names.some((n) => c.args.includes(`<${n}>`)) && c.end <= linked!.start,
      );
      expect(bytesSynced, `${push.kind}: the bytes are synced before they are linked`).toBeDefined();
      const dirSynced = window.find(
        (c) => isSync(c) && c.args.includes(`<${join(target, '..')}>`) && c.start >= linked!.end,
      );
      expect(dirSynced, `${push.kind}: the directory is synced after the link`).toBeDefined();
      const walSynced = window.find(
        (c) => isSync(c) && /pg_wal\/[0-9A-F]{24}>/.test(c.args) && c.start >= dirSynced!.end,
      );
      expect(walSynced, `${push.kind}: the database log is synced after the bytes`).toBeDefined();
      expect(walSynced!.end, `${push.kind}: the log sync completes before the 201`).toBeLessThanOrEqual(
        answer.start,
      );
      from = answer.end;
    }
  });
});
