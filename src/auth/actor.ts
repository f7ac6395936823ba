// Who is calling, for the whole of a request: what events record as its actor (issue 8), who owns
// the upload sessions it opens, and what it may reach. A request runs in the scope of its caller;
// work outside any request (expiry timers, restore tracking) is the system's, with open access. The
// event log reads the scope when it appends, so no mutation can forget to name its actor, and the
// registry's data-dependent checks (a mount's source, a listing) read the same caller.
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Access, OPEN_ACCESS } from './access.js';

export interface Actor {
  /** `user` (htpasswd), `api-token`, `external` (another issuer's token), `anonymous`, `system`. */
  kind: 'user' | 'api-token' | 'external' | 'anonymous' | 'system';
  /** The user or subject; absent for anonymous and system. */
  name?: string;
  /**
   * How it authenticated: `basic`, `bearer` (a token from /auth/token or an issuer), `api-token`, or
   * `session` (the web UI's session cookie, after a login with a password or an API token).
   */
  via?: 'basic' | 'bearer' | 'api-token' | 'session';
  /** The API token's id, when one was used (directly or behind a bearer token). */
  token?: string;
}

export interface Caller {
  actor: Actor;
  /** Owns upload sessions and counts against per-identity limits; undefined when auth is off. */
  owner?: string;
  access: Access;
}

export const SYSTEM: Caller = { actor: { kind: 'system' }, access: OPEN_ACCESS };

const scope = new AsyncLocalStorage<Caller>();

/** Runs `work` (the rest of a request) as `caller`. */
export function withCaller<T>(caller: Caller, work: () => T): T {
  return scope.run(caller, work);
}

/** The caller of the request being served, else the system. */
export function currentCaller(): Caller {
  return scope.getStore() ?? SYSTEM;
}

export function currentActor(): Actor {
  return currentCaller().actor;
}
