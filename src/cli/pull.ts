// `artifact-store pull <repo>:<ref> -o <dir>`: fetches a package's files by their blake3 digest into
// the folder under their paths, checking both digests as the bytes arrive (a file appears only whole).
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DualHasher } from '../data-plane/hasher.js';
import { isRelativePath } from '../native/package-manifest.js';
import { apiFetch, getJson, Progress, parseArgs, requireOk, serverUrl, UsageError } from './client.js';

export const PULL_HELP = `pull <repo>:<ref> -o <dir> [--url URL]
                        fetch a package (by tag, sha256: or blake3:) into <dir>, each file under its
                        path, both digests checked`;

interface PackageFile {
  path?: string;
  size: number;
  sha256: string;
  blake3?: string;
}

export async function pull(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { o: 'value', output: 'value', url: 'value' });
  const [target] = positional;
  const dir = (flags.o ?? flags.output) as string | undefined;
  if (!target || !dir || positional.length !== 1)
    throw new UsageError('pull: give <repo>:<ref> and -o <dir>');
  const at = target.search(/[:@]/);
  if (at <= 0)
    throw new UsageError('pull: name the package as <repo>:<tag>, <repo>@sha256:… or <repo>@blake3:…');
  const repo = target.slice(0, at);
  const ref = target.slice(at + 1);
  const url = serverUrl(flags.url as string | undefined);
  const pkg = await getJson<{ files?: PackageFile[] }>(
    `${url}/api/v1/repositories/${repo}/packages/${encodeURIComponent(ref)}`,
  );
  const files = pkg.files ?? [];
  for (const file of files) {
    if (!file.path || !isRelativePath(file.path)) {
      throw new UsageError(
        `the package has a file without a usable path (${file.sha256}); nothing more is written`,
      );
    }
  }
  await mkdir(dir, { recursive: true });
  for (const file of files) await download(url, dir, file as PackageFile & { path: string });
  process.stdout.write(`${JSON.stringify({ files: files.map((f) => f.path), into: dir })}\n`);
  return 0;
}

async function download(url: string, dir: string, file: PackageFile & { path: string }): Promise<void> {
  const target = join(dir, ...file.path.split('/'));
  await mkdir(dirname(target), { recursive: true });
  const res = await requireOk(await apiFetch(`${url}/api/v1/blobs/${file.blake3 ?? file.sha256}`));
  if (!res.body) throw new Error(`${file.path}: empty answer`);
  const hasher = new DualHasher();
  const progress = new Progress(file.path, file.size);
  const partial = `${target}.partial`;
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hasher.update(chunk);
          progress.advance(chunk.byteLength);
          yield chunk;
        }
      },
      createWriteStream(partial),
    );
    const got = hasher.digest();
    if (`sha256:${got.sha256}` !== file.sha256 || (file.blake3 && `blake3:${got.blake3}` !== file.blake3)) {
      throw new Error(`${file.path}: the bytes received do not match the package's digests`);
    }
    await rename(partial, target);
    progress.finish();
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
