// API tokens for machines (issue 8): created and revoked through the event log, which records only
// the SHA-256 of each secret. A user makes tokens for themself; an admin (`tokens`) for anyone. The
// secret is shown once, in the answer to its creation.

import { currentCaller } from '../auth/actor.js';
import { apiTokenSha256, newApiTokenId, newApiTokenSecret } from '../auth/api-token-secret.js';
import type { ApiTokenDirectory } from '../auth/authenticator.js';
import type { AdminAction, Grant } from '../auth/policy.js';
import {
  type ApiTokenRow,
  apiTokenById,
  apiTokenBySecret,
  apiTokenPage,
} from '../control-plane/api-token-queries.js';
import { DomainError } from '../errors.js';
import { type RegistryContext, withMutation } from './context.js';

export interface NewApiToken {
  name: string;
  /** Defaults to the caller. */
  owner?: string;
  scopes: Grant[];
  admin: AdminAction[];
  expiresAt: Date;
}

const MAX_LIFETIME_MS = 2 * 365 * 24 * 3600 * 1000;

/** The user the caller acts for, or a refusal: API tokens belong to htpasswd users. */
function callerUser(): string {
  const { actor } = currentCaller();
  if ((actor.kind === 'user' || actor.kind === 'api-token') && actor.name) return actor.name;
  throw new DomainError('denied', 'API tokens belong to users: authenticate as one');
}

function mayManage(owner: string): boolean {
  const caller = currentCaller();
  return caller.actor.name === owner || caller.access.isAdmin('tokens');
}

export async function createApiToken(
  ctx: RegistryContext,
  request: NewApiToken,
): Promise<{ token: ApiTokenRow; secret: string }> {
  const caller = currentCaller();
  const owner = request.owner ?? callerUser();
  // A token would otherwise mint a wider one: only a password (the user's whole grant) or an admin.
  const withPassword = caller.actor.kind === 'user' && caller.actor.via === 'basic';
  if (!caller.access.isAdmin('tokens') && !(withPassword && owner === caller.actor.name)) {
    throw new DomainError(
      'denied',
      request.owner !== undefined && request.owner !== caller.actor.name
        ? "only an admin may create another user's tokens"
        : 'API tokens are created with the user’s password, not with a token',
    );
  }
  const now = Date.now();
  if (request.expiresAt.getTime() <= now || request.expiresAt.getTime() > now + MAX_LIFETIME_MS) {
    throw new DomainError('request-invalid', 'expires_at must be in the future and within two years', {});
  }
  const secret = newApiTokenSecret();
  const id = newApiTokenId();
  await withMutation(ctx, (m) =>
    m
      .emit({
        type: 'api-token.created',
        id,
        name: request.name,
        owner,
        secretSha256: apiTokenSha256(secret),
        scopes: request.scopes,
        admin: request.admin,
        expiresAt: request.expiresAt.toISOString(),
      })
      .then(() => {}),
  );
  const token = await apiTokenById(ctx.db, id);
  if (!token) throw new Error('token created without a row');
  return { token, secret };
}

/** The caller's tokens (every user's for an admin with `tokens`). */
export function listApiTokens(
  ctx: RegistryContext,
  after: string | undefined,
  limit: number,
): Promise<ApiTokenRow[]> {
  const caller = currentCaller();
  const owner = caller.access.isAdmin('tokens') ? undefined : callerUser();
  return apiTokenPage(ctx.db, owner, after, limit);
}

export async function revokeApiToken(ctx: RegistryContext, id: string): Promise<void> {
  await withMutation(ctx, async (m) => {
    const token = await apiTokenById(m.tx, id);
    // Someone else's token does not exist, for this caller.
    if (!token || !mayManage(token.owner)) {
      throw new DomainError('token-unknown', 'no such API token', { id: id.slice(0, 64) });
    }
    if (!token.revokedAt) await m.emit({ type: 'api-token.revoked', id });
  });
}

/**
 * API tokens as the authenticator looks them up on every request, cached until the next commit on any
 * node (the log signal rings for this node's and, through NOTIFY, other nodes' commits), so a revoked
 * token ends as soon as its revocation is announced, and a steady stream of requests costs no query.
 */
export function cachedApiTokens(ctx: Pick<RegistryContext, 'db' | 'logSignal'>): ApiTokenDirectory {
  const bySecret = new Map<string, Promise<ApiTokenRow | undefined>>();
  const byId = new Map<string, Promise<ApiTokenRow | undefined>>();
  const forget = () => {
    bySecret.clear();
    byId.clear();
  };
  ctx.logSignal.subscribe(forget);
  const cached = (map: typeof bySecret, key: string, load: () => Promise<ApiTokenRow | undefined>) => {
    let found = map.get(key);
    if (!found) {
      if (map.size >= 10_000) map.clear();
      found = load();
      map.set(key, found);
      // A failed lookup is not remembered.
      found.catch(() => map.delete(key));
    }
    return found;
  };
  return {
    bySecretSha256: (sha256) => cached(bySecret, sha256, () => apiTokenBySecret(ctx.db, sha256)),
    byId: (id) => cached(byId, id, () => apiTokenById(ctx.db, id)),
  };
}
