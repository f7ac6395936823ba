// The matrix's registry and what its rows work on: the registry started with the policy, the content
// set up as admin (S), and each column's credentials (tokens of the token service, forged expired ones).
import { randomBytes } from 'node:crypto';
import {
  type AuthRegistry,
  basicOf,
  type EventJson,
  signAsRegistry,
  startAuthRegistry,
} from '../../helpers/auth-fixture.js';
import { publish, storeFile } from '../../helpers/native.js';
import { pushImage, type TestRegistry } from '../../helpers/registry.js';
import { basic, type Column, PASSWORD, RULES, SERVICE, USERS, type User } from './principals.js';

export const SCHEMA_VARIANT = 'matrix.report.v1';
export const SCHEMA = { type: 'object', properties: { status: { type: 'string' } } };
export const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

/** What beforeAll set up. */
export const S = {} as {
  auth: AuthRegistry<User>;
  r: TestRegistry;
  /** The registry as admin sees it. */
  admin: TestRegistry;
  /** The event head before the content. */
  startSeq: number;
  config: string;
  layer: string;
  manifest: { digest: string; bytes: Buffer };
  pkg: { address: string; digest: string };
  file: Record<string, unknown>;
  ox: { digest: string };
  oxLayer: string;
  /** Tokens signed with the registry's own key, as its token service would, but already expired. */
  expiredToken: string;
  expiredRefresh: string;
  freshForgedToken: string;
  refreshTokens: Map<User, string>;
};

export const headSeq = (): Promise<number> => S.auth.headSeq();
export const eventsAfter = (after: number, authorization?: string): Promise<EventJson[]> =>
  S.auth.eventsAfter(after, authorization);

const tokenCache = new Map<string, string>();
export async function bearerFor(user: User, scopes: string[]): Promise<string> {
  const key = `${user} ${scopes.join(' ')}`;
  let token = tokenCache.get(key);
  if (!token) {
    token = (await S.auth.tokenFor(user, scopes)).token as string;
    tokenCache.set(key, token);
  }
  return token;
}

export async function authorizationFor(col: Column, rowScopes: string[]): Promise<string | undefined> {
  switch (col.kind) {
    case 'anonymous':
      return undefined;
    case 'wrong':
      return basicOf('admin', 'wrong');
    case 'expired':
      return `Bearer ${S.expiredToken}`;
    case 'basic':
      return basic(col.user!);
    case 'token':
      return `Bearer ${await bearerFor(col.user!, col.asks === 'row' ? rowScopes : col.asks!)}`;
  }
}

/** Starts the registry and sets up S: the content as admin, then the forged and refresh tokens. */
export async function startMatrix(): Promise<TestRegistry> {
  S.auth = await startAuthRegistry({
    prefix: 'auth-matrix-',
    service: SERVICE,
    passwords: PASSWORD,
    rules: RULES,
    admin: 'admin',
    // The matrix opens a session of pusher's for every cell that tests one.
    env: { MAX_UPLOADS_PER_IDENTITY: '0' },
  });
  S.r = S.auth.r;
  S.admin = S.auth.admin;
  S.startSeq = await headSeq();
  const admin = S.admin;
  const image = await pushImage(admin, 'r/app', 'v1', [randomBytes(64)]);
  const manifest = JSON.parse(image.bytes.toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  S.config = manifest.config.digest;
  S.layer = manifest.layers[0]!.digest;
  S.manifest = { digest: image.digest, bytes: image.bytes };
  S.file = await storeFile(admin, 'r/app', 'f.txt', randomBytes(32));
  const pkg = await publish(admin, 'r/app', 'pkg', {
    manifest_version: 1,
    artifact_type: 'application/vnd.matrix',
    files: [S.file],
  });
  if (pkg.status !== 201) throw new Error(`publish: ${pkg.status} ${JSON.stringify(pkg.body)}`);
  S.pkg = { address: pkg.body.address, digest: pkg.body.digest };
  const ox = await pushImage(admin, 'o/x', 'v1', [randomBytes(64)]);
  S.ox = { digest: ox.digest };
  S.oxLayer = (JSON.parse(ox.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
  const schema = await admin.fetch(`/api/v1/schemas/${SCHEMA_VARIANT}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(SCHEMA),
  });
  if (schema.status !== 201) throw new Error(`schema: ${schema.status} ${await schema.text()}`);

  const now = Math.floor(Date.now() / 1000);
  const access = [{ type: 'repository', name: 'r/app', actions: ['pull', 'push', 'delete'] }];
  const ast = { kind: 'user', via: 'bearer' };
  const signer = await S.auth.signer();
  const sign = (typ: string, payload: Record<string, unknown>, exp: number) =>
    signAsRegistry(signer, SERVICE, {
      typ,
      sub: 'admin',
      payload,
      from: exp - 300,
      exp,
      jti: randomBytes(8).toString('hex'),
    });
  // An hour past exp: beyond the 60 s clock tolerance.
  S.expiredToken = await sign('JWT', { access, ast }, now - 3600);
  S.expiredRefresh = await sign('rt+jwt', { ast }, now - 3600);
  S.freshForgedToken = await sign('JWT', { access, ast }, now + 300);
  S.refreshTokens = new Map();
  for (const user of USERS) {
    S.refreshTokens.set(user, (await S.auth.tokenFor(user, [], true)).refresh_token as string);
  }
  return S.r;
}
