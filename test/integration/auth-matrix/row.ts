// A row of the matrix (one request of an endpoint) and what rows are written with: requests, needs,
// sessions and content opened for a cell, and the data-dependent refusals and listing checks.
import { randomBytes } from 'node:crypto';
import { json } from '../../helpers/auth-fixture.js';
import { publish, storeFile } from '../../helpers/native.js';
import { pushImage } from '../../helpers/registry.js';
import { canPull, type Expected, type Need } from './model.js';
import { basic, type Column } from './principals.js';
import { S } from './world.js';

export interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}
export type Prep = Record<string, string>;
export interface Row {
  name: string;
  api: 'v2' | 'native' | 'token-service' | 'public';
  /** Native rows: the OpenAPI operation (`get /blobs/{digest}`). */
  op?: string;
  need: Need;
  /** The scopes a client asks a token for (default: the need's). */
  scopes?: string[];
  /** The success status (may depend on the caller: a mount becomes a plain upload). */
  ok: number | ((col: Column, scopes: string[]) => number);
  /** Runs (as admin, or as the owner of a session) before the event head is read. */
  prepare?: (col: Column) => Promise<Prep>;
  request: (col: Column, prep: Prep) => Req;
  /** A data-dependent refusal after the gate let the request through (404: not yours / not visible). */
  after?: (col: Column, scopes: string[]) => Expected | undefined;
  /** Further checks of a successful answer. */
  check?: (col: Column, body: string, res: Response, scopes: string[]) => string | undefined;
  /** An endless body (the event stream): only the status is read. */
  stream?: boolean;
}

export const JSON_HEADERS = { 'Content-Type': 'application/json' };
export const uniqueBytes = (col: Column, what: string) =>
  Buffer.from(`${what}:${col.slug}:${randomBytes(8).toString('hex')}`);
export const get = (path: string): Req => ({ method: 'GET', path });
export const head = (path: string): Req => ({ method: 'HEAD', path });
export const pull = (name: string): Need => ({ kind: 'repo', name, actions: ['pull'] });
export const push = (name: string): Need => ({ kind: 'repo', name, actions: ['pull', 'push'] });
export const del = (name: string): Need => ({ kind: 'repo', name, actions: ['delete'] });

/** Opens a /v2/ upload session as pusher: its Location. */
export async function pusherV2Session(): Promise<string> {
  const res = await S.r.fetch('/v2/r/app/blobs/uploads/', {
    method: 'POST',
    headers: { Authorization: basic('pusher') },
  });
  if (res.status !== 202) throw new Error(`pusher session: ${res.status} ${await res.text()}`);
  return res.headers.get('location')!;
}

/** Opens a native upload session as pusher (with `bytes` appended): its id. */
export async function pusherNativeSession(bytes?: Uint8Array): Promise<string> {
  const res = await S.r.fetch('/api/v1/uploads', {
    method: 'POST',
    headers: { Authorization: basic('pusher') },
  });
  if (res.status !== 201) throw new Error(`pusher native session: ${res.status} ${await res.text()}`);
  const id = (await json<{ id: string }>(res)).id;
  if (bytes) {
    const patch = await S.r.fetch(`/api/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: {
        Authorization: basic('pusher'),
        'Upload-Offset': '0',
        'Content-Type': 'application/octet-stream',
      },
      body: bytes,
    });
    if (patch.status !== 200) throw new Error(`pusher native append: ${patch.status} ${await patch.text()}`);
  }
  return id;
}

export const ownedByPusher =
  (code: string) =>
  (col: Column): Expected | undefined =>
    col.user === 'pusher' ? undefined : { status: 404, refused: true, code };

export const visibleIn =
  (repository: string) =>
  (col: Column, scopes: string[]): Expected | undefined =>
    canPull(col, repository, scopes) ? undefined : { status: 404, refused: true, code: 'blob-unknown' };

/** Listing checks: `r/app` and `o/x` are listed exactly when the caller may pull them. */
export function listed(col: Column, scopes: string[], names: string[]): string | undefined {
  for (const repo of ['r/app', 'o/x']) {
    const should = canPull(col, repo, scopes);
    if (names.includes(repo) !== should) return `${repo} ${should ? 'missing from' : 'listed in'} ${names}`;
  }
  return undefined;
}

export async function uniqueImage(col: Column, repo: string): Promise<Prep> {
  const image = await pushImage(S.admin, repo, `img-${col.slug}-${randomBytes(3).toString('hex')}`, [
    uniqueBytes(col, 'layer'),
  ]);
  return { digest: image.digest };
}

export async function uniquePackage(col: Column, what: string): Promise<Prep> {
  const file = await storeFile(S.admin, 'r/app', 'u.bin', uniqueBytes(col, what));
  const res = await publish(S.admin, 'r/app', undefined, {
    manifest_version: 1,
    artifact_type: 'application/vnd.matrix',
    files: [file],
    annotations: { what, col: col.slug },
  });
  if (res.status !== 201) throw new Error(`publish ${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return { address: res.body.address };
}

export const LISTING_SCOPES = ['repository:r/app:pull', 'repository:o/x:pull'];
