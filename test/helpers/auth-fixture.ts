// A registry with authentication for the auth tests (ADR-0010): a token-mode policy, an htpasswd
// (bcrypt cost 4) and a signing key in a temporary folder, the registry started on them (two nodes
// with TEST_NODES=2), and what the tests ask of it as its admin: the event head and events, tokens,
// the signing key.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { calculateJwkThumbprint, type JWK, SignJWT } from 'jose';
import { startTestRegistry, type TestRegistry } from './registry.js';

export const basicOf = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** The registry seen by a caller with `authorization` (so the helpers can push as anyone). */
export function as(r: TestRegistry, authorization: string): TestRegistry {
  return {
    ...r,
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('Authorization', authorization);
      return r.fetch(path, { ...init, headers });
    },
  };
}

/** One rule of the policy: the repositories it matches, and the actions each user has on them. */
export interface PolicyRule {
  match: string[];
  allow: Record<string, string[]>;
}

/**
 * The auth.yaml of a registry in token mode, its users in ./htpasswd, its tokens signed with
 * ./token-key.pem (one key for every node, as a deployment of several nodes needs).
 */
export function policyYaml(service: string, rules: PolicyRule[], admins: string[]): string {
  const lines = [
    'mode: token',
    `service: ${service}`,
    'htpasswd: ./htpasswd',
    'token: { signing_keys: [./token-key.pem] }',
    'repositories:',
  ];
  for (const rule of rules) {
    lines.push(`  - match: ${JSON.stringify(rule.match)}`, '    allow:');
    for (const [user, actions] of Object.entries(rule.allow))
      lines.push(`      - { users: [${user}], actions: [${actions.join(', ')}] }`);
  }
  lines.push(`admin: { users: [${admins.join(', ')}] }`);
  return `${lines.join('\n')}\n`;
}

export interface EventJson {
  seq: number;
  type: string;
  repository: string | null;
  payload: { actor?: { kind?: string; name?: string; via?: string; token?: string } } & Record<
    string,
    unknown
  >;
}

export async function kidOf(key: KeyObject): Promise<string> {
  const { kty, crv, x, y, n, e } = createPublicKey(key).export({ format: 'jwk' });
  return calculateJwkThumbprint((kty === 'RSA' ? { kty, n, e } : { kty, crv, x, y }) as JWK, 'sha256');
}

export interface Signer {
  key: KeyObject;
  kid: string;
}

/** A token signed as the token service of `service` signs one, valid from `from` until `exp`. */
export function signAsRegistry(
  signer: Signer,
  service: string,
  claims: {
    typ: string;
    sub: string;
    payload: Record<string, unknown>;
    from: number;
    exp: number;
    jti?: string;
  },
): Promise<string> {
  const jwt = new SignJWT(claims.payload)
    .setProtectedHeader({ alg: 'ES256', typ: claims.typ, kid: signer.kid })
    .setIssuer(service)
    .setAudience(service)
    .setSubject(claims.sub)
    .setIssuedAt(claims.from)
    .setNotBefore(claims.from)
    .setExpirationTime(claims.exp);
  if (claims.jti !== undefined) jwt.setJti(claims.jti);
  return jwt.sign(signer.key);
}

export interface AuthSetup<U extends string> {
  /** The prefix of the temporary folder of auth.yaml and htpasswd. */
  prefix: string;
  service: string;
  passwords: Record<U, string>;
  rules: PolicyRule[];
  /** The policy's admin, as whom the fixture reads the event log. */
  admin: U;
  /** More of the registry's environment. */
  env?: Record<string, string>;
}

export interface AuthRegistry<U extends string> {
  r: TestRegistry;
  /** The folder of auth.yaml and htpasswd (tests rewrite them and reload). */
  configDir: string;
  /** The registry as its admin sees it. */
  admin: TestRegistry;
  basic(user: U): string;
  /** The event head, read as the admin. */
  headSeq(): Promise<number>;
  /** A page of the events after `after`, read as `authorization` (the admin's by default). */
  eventsAfter(after: number, authorization?: string, limit?: number): Promise<EventJson[]>;
  /** Every event after `after`, page by page. */
  allEventsAfter(after: number): Promise<EventJson[]>;
  /** The token service's answer for `user` and `scopes`, as a client gets one (GET + Basic). */
  tokenFor(user: U, scopes: string[], offline?: boolean): Promise<Record<string, unknown>>;
  /** The key the token service signs with (token-key.pem beside auth.yaml), and its kid. */
  signer(): Promise<Signer>;
  close(): Promise<void>;
}

export async function startAuthRegistry<U extends string>(setup: AuthSetup<U>): Promise<AuthRegistry<U>> {
  const configDir = await mkdtemp(join(tmpdir(), setup.prefix));
  let r: TestRegistry;
  try {
    const users = Object.keys(setup.passwords) as U[];
    const lines = await Promise.all(
      users.map(async (u) => `${u}:${await hash(setup.passwords[u], { cost: 4 })}`),
    );
    await writeFile(join(configDir, 'htpasswd'), `${lines.join('\n')}\n`);
    await writeFile(join(configDir, 'auth.yaml'), policyYaml(setup.service, setup.rules, [setup.admin]));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(configDir, 'token-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    // With TEST_NODES=2, several nodes sharing the database, the bucket and the signing key.
    r = await startTestRegistry({
      AUTH_CONFIG: join(configDir, 'auth.yaml'),
      RATE_LIMIT: '0',
      AUTH_FAILURE_LIMIT: '0',
      ...setup.env,
    });
  } catch (error) {
    await rm(configDir, { recursive: true, force: true });
    throw error;
  }
  const basic = (user: U) => basicOf(user, setup.passwords[user]);
  const ADMIN = basic(setup.admin);

  async function eventsAfter(after: number, authorization = ADMIN, limit = 1000): Promise<EventJson[]> {
    const res = await r.fetch(`/api/v1/events?after=${after}&limit=${limit}`, {
      headers: { Authorization: authorization },
    });
    if (res.status !== 200) throw new Error(`events as admin: ${res.status} ${await res.text()}`);
    return (await json<{ events: EventJson[] }>(res)).events;
  }

  return {
    r,
    configDir,
    admin: as(r, ADMIN),
    basic,
    async headSeq() {
      const res = await r.fetch('/api/v1/events/head', { headers: { Authorization: ADMIN } });
      if (res.status !== 200) throw new Error(`events/head as admin: ${res.status} ${await res.text()}`);
      return (await json<{ seq: number }>(res)).seq;
    },
    eventsAfter,
    async allEventsAfter(after) {
      const all: EventJson[] = [];
      for (;;) {
        const page = await eventsAfter(after);
        if (page.length === 0) return all;
        all.push(...page);
        after = page.at(-1)!.seq;
      }
    },
    async tokenFor(user, scopes, offline = false) {
      const q = new URLSearchParams({ service: setup.service });
      for (const s of scopes) q.append('scope', s);
      if (offline) q.set('offline_token', 'true');
      const res = await r.fetch(`/auth/token?${q}`, { headers: { Authorization: basic(user) } });
      if (res.status !== 200)
        throw new Error(`token for ${user} ${scopes}: ${res.status} ${await res.text()}`);
      return json(res);
    },
    async signer() {
      const key = createPrivateKey(await readFile(join(configDir, 'token-key.pem'), 'utf8'));
      return { key, kid: await kidOf(key) };
    },
    async close() {
      await r.close();
      await rm(configDir, { recursive: true, force: true });
    },
  };
}
