// What an endpoint needs, and the verdict on a principal (ADR-0010 §5). The HTTP layer states each
// endpoint's requirement in its tables and turns the verdict into its protocol's answer: a challenge
// (401) asks the client for credentials or a wider token, a denial (403) says no token would help.
import type { AdminAction, Policy, RepositoryAction } from './policy.js';
import type { Principal } from './principal.js';
import type { ResourceAccess } from './scopes.js';

export type Requirement =
  /** Any authenticated caller (or one holding a token): `/v2/` itself, where clients log in. */
  | { kind: 'authenticated' }
  /** Any caller the policy gives something; what it sees is filtered later (listings, blobs by digest). */
  | { kind: 'known' }
  /** Native upload sessions: a caller that may push somewhere (the session has no repository yet). */
  | { kind: 'pusher' }
  /** `_catalog`: a token must grant `registry:catalog:*`; the list is filtered later. */
  | { kind: 'catalog' }
  | {
      kind: 'repository';
      name: string;
      actions: RepositoryAction[];
      /** Also named in a challenge, not required (a mount's source: without it, a plain upload). */
      optional?: ResourceAccess[];
    }
  | { kind: 'admin'; action: AdminAction };

export type Verdict =
  | { ok: true }
  /** 401: credentials (or a token for `scopes`) may help; `insufficient`: the token lacks them. */
  | { ok: false; answer: 'challenge' | 'insufficient'; scopes: ResourceAccess[] }
  /** 403: this identity may not, whatever it asks for. */
  | { ok: false; answer: 'denied'; scopes: ResourceAccess[] };

export function judge(policy: Policy, principal: Principal, requirement: Requirement): Verdict {
  const scopes = scopesOf(requirement);
  if (allowed(policy, principal, requirement)) {
    // A mount whose token lacks pull on the source that its identity has: ask for a wider token (as
    // distribution does, so the mount is not lost); without the right itself, a plain upload follows.
    if (
      requirement.kind === 'repository' &&
      principal.bearer &&
      lacksOptional(policy, principal, requirement)
    ) {
      return { ok: false, answer: 'insufficient', scopes };
    }
    return { ok: true };
  }
  if (principal.kind === 'anonymous') return { ok: false, answer: 'challenge', scopes };
  // Would a token asked for these scopes carry them? Then the client should ask (401), else 403.
  if (principal.bearer && allowed(policy, identityOf(principal), requirement)) {
    return { ok: false, answer: 'insufficient', scopes };
  }
  return { ok: false, answer: 'denied', scopes };
}

/** What a bearer token's identity may do: its limits without the token's own access claim. */
function identityOf(principal: Principal): Principal {
  return { ...principal, limits: principal.limits.slice(0, -1), bearer: false, catalog: true };
}

function lacksOptional(
  policy: Policy,
  principal: Principal,
  requirement: Extract<Requirement, { kind: 'repository' }>,
): boolean {
  const identity = identityOf(principal);
  return (requirement.optional ?? []).some(
    (o) =>
      o.type === 'repository' &&
      o.actions.every((a) => policy.can(identity, o.name, a as RepositoryAction)) &&
      !o.actions.every((a) => policy.can(principal, o.name, a as RepositoryAction)),
  );
}

function allowed(policy: Policy, principal: Principal, requirement: Requirement): boolean {
  switch (requirement.kind) {
    case 'authenticated':
      return principal.kind !== 'anonymous' || principal.bearer;
    case 'known':
      return policy.grantsAnything(principal);
    case 'pusher':
      return policy.pushesAnywhere(principal);
    case 'catalog':
      // Without credentials, a challenge: oras and regctl send theirs only after a 401.
      if (principal.bearer) return principal.catalog === true;
      return principal.kind !== 'anonymous' && policy.grantsAnything(principal);
    case 'repository': {
      const actions = policy.actions(principal, requirement.name);
      return requirement.actions.every((a) => actions.has(a));
    }
    case 'admin':
      return policy.isAdmin(principal, requirement.action);
  }
}

function scopesOf(requirement: Requirement): ResourceAccess[] {
  switch (requirement.kind) {
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    case 'repository':
      return [
        ...(requirement.optional ?? []),
        { type: 'repository', name: requirement.name, actions: requirement.actions },
      ];
    default:
      return [];
  }
}
