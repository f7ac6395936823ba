// The matrix's expectation model (ADR-0010 §4, §5): what a request needs, what each column's
// credentials grant (its rules, within its token), and the gate's answer before any data is read.
import { type Action, type Column, identity } from './principals.js';
/** What a request needs (ADR-0010 §4), written independently of src/http/access-table.ts. */
export type Need =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'known' }
  /** Native upload sessions (no repository yet): push somewhere, within the token too. */
  | { kind: 'pusher' }
  | { kind: 'catalog' }
  | { kind: 'repo'; name: string; actions: Action[]; optional?: string }
  | { kind: 'admin' }
  | { kind: 'token-service' };

export function needScopes(need: Need): string[] {
  if (need.kind === 'catalog') return ['registry:catalog:*'];
  if (need.kind !== 'repo') return [];
  const main = `repository:${need.name}:${need.actions.join(',')}`;
  return need.optional ? [`repository:${need.optional}:pull`, main] : [main];
}

/** The token grant of a column for `scopes`: what it asked, within its user's rules. */
export function tokenGrant(
  col: Column,
  rowScopes: string[],
): { repos: Map<string, Set<Action>>; catalog: boolean } {
  const asked = col.asks === 'row' ? rowScopes : (col.asks ?? []);
  const repos = new Map<string, Set<Action>>();
  let catalog = false;
  for (const scope of asked) {
    const [type, ...rest] = scope.split(':');
    const actions = rest.pop()!.split(',');
    const name = rest.join(':');
    if (type === 'registry' && name === 'catalog') catalog = true;
    if (type !== 'repository') continue;
    const allowed = identity(col.user, name);
    const got = repos.get(name) ?? new Set<Action>();
    for (const a of actions) {
      if (a === '*') for (const x of allowed) got.add(x);
      else if (allowed.has(a as Action)) got.add(a as Action);
    }
    if (got.size > 0) repos.set(name, got);
  }
  return { repos, catalog };
}

/** The actions a column really has on a repository (its rules, within its token). */
export function effective(col: Column, repository: string, rowScopes: string[]): Set<Action> {
  if (col.kind !== 'basic' && col.kind !== 'token') return new Set();
  const ids = identity(col.user, repository);
  if (col.kind === 'basic') return ids;
  const limit = tokenGrant(col, rowScopes).repos.get(repository) ?? new Set();
  return new Set([...ids].filter((a) => limit.has(a)));
}
export const canPull = (col: Column, repository: string, rowScopes: string[]) =>
  effective(col, repository, rowScopes).has('pull');
export const isAdmin = (col: Column) => col.kind === 'basic' && col.user === 'admin';

export type Challenge = 'plain' | 'invalid' | 'insufficient';
export type Challenged = { status: 401; refused: true; challenge: Challenge; scopes: string[] };
export type Expected =
  | { status: number; refused: false }
  | Challenged
  | { status: 403; refused: true }
  | { status: 404; refused: true; code: string };

export const refuse401 = (challenge: Challenge, scopes: string[] = []): Expected => ({
  status: 401,
  refused: true,
  challenge,
  scopes,
});
export const DENIED: Expected = { status: 403, refused: true };

/** The gate's answer (ADR-0010 §5), before any data-dependent check. */
export function gate(need: Need, col: Column, rowScopes: string[]): Expected | 'through' {
  if (need.kind === 'public') return 'through';
  if (col.kind === 'wrong') return refuse401('plain');
  if (col.kind === 'expired') return refuse401('invalid');
  if (need.kind === 'token-service') return 'through';
  const anonymous = col.kind === 'anonymous';
  switch (need.kind) {
    case 'authenticated':
    case 'known':
      return anonymous ? refuse401('plain') : 'through';
    case 'catalog':
      if (anonymous) return refuse401('plain', needScopes(need));
      if (col.kind === 'token' && !tokenGrant(col, rowScopes).catalog)
        return refuse401('insufficient', needScopes(need));
      return 'through';
    case 'repo': {
      if (anonymous) return refuse401('plain', needScopes(need));
      const has = effective(col, need.name, rowScopes);
      if (need.actions.every((a) => has.has(a))) return 'through';
      const ids = identity(col.user, need.name);
      if (col.kind === 'token' && need.actions.every((a) => ids.has(a)))
        return refuse401('insufficient', needScopes(need));
      return DENIED;
    }
    case 'pusher': {
      if (anonymous) return refuse401('plain');
      const identityPushes = ['pusher', 'other', 'admin'].includes(col.user as string);
      if (!identityPushes) return DENIED;
      if (col.kind !== 'token') return 'through';
      const granted = [...tokenGrant(col, rowScopes).repos.values()].some((a) => a.has('push'));
      return granted ? 'through' : refuse401('insufficient');
    }
    case 'admin':
      if (anonymous) return refuse401('plain');
      return isAdmin(col) ? 'through' : DENIED;
  }
}
