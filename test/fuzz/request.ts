// The random request: an endpoint, a method, a target built from the generators, headers and a body;
// and sending it (opening an upload session first when it needs one).
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { BLOBS, MT, SEEDED, sha512, VALID_TAGS } from './fixtures.js';
import { fuzzManifest, MAX_JSON_DEPTH } from './manifests.js';
import { contentRange, contentType, listQuery, queryValue, randomBody, rangeHeader } from './params.js';
import { locationOf, type Planned, perform, type Run, valid } from './run.js';
import {
  pickBadDigest,
  pickDigest,
  pickName,
  pickReference,
  pickUploadId,
  SESSION_TOKEN,
} from './segments.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'FUZZ', 'PROPFIND'];

const NATURAL: Record<string, string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'PUT', 'PUT', 'PUT', 'DELETE'],
  blob: ['GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  'uploads-digest': ['POST'],
  'uploads-mount': ['POST'],
  upload: ['PATCH', 'PATCH', 'PATCH', 'PATCH', 'GET', 'GET', 'GET', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

export function fuzzRequest(run: Run, rng: Rng): Planned {
  const endpoint = rng.weighted<string>([
    [4, 'base'],
    [5, 'catalog'],
    [10, 'tags'],
    [24, 'manifest'],
    [18, 'blob'],
    [1, 'uploads'],
    [4, 'uploads-digest'],
    [4, 'uploads-mount'],
    [16, 'upload'],
    [10, 'referrers'],
  ]);
  const labels: string[] = [];
  let method = rng.pick(NATURAL[endpoint]!);
  if (rng.chance(0.12)) {
    method = rng.pick(METHODS);
    labels.push(`method:${method}`);
  }
  const name = pickName(rng);
  let mustFail: Planned['mustFail'];
  let sessionSlot: number | undefined;
  let path: string;
  let headers: Record<string, string> = {};
  let body: Buffer | undefined;
  const withName = () => {
    labels.push(name.label);
    mustFail = name.mustFail;
    return name.text;
  };
  switch (endpoint) {
    case 'base':
      path = rng.pick(['/v2/', '/v2', '/v2/?n=%00', '/v2//', '/v2/.', '/v2/%2e']);
      labels.push(`path:${path}`);
      break;
    case 'catalog':
      path = `/v2/_catalog${listQuery(rng, labels)}`;
      break;
    case 'tags':
      path = `/v2/${withName()}/tags/list${listQuery(rng, labels)}`;
      break;
    case 'manifest': {
      const ref = method === 'PUT' && rng.chance(0.5) ? undefined : pickReference(rng);
      if (method === 'PUT') {
        const m = fuzzManifest(rng, labels);
        body = m.body;
        headers = contentType(rng, labels, m.mediaType);
        let refText: string;
        if (ref) {
          refText = ref.text;
          labels.push(ref.label);
        } else {
          const kind = rng.pick(['digest', 'sha512', 'tag']);
          refText =
            kind === 'digest'
              ? digestOf(body)
              : kind === 'sha512'
                ? `sha512:${sha512(body)}`
                : rng.pick(VALID_TAGS);
          labels.push(`ref:${kind}-of-body`);
        }
        const tagParams = rng.chance(0.2)
          ? Array.from({ length: rng.int(1, 3) }, () => {
              const t = rng.chance(0.6)
                ? { text: rng.pick(VALID_TAGS), label: 'q.tag:valid' }
                : pickReference(rng);
              labels.push(t.label.startsWith('q.') ? t.label : `q.tag-${t.label}`);
              return `tag=${t.text}`;
            })
          : [];
        const nameText = withName();
        if (m.depth > MAX_JSON_DEPTH) {
          mustFail ??= {
            kind: `manifest nested more than ${MAX_JSON_DEPTH} levels deep accepted`,
            cause: 'mf:deep',
          };
        }
        path = `/v2/${nameText}/manifests/${refText}${tagParams.length ? `?${tagParams.join('&')}` : ''}`;
      } else {
        const r = ref ?? pickReference(rng);
        labels.push(r.label);
        path = `/v2/${withName()}/manifests/${r.text}`;
        if (rng.chance(0.2))
          headers.Accept = rng.pick([`${MT.manifest}, ${MT.index}`, '*/*', 'text/html', '']);
      }
      break;
    }
    case 'blob': {
      const d = pickDigest(rng);
      labels.push(d.label);
      path = `/v2/${withName()}/blobs/${d.text}`;
      headers = rangeHeader(rng, labels);
      break;
    }
    case 'uploads':
    case 'uploads-digest':
    case 'uploads-mount': {
      const params: string[] = [];
      if (endpoint === 'uploads-digest') {
        if (rng.chance(0.1)) {
          // A matching digest: the monolithic upload goes all the way.
          const content = rng.chance(0.5) ? rng.pick(BLOBS) : rng.bytes(rng.int(0, 3000));
          body = content;
          params.push(`digest=${rng.chance(0.85) ? digestOf(content) : `sha512:${sha512(content)}`}`);
          labels.push('q.digest:matching');
        } else {
          const d = rng.chance(0.25) ? pickDigest(rng) : pickBadDigest(rng);
          labels.push(`q.digest-${d.label}`);
          params.push(`digest=${d.text}`);
        }
      } else if (endpoint === 'uploads-mount') {
        const d = rng.chance(0.4)
          ? { text: digestOf(rng.pick(BLOBS.slice(0, 10))), label: 'dig:pool' }
          : pickBadDigest(rng);
        labels.push(`q.mount-${d.label}`);
        params.push(`mount=${d.text}`);
        if (rng.chance(0.8)) {
          const from = rng.chance(0.6) ? { text: rng.pick(SEEDED), label: 'from:seeded' } : pickName(rng);
          labels.push(`q.from-${from.label}`);
          params.push(`from=${from.text}`);
        }
        if (rng.chance(0.1)) params.push('digest=sha256:zz');
      } else if (rng.chance(0.2)) {
        params.push(rng.pick(['digest', 'mount', 'from=', 'digest=&mount=', '%00=%00', 'x=1&x=2']));
        labels.push('q:odd');
      }
      if (rng.chance(0.1)) {
        const v = queryValue(rng, 'digest');
        labels.push(`q.extra-${v.label}`);
        params.push(`digest=${v.text}`);
      }
      path = `/v2/${withName()}/blobs/uploads${rng.chance(0.9) ? '/' : ''}${params.length ? `?${params.join('&')}` : ''}`;
      if (body === undefined && rng.chance(0.4)) body = randomBody(rng, labels);
      if (rng.chance(0.2)) headers = contentType(rng, labels, 'application/octet-stream');
      break;
    }
    case 'upload': {
      const id = pickUploadId(run, rng);
      labels.push(id.label);
      sessionSlot = id.slot;
      const nameText = id.repo && rng.chance(0.85) ? id.repo : withName();
      if (nameText === id.repo) labels.push('name:session-repo');
      let query = '';
      if (method === 'PUT' || rng.chance(0.05)) {
        const d = rng.chance(0.15) ? { text: '', label: 'dig:absent' } : pickDigest(rng);
        labels.push(`q.digest-${d.label}`);
        query = d.text === '' && d.label === 'dig:absent' ? '' : `?digest=${d.text}`;
      }
      path = `/v2/${nameText}/blobs/uploads/${id.text}${query}`;
      if (method === 'PATCH' || method === 'PUT' || rng.chance(0.05)) {
        body = randomBody(rng, labels);
        headers = contentRange(rng, labels, body.byteLength);
      }
      break;
    }
    default: {
      const d = pickDigest(rng);
      labels.push(d.label);
      let query = '';
      if (rng.chance(0.5)) {
        const v = rng.chance(0.4)
          ? {
              text: rng.pick(['application%2Fvnd.example.sbom', 'application%2Fvnd.oci.empty.v1%2Bjson']),
              label: 'q.artifactType:plain',
            }
          : queryValue(rng, 'artifactType');
        labels.push(v.label);
        query = `?artifactType=${v.text}`;
        if (rng.chance(0.1)) query += `&artifactType=${queryValue(rng, 'artifactType').text}`;
      }
      if (rng.chance(0.1)) query += `${query ? '&' : '?'}n=${queryValue(rng, 'n').text}`;
      path = `/v2/${withName()}/referrers/${d.text}${query}`;
    }
  }
  if (body === undefined && method !== 'HEAD' && rng.chance(0.05)) body = randomBody(rng, labels);
  if (method === 'HEAD') body = undefined;
  const chunked = body !== undefined && body.byteLength > 0 && rng.chance(0.12);
  if (chunked) labels.push('te:chunked');
  if (rng.chance(0.04)) {
    headers.Connection = 'close';
    labels.push('conn:close');
  }
  return { method, path, headers, body, chunked, endpoint, labels, mustFail, sessionSlot };
}

const sessionId = (location: string) => location.slice(location.lastIndexOf('/') + 1);

/** Sends a fuzz request, first opening an upload session for it if its slot is empty. */
export async function performFuzz(run: Run, p: Planned): Promise<void> {
  const slot = p.sessionSlot;
  if (slot !== undefined && p.path.includes(SESSION_TOKEN)) {
    const repo = SEEDED[slot % SEEDED.length]!;
    const post = await perform(
      run,
      valid({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, endpoint: 'uploads' }),
    );
    const location = locationOf(post, '');
    const id = location ? sessionId(location) : '00000000-0000-4000-a000-000000000000';
    if (location) run.sessions[slot] = { repo, id };
    p.path = p.path.replace(SESSION_TOKEN, id);
  }
  const res = await perform(run, p);
  if (slot === undefined) return;
  const current = run.sessions[slot];
  // The session is over once it was completed, cancelled, or is unknown: free the slot.
  const own = current !== undefined && p.path.startsWith(`/v2/${current.repo}/blobs/uploads/${current.id}`);
  const ended =
    res.status === 404 ||
    (p.method === 'PUT' && res.status === 201) ||
    (p.method === 'DELETE' && res.status === 204);
  if (current && own && ended) {
    run.sessions[slot] = undefined;
    run.finished[run.finished.length < 16 ? run.finished.length : (p.path.length + res.status) % 16] =
      current;
  }
}
