// `artifact-store tier` and `restore`: storage tiers (A7) through the native API. A digest names one
// blob; repo:tag or repo@digest names a package, every blob of which moves.
import { isTier, TIERS } from '../data-plane/tiering.js';
import { apiFetch, parseArgs, requireOk, serverUrl, UsageError } from './client.js';

export const TIER_HELP = `tier <digest|repo:tag|repo@digest> <hot|warm|cold|archive> [--url URL]
                        move a blob, or every blob of a package (config and layers or files; for an
                        index, those of its manifests), to a storage tier; prints the result as JSON`;

export const RESTORE_HELP = `restore <digest> [--url URL]
                        restore an archived blob's bytes for RESTORE_DAYS days; on S3 this takes
                        hours (restore_status says when: see GET /api/v1/blobs/<digest>/info)`;

const DIGEST = /^(sha256|blake3):[0-9a-f]{64}$/;

export async function tier(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { url: 'value' });
  const [target, wanted, ...extra] = positional;
  if (!target || !wanted || extra.length > 0) {
    throw new UsageError('tier: give <digest|repo:tag|repo@digest> and one of hot, warm, cold, archive');
  }
  if (!isTier(wanted)) throw new UsageError(`tier: "${wanted}" is not a tier (${TIERS.join(', ')})`);
  const url = serverUrl(flags.url as string | undefined);
  const path = DIGEST.test(target) ? `/api/v1/blobs/${target}/tier` : packagePath(target);
  const res = await requireOk(
    await apiFetch(`${url}${path}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tier: wanted }),
    }),
  );
  process.stdout.write(`${JSON.stringify(await res.json())}\n`);
  return 0;
}

export async function restore(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { url: 'value' });
  const [digest, ...extra] = positional;
  if (!digest || !DIGEST.test(digest) || extra.length > 0) {
    throw new UsageError('restore: give one blob digest (sha256:<hex> or blake3:<hex>)');
  }
  const url = serverUrl(flags.url as string | undefined);
  const res = await requireOk(await apiFetch(`${url}/api/v1/blobs/${digest}/restore`, { method: 'POST' }));
  process.stdout.write(`${JSON.stringify(await res.json())}\n`);
  return 0;
}

/** repo@digest or repo:tag (a tag has no colon, so the last one separates it). */
function packagePath(target: string): string {
  const at = target.lastIndexOf('@');
  const colon = target.lastIndexOf(':');
  const [repo, ref] =
    at > 0
      ? [target.slice(0, at), target.slice(at + 1)]
      : colon > 0
        ? [target.slice(0, colon), target.slice(colon + 1)]
        : [];
  if (!repo || !ref)
    throw new UsageError(`tier: "${target}" is neither a digest nor repo:tag or repo@digest`);
  return `/api/v1/repositories/${repo}/packages/${encodeURIComponent(ref)}/tier`;
}
