// The auth fuzz's registry (ADR-0010): its users and policy, and what beforeAll sets up in F: content
// in r/app and o/x, puller's real credentials, and forged tokens that must authenticate no one.
import { randomBytes } from 'node:crypto';
import { type AuthRegistry, basicOf, type PolicyRule, startAuthRegistry } from '../helpers/auth-fixture.js';
import { pushImage } from '../helpers/registry.js';
import { anonymousToken, hostileTokens } from './auth-forgeries.js';

export const SERVICE = 'fuzz.test';
export const PASSWORD = { admin: 'pw-admin-f', puller: 'pw-puller-f', pusher: 'pw-pusher-f' } as const;
export type User = keyof typeof PASSWORD;
/** The policy; `admin` is its admin. */
const RULES: PolicyRule[] = [
  { match: ['**'], allow: { admin: ['pull', 'push', 'delete'] } },
  { match: ['r/**'], allow: { puller: ['pull'], pusher: ['pull', 'push'] } },
];
export const basic = (user: User) => basicOf(user, PASSWORD[user]);

export const F = {} as {
  manifest: { digest: string; bytes: Buffer };
  layer: string;
  ox: { digest: string; layer: string };
  /** puller's real credentials: they may read r/**, nothing else. */
  pullerToken: string;
  pullerRefresh: string;
  pullerApiToken: string;
  /** Tokens that must authenticate no one, each with why. */
  hostile: [string, string][];
  /** Signed by us, unexpired, for the anonymous caller, claiming push: valid, and worth nothing. */
  anonymousToken: string;
  /** The event head once all of the above is set up. */
  startSeq: number;
};

/** Starts the registry and sets up F. */
export async function startAuthFuzz(): Promise<AuthRegistry<User>> {
  const auth = await startAuthRegistry({
    prefix: 'auth-fuzz-',
    service: SERVICE,
    passwords: PASSWORD,
    rules: RULES,
    admin: 'admin',
  });
  try {
    await setUp(auth);
  } catch (error) {
    await auth.close();
    throw error;
  }
  return auth;
}

async function setUp(auth: AuthRegistry<User>): Promise<void> {
  const { r, admin } = auth;
  const image = await pushImage(admin, 'r/app', 'v1', [randomBytes(40)]);
  F.manifest = { digest: image.digest, bytes: image.bytes };
  F.layer = (JSON.parse(image.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
  const ox = await pushImage(admin, 'o/x', 'v1', [randomBytes(40)]);
  F.ox = {
    digest: ox.digest,
    layer: (JSON.parse(ox.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest,
  };
  const signer = await auth.signer();
  const answer = await auth.tokenFor('puller', ['repository:r/app:pull'], true);
  F.pullerToken = answer.token as string;
  F.pullerRefresh = answer.refresh_token as string;
  const created = await r.fetch('/api/v1/tokens', {
    method: 'POST',
    headers: { Authorization: basic('puller'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'fuzz', scopes: [{ repositories: ['r/**'], actions: ['pull'] }] }),
  });
  F.pullerApiToken = ((await created.json()) as { secret: string }).secret;
  F.hostile = await hostileTokens(signer, SERVICE, F.pullerToken);
  F.anonymousToken = await anonymousToken(signer, SERVICE);
  F.startSeq = await auth.headSeq();
}
