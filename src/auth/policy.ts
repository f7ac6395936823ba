// The authorization policy (AUTH_CONFIG, ADR-0010): rules that only allow. A principal's actions on
// a repository are the union of every rule whose glob matches the name and whose subjects include the
// principal, cut down by every limit the principal carries (a bearer token's access claim, an API
// token's scopes). Globs: `*` is one path segment, `**` any number. No HTTP, no SQL: the catalog's SQL
// filter is built from the regular expressions this module compiles.
import type { Principal } from './principal.js';

export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RepositoryAction = (typeof REPOSITORY_ACTIONS)[number];
export const ADMIN_ACTIONS = [
  'gc',
  'holds',
  'releases',
  'retention',
  'schemas',
  'tiering',
  'tokens',
  'events',
] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** Who a rule applies to. */
export interface Subjects {
  users?: string[];
  groups?: string[];
  /** Callers with no credentials. */
  anonymous?: boolean;
  /** Every authenticated caller. */
  authenticated?: boolean;
}

export interface RepositoryRule {
  match: string[];
  allow: (Subjects & { actions: RepositoryAction[] })[];
}

export interface PolicyRules {
  groups: Record<string, string[]>;
  repositories: RepositoryRule[];
  admin: { users: string[]; groups: string[]; actions: AdminAction[] };
}

/** Repository globs × actions: a token's scope, or a rule's grant. */
export interface Grant {
  repositories: string[];
  actions: string[];
}

/**
 * Which repositories a principal may pull, as regular expressions valid in JavaScript and in
 * PostgreSQL (`~`): a name is pullable when, for every group, it matches one of the group's
 * expressions. `all`: no filter; `none`: nothing.
 */
export type RepositoryFilter = { kind: 'all' } | { kind: 'none' } | { kind: 'match'; groups: string[][] };

/** Repository globs: name characters, `*` and `**`. */
export const GLOB_PATTERN = /^[a-z0-9._/*-]+$/;

export function isGlob(glob: string): boolean {
  return GLOB_PATTERN.test(glob);
}

/** A glob as an anchored regular expression (the same text in JavaScript and PostgreSQL). */
export function globRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else if (ch === '.') out += '\\.';
    else out += ch;
  }
  return `^${out}$`;
}

interface CompiledGrant {
  patterns: RegExp[];
  sources: string[];
  actions: ReadonlySet<string>;
}

function compile(grant: Grant): CompiledGrant {
  const sources = grant.repositories.map(globRegex);
  return { patterns: sources.map((s) => new RegExp(s)), sources, actions: new Set(grant.actions) };
}

/** Grants compiled once, cached per limit (tokens are verified per request, their grants repeat). */
const compiled = new WeakMap<readonly Grant[], CompiledGrant[]>();
function compiledLimit(limit: readonly Grant[]): CompiledGrant[] {
  let out = compiled.get(limit);
  if (!out) {
    out = limit.map(compile);
    compiled.set(limit, out);
  }
  return out;
}

export class Policy {
  private readonly rules: { patterns: RegExp[]; sources: string[]; allow: RepositoryRule['allow'] }[];

  constructor(readonly definition: PolicyRules) {
    this.rules = definition.repositories.map((rule) => {
      const sources = rule.match.map(globRegex);
      return { patterns: sources.map((s) => new RegExp(s)), sources, allow: rule.allow };
    });
  }

  /** The groups `user` belongs to. */
  groupsOf(user: string): string[] {
    return Object.entries(this.definition.groups)
      .filter(([, members]) => members.includes(user))
      .map(([group]) => group);
  }

  private applies(subjects: Subjects, principal: Principal): boolean {
    if (principal.kind === 'anonymous') return subjects.anonymous === true;
    if (subjects.authenticated) return true;
    const user = principal.user;
    if (user === undefined) return false;
    if (subjects.users?.includes(user)) return true;
    return subjects.groups?.some((g) => this.definition.groups[g]?.includes(user)) ?? false;
  }

  /** What the rules alone give the principal's identity on `repository` (limits aside). */
  identityActions(principal: Principal, repository: string): Set<RepositoryAction> {
    // Another issuer's token is the whole grant (as distribution): its limit decides.
    if (principal.kind === 'external') return new Set(REPOSITORY_ACTIONS);
    const actions = new Set<RepositoryAction>();
    for (const rule of this.rules) {
      if (!rule.patterns.some((p) => p.test(repository))) continue;
      for (const entry of rule.allow) {
        if (this.applies(entry, principal)) for (const a of entry.actions) actions.add(a);
      }
    }
    return actions;
  }

  /** The principal's actions on `repository`: the rules' grant within every limit it carries. */
  actions(principal: Principal, repository: string): Set<RepositoryAction> {
    const actions = this.identityActions(principal, repository);
    for (const limit of principal.limits) {
      const within = new Set<string>();
      for (const grant of compiledLimit(limit)) {
        if (grant.patterns.some((p) => p.test(repository))) for (const a of grant.actions) within.add(a);
      }
      for (const a of actions) if (!within.has(a) && !within.has('*')) actions.delete(a);
    }
    return actions;
  }

  can(principal: Principal, repository: string, action: RepositoryAction): boolean {
    return this.actions(principal, repository).has(action);
  }

  /** May the principal use admin `action` (GC, holds, schemas, tiering, other users' tokens, …)? */
  isAdmin(principal: Principal, action: AdminAction): boolean {
    const user = principal.user;
    if (principal.kind === 'anonymous' || principal.kind === 'external' || user === undefined) return false;
    // A token of the token service grants repository access only, never admin actions.
    if (principal.bearer) return false;
    const { admin, groups } = this.definition;
    const listed = admin.users.includes(user) || admin.groups.some((g) => groups[g]?.includes(user));
    if (!listed || !admin.actions.includes(action)) return false;
    return principal.adminLimit === undefined || principal.adminLimit.includes(action);
  }

  /** May the principal push to some repository (native upload sessions belong to none yet)? */
  pushesAnywhere(principal: Principal): boolean {
    if (principal.kind !== 'external') {
      const identity = this.rules.some((rule) =>
        rule.allow.some((e) => e.actions.includes('push') && this.applies(e, principal)),
      );
      if (!identity) return false;
    }
    return principal.limits.every((limit) =>
      compiledLimit(limit).some((g) => g.actions.has('push') || g.actions.has('*')),
    );
  }

  /** Does the principal hold any grant at all (else an anonymous caller is asked to log in)? */
  grantsAnything(principal: Principal): boolean {
    if (principal.kind !== 'anonymous') return true;
    return this.rules.some((rule) => rule.allow.some((entry) => entry.anonymous === true));
  }

  /** The repositories the principal may pull, for listings (catalog, repository list, events). */
  pullFilter(principal: Principal): RepositoryFilter {
    let groups: string[][] = [];
    if (principal.kind !== 'external') {
      const identity = this.rules
        .filter((rule) => rule.allow.some((e) => e.actions.includes('pull') && this.applies(e, principal)))
        .flatMap((rule) => rule.sources);
      if (identity.length === 0) return { kind: 'none' };
      groups.push(identity);
    }
    for (const limit of principal.limits) {
      const sources = compiledLimit(limit)
        .filter((g) => g.actions.has('pull') || g.actions.has('*'))
        .flatMap((g) => g.sources);
      if (sources.length === 0) return { kind: 'none' };
      groups.push(sources);
    }
    groups = groups.filter((g) => !g.includes('^.*$'));
    return groups.length === 0 ? { kind: 'all' } : { kind: 'match', groups };
  }
}

/** Does `name` pass `filter`? */
export function passes(filter: RepositoryFilter, name: string): boolean {
  if (filter.kind === 'all') return true;
  if (filter.kind === 'none') return false;
  return filter.groups.every((group) => group.some((source) => new RegExp(source).test(name)));
}
