// `artifact-store push <repo>[:tag] <files…>`: uploads each file through a native upload session
// (skipping blobs the server has), then publishes a package naming them with both digests.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { DualHasher } from '../data-plane/hasher.js';
import { isRelativePath } from '../native/package-manifest.js';
import { apiFetch, Progress, parseArgs, requireOk, serverUrl, UsageError } from './client.js';

const CHUNK = 16 * 1024 * 1024;

export const PUSH_HELP = `push <repo>[:tag] <files…> [--metadata file.json] [--schema variant]
                        [--artifact-type T] [--annotation key=value]… [--policy keep-existing|replace]
                        [--url URL]
                        upload the files and publish them as one native package (paths as given,
                        relative to the current directory); prints the package's address`;

interface FileEntry {
  file: string;
  path: string;
  size: number;
  sha256: string;
  blake3: string;
}

export async function push(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, {
    metadata: 'value',
    schema: 'value',
    'artifact-type': 'value',
    annotation: 'list',
    policy: 'value',
    url: 'value',
  });
  const [target, ...files] = positional;
  if (!target || files.length === 0) throw new UsageError('push: give <repo>[:tag] and at least one file');
  const [repo, tag] = target.split(':', 2) as [string, string | undefined];
  const url = serverUrl(flags.url as string | undefined);

  const entries: FileEntry[] = [];
  for (const file of files) entries.push(await upload(url, file));

  const metadata = flags.metadata
    ? (JSON.parse(await readFile(flags.metadata as string, 'utf8')) as Record<string, unknown>)
    : flags.schema
      ? {}
      : undefined;
  if (metadata && flags.schema) metadata.schema = flags.schema;
  const annotations: Record<string, string> = {};
  for (const pair of (flags.annotation as string[] | undefined) ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--annotation ${pair}: use key=value`);
    annotations[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const manifest: Record<string, unknown> = {
    manifest_version: 1,
    artifact_type: (flags['artifact-type'] as string | undefined) ?? 'application/vnd.artifact-store.package',
    files: entries.map((e) => ({
      media_type: 'application/octet-stream',
      size: e.size,
      sha256: `sha256:${e.sha256}`,
      blake3: `blake3:${e.blake3}`,
      path: e.path,
    })),
  };
  if (Object.keys(annotations).length > 0) manifest.annotations = annotations;
  if (metadata) manifest.metadata = metadata;

  const base = `${url}/api/v1/repositories/${repo}/packages`;
  const policy = flags.policy ? `?policy=${encodeURIComponent(flags.policy as string)}` : '';
  const res = await requireOk(
    await apiFetch(tag ? `${base}/${encodeURIComponent(tag)}${policy}` : base, {
      method: tag ? 'PUT' : 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(manifest),
    }),
  );
  process.stdout.write(`${JSON.stringify(await res.json())}\n`);
  return 0;
}

/** The path a file gets in the package: relative to the current directory, with `/` separators. */
function packagePath(file: string): string {
  const rel = isAbsolute(file) ? relative(process.cwd(), file) : file;
  const path = rel
    .split(sep)
    .join('/')
    .replace(/^(\.\/)+/, '');
  if (!isRelativePath(path)) {
    throw new UsageError(`${file}: a package path must stay inside the current directory (got ${path})`);
  }
  return path;
}

async function upload(url: string, file: string): Promise<FileEntry> {
  const path = packagePath(file);
  const { size } = await stat(file);
  // Hash first: a blob the server has already is not sent again.
  const hasher = new DualHasher();
  for await (const chunk of createReadStream(file)) hasher.update(chunk as Buffer);
  const { sha256, blake3 } = hasher.digest();
  const entry = { file, path, size, sha256, blake3 };
  if ((await apiFetch(`${url}/api/v1/blobs/blake3:${blake3}`, { method: 'HEAD' })).ok) return entry;

  const session = (await (
    await requireOk(await apiFetch(`${url}/api/v1/uploads`, { method: 'POST' }))
  ).json()) as {
    id: string;
  };
  const progress = new Progress(path, size);
  for (let offset = 0; offset < size || (size === 0 && offset === 0); ) {
    const end = Math.min(offset + CHUNK, size);
    if (end > offset) {
      const body = createReadStream(file, { start: offset, end: end - 1 });
      body.on('data', (chunk) => progress.advance((chunk as Buffer).byteLength));
      await requireOk(
        await apiFetch(`${url}/api/v1/uploads/${session.id}`, {
          method: 'PATCH',
          headers: {
            'Upload-Offset': String(offset),
            'Content-Length': String(end - offset),
            'Content-Type': 'application/octet-stream',
          },
          body: Readable.toWeb(body) as unknown as RequestInit['body'],
          duplex: 'half',
        } as RequestInit),
      );
    }
    offset = end;
    if (size === 0) break;
  }
  await requireOk(
    await apiFetch(`${url}/api/v1/uploads/${session.id}/complete`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sha256: `sha256:${sha256}`, blake3: `blake3:${blake3}` }),
    }),
  );
  progress.finish();
  return entry;
}
