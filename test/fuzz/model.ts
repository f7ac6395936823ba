// The model of acknowledged state: what the registry answered about blobs, manifests and tags in the
// tracked repositories, so the integrity check afterwards knows what must still be there.
import { digestOf } from '../helpers/registry.js';
import type { WireRequest, WireResponse } from './client.js';
import { canonical, KNOWN_SIZES, remember, sha512 } from './fixtures.js';
import { landing } from './routes.js';

export type BlobFact = { state: 'present'; size?: number } | { state: 'absent' } | { state: 'uncertain' };
export type ManifestFact = { state: 'present'; bytes: Buffer } | { state: 'absent' } | { state: 'uncertain' };
export type TagFact = { state: 'present'; digest: string } | { state: 'absent' } | { state: 'uncertain' };

export class Model {
  readonly blobs = new Map<string, Map<string, BlobFact>>();
  readonly manifests = new Map<string, Map<string, ManifestFact>>();
  readonly tags = new Map<string, Map<string, TagFact>>();
  readonly uncertainEvents: string[] = [];

  constructor(readonly tracked: readonly string[]) {
    for (const repo of tracked) {
      this.blobs.set(repo, new Map());
      this.manifests.set(repo, new Map());
      this.tags.set(repo, new Map());
    }
  }

  /** The lock key for a request that may change tracked state, else undefined. */
  lockKey(request: WireRequest): string | undefined {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'PATCH') return undefined;
    const at = landing(request.path);
    const name = at?.route.name;
    return name !== undefined && this.blobs.has(name) ? name : undefined;
  }

  /** Applies a response to the model (called under the repository's lock). */
  observe(request: WireRequest & { blobSize?: number }, response: WireResponse): void {
    const at = landing(request.path);
    const repo = at?.route.name;
    if (!at || repo === undefined || !this.blobs.has(repo)) return;
    const { route, query } = at;
    const blobs = this.blobs.get(repo)!;
    const manifests = this.manifests.get(repo)!;
    const tags = this.tags.get(repo)!;
    const status = response.status;
    // No definite answer: the operation may or may not have happened.
    const unknown = response.failure !== undefined || status === 0 || status >= 500;
    const mark = (what: string) => this.uncertainEvents.push(`${request.method} ${request.path}: ${what}`);
    const m = request.method;
    if (route.kind === 'blob' && m === 'DELETE' && route.ref) {
      const key = canonical(route.ref);
      if (status === 202) blobs.set(key, { state: 'absent' });
      else if (unknown) {
        blobs.set(key, { state: 'uncertain' });
        mark(key);
      }
    } else if ((route.kind === 'uploads' && m === 'POST') || (route.kind === 'upload' && m === 'PUT')) {
      const candidates = [...query.getAll('digest'), ...query.getAll('mount')].map(canonical);
      if (status === 201) {
        // A monolithic POST stores its body (unless the 201 is a mount of another digest).
        if (route.kind === 'uploads' && request.body) remember(request.body);
        const key = canonical(String(response.headers['docker-content-digest'] ?? ''));
        const size = request.blobSize ?? KNOWN_SIZES.get(key);
        if (key) blobs.set(key, size === undefined ? { state: 'present' } : { state: 'present', size });
      } else if (unknown) {
        for (const d of candidates) blobs.set(d, { state: 'uncertain' });
        mark(candidates.join(' '));
      }
    } else if (route.kind === 'manifest' && m === 'PUT' && route.ref) {
      const body = request.body ?? Buffer.alloc(0);
      const newTags = [...(route.ref.includes(':') ? [] : [route.ref]), ...query.getAll('tag')];
      if (status === 201) {
        const digest = String(response.headers['docker-content-digest'] ?? '');
        manifests.set(digest, { state: 'present', bytes: body });
        for (const t of newTags) tags.set(t, { state: 'present', digest });
      } else if (unknown) {
        manifests.set(digestOf(body), { state: 'uncertain' });
        manifests.set(`sha512:${sha512(body)}`, { state: 'uncertain' });
        for (const t of newTags) tags.set(t, { state: 'uncertain' });
        mark('manifest');
      }
    } else if (route.kind === 'manifest' && m === 'DELETE' && route.ref) {
      const ref = route.ref;
      if (!ref.includes(':')) {
        if (status === 202) tags.set(ref, { state: 'absent' });
        else if (unknown) tags.set(ref, { state: 'uncertain' });
      } else if (status === 202 || unknown) {
        manifests.set(ref, { state: unknown ? 'uncertain' : 'absent' });
        for (const [t, fact] of tags) {
          if (fact.state === 'present' && fact.digest === ref)
            tags.set(t, { state: unknown ? 'uncertain' : 'absent' });
        }
      }
      if (unknown) mark(ref);
    }
  }
}
