// Who is asking: the outcome of authentication, which the policy judges. A principal carries its
// identity (a user of the htpasswd file, another issuer's subject, or nobody) and the limits its
// credential puts on it (a bearer token grants only what it names; an API token only its scopes).
import type { Actor } from './actor.js';
import type { AdminAction, Grant } from './policy.js';

export interface Principal {
  kind: 'anonymous' | 'user' | 'api-token' | 'external';
  /** The htpasswd user (for an API token: its owner); absent for anonymous and external callers. */
  user?: string;
  /** Each limit must also allow an action (intersection); none for a user with a password. */
  limits: (readonly Grant[])[];
  /** Admin actions an API token may use (within its owner's); undefined when not restricted. */
  adminLimit?: readonly AdminAction[];
  /** What events record. */
  actor: Actor;
  /** Counts and owns things (rate limits, upload sessions): `user:alice`, `token:<id>`, `anonymous`. */
  key: string;
  /** Authenticated with a bearer token (challenges then name a scope to ask for). */
  bearer: boolean;
  /** A bearer token that grants `registry:catalog:*`. */
  catalog?: boolean;
}

export function anonymousPrincipal(): Principal {
  return { kind: 'anonymous', limits: [], actor: { kind: 'anonymous' }, key: 'anonymous', bearer: false };
}

export function userPrincipal(
  user: string,
  via: 'basic' | 'bearer',
  limits: (readonly Grant[])[] = [],
): Principal {
  return {
    kind: 'user',
    user,
    limits,
    actor: { kind: 'user', name: user, via },
    key: `user:${user}`,
    bearer: via === 'bearer',
  };
}
