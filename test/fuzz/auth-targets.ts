// What the auth fuzz sends and judges: the endpoints of both APIs it aims at, sending to one, and
// the checks of an answer (the API's error shape, a token's grant within puller's identity).
import { decodeJwt } from 'jose';
import type { TestRegistry } from '../helpers/registry.js';
import { F, SERVICE } from './auth-setup.js';

/** Every status the auth surface may answer (431: a header section over MAX_HEADER_BYTES). */
export const EXPECTED = new Set([200, 400, 401, 403, 404, 429]);

export interface Target {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  v2: boolean;
}
/** Endpoints of both APIs that no fuzz credential may write to (puller's real ones included). */
export function targets(): Target[] {
  const json = { 'Content-Type': 'application/json' };
  return [
    { method: 'GET', path: '/v2/', v2: true },
    { method: 'GET', path: '/v2/_catalog', v2: true },
    { method: 'GET', path: '/v2/r/app/manifests/v1', v2: true },
    { method: 'HEAD', path: '/v2/r/app/manifests/v1', v2: true },
    { method: 'GET', path: '/v2/o/x/manifests/v1', v2: true },
    { method: 'GET', path: '/v2/r/app/tags/list', v2: true },
    {
      method: 'PUT',
      path: '/v2/r/app/manifests/fuzz',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: F.manifest.bytes,
      v2: true,
    },
    { method: 'DELETE', path: `/v2/r/app/manifests/${F.manifest.digest}`, v2: true },
    { method: 'GET', path: `/v2/r/app/blobs/${F.layer}`, v2: true },
    { method: 'DELETE', path: `/v2/r/app/blobs/${F.layer}`, v2: true },
    { method: 'POST', path: '/v2/r/app/blobs/uploads/', v2: true },
    { method: 'POST', path: `/v2/r/app/blobs/uploads/?mount=${F.ox.layer}&from=o/x`, v2: true },
    { method: 'GET', path: `/v2/r/app/referrers/${F.manifest.digest}`, v2: true },
    { method: 'GET', path: '/api/v1/repositories', v2: false },
    { method: 'GET', path: '/api/v1/repositories/o/x', v2: false },
    { method: 'GET', path: `/api/v1/blobs/${F.ox.layer}`, v2: false },
    {
      method: 'PUT',
      path: '/api/v1/repositories/r/app/tags/fuzz',
      headers: json,
      body: JSON.stringify({ target: F.manifest.digest }),
      v2: false,
    },
    { method: 'DELETE', path: '/api/v1/repositories/r/app/tags/v1', v2: false },
    {
      method: 'PATCH',
      path: '/api/v1/repositories/r/app',
      headers: json,
      body: '{"immutable_tags":true}',
      v2: false,
    },
    { method: 'PUT', path: '/api/v1/schemas/fuzz.v1', headers: json, body: '{"type":"object"}', v2: false },
    {
      method: 'PUT',
      path: `/api/v1/blobs/${F.layer}/tier`,
      headers: json,
      body: '{"tier":"cold"}',
      v2: false,
    },
    { method: 'GET', path: '/api/v1/events?limit=5', v2: false },
    { method: 'GET', path: '/api/v1/events/head', v2: false },
    { method: 'GET', path: '/api/v1/tokens', v2: false },
  ];
}

export async function send(
  r: TestRegistry,
  target: Target,
  authorization: string | undefined,
): Promise<{ status: number; res: Response; body: string }> {
  const headers = new Headers(target.headers);
  if (authorization !== undefined) headers.set('Authorization', authorization);
  const res = await r.fetch(target.path, { method: target.method, headers, body: target.body });
  const body = target.method === 'HEAD' ? '' : await res.text();
  return { status: res.status, res, body };
}

/** The error body is the API's: {"errors": [...]} at /v2/ and /auth, {"error": {...}} natively. */
export function errorShapeOk(path: string, body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: unknown }[]; error?: { code?: unknown } };
    return path.startsWith('/api/v1/')
      ? typeof parsed.error?.code === 'string'
      : typeof parsed.errors?.[0]?.code === 'string';
  } catch {
    return false;
  }
}

/** What a token issued to `who` may carry: puller pulls r/**; anonymous nothing; catalog for users. */
export function grantProblem(token: string, who: 'puller' | 'anonymous'): string | undefined {
  const claims = decodeJwt(token) as {
    access?: { type: string; name: string; actions: string[] }[];
    aud?: unknown;
  };
  if (claims.aud !== SERVICE) return `aud ${JSON.stringify(claims.aud)}`;
  for (const entry of claims.access ?? []) {
    if (who === 'anonymous') return `anonymous granted ${JSON.stringify(entry)}`;
    if (entry.type === 'registry' && entry.name === 'catalog') continue;
    if (entry.type !== 'repository' || !/^r\/.*$/.test(entry.name) || entry.actions.some((a) => a !== 'pull'))
      return `puller granted ${JSON.stringify(entry)}`;
  }
  return undefined;
}
