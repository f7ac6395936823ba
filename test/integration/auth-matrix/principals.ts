// The matrix's policy and principals (ADR-0010 §8): the users with their passwords and rules, the
// same rules as the oracle reads them (written independently of src/auth), and the columns.
import { basicOf, type PolicyRule } from '../../helpers/auth-fixture.js';

export const SERVICE = 'matrix.test';
export const USERS = ['admin', 'puller', 'pusher', 'deleter', 'other'] as const;
export type User = (typeof USERS)[number];
export type Action = 'pull' | 'push' | 'delete';
export const PASSWORD: Record<User, string> = {
  admin: 'pw-admin-1',
  puller: 'pw-puller-1',
  pusher: 'pw-pusher-1',
  deleter: 'pw-deleter-1',
  other: 'pw-other-1',
};

/** The policy; `admin` is its admin. */
export const RULES: PolicyRule[] = [
  { match: ['**'], allow: { admin: ['pull', 'push', 'delete'] } },
  { match: ['r/**'], allow: { puller: ['pull'], pusher: ['pull', 'push'], deleter: ['pull', 'delete'] } },
  { match: ['o/**'], allow: { other: ['pull', 'push', 'delete'] } },
];

export const basic = (user: User) => basicOf(user, PASSWORD[user]);
export const ADMIN = basic('admin');

// ---- the oracle: the policy above, as the ADR states it ----

/** What the rules give each user (globs as expressions: `**` any). */
const GRANTS: Record<User, [RegExp, Action[]][]> = {
  admin: [[/^.*$/, ['pull', 'push', 'delete']]],
  puller: [[/^r\/.*$/, ['pull']]],
  pusher: [[/^r\/.*$/, ['pull', 'push']]],
  deleter: [[/^r\/.*$/, ['pull', 'delete']]],
  other: [[/^o\/.*$/, ['pull', 'push', 'delete']]],
};

export function identity(user: User | undefined, repository: string): Set<Action> {
  const out = new Set<Action>();
  if (!user) return out;
  for (const [pattern, actions] of GRANTS[user])
    if (pattern.test(repository)) for (const a of actions) out.add(a);
  return out;
}

export interface Column {
  slug: string;
  kind: 'anonymous' | 'wrong' | 'expired' | 'basic' | 'token';
  user?: User;
  /** Token columns: the scopes its token was asked for ('row': the scopes the request needs). */
  asks?: string[] | 'row';
  label: string;
}

export const COLUMNS: Column[] = [
  { slug: 'anon', kind: 'anonymous', label: 'anonymous' },
  { slug: 'wrong', kind: 'wrong', label: 'Basic admin:wrong' },
  { slug: 'expired', kind: 'expired', label: 'expired token (admin, r/app *)' },
  {
    slug: 'foreign',
    kind: 'token',
    user: 'other',
    asks: ['repository:o/x:pull,push,delete'],
    label: "other's token for o/x",
  },
  { slug: 'puller', kind: 'basic', user: 'puller', label: 'puller (Basic)' },
  { slug: 'pullertok', kind: 'token', user: 'puller', asks: 'row', label: 'puller (token for the request)' },
  { slug: 'pusher', kind: 'basic', user: 'pusher', label: 'pusher (Basic)' },
  {
    slug: 'pushertok',
    kind: 'token',
    user: 'pusher',
    asks: ['repository:r/app:pull'],
    label: 'pusher (token: r/app pull only)',
  },
  { slug: 'deleter', kind: 'basic', user: 'deleter', label: 'deleter (Basic)' },
  { slug: 'admin', kind: 'basic', user: 'admin', label: 'admin (Basic)' },
];
