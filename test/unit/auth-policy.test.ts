// The policy and the verdicts on principals: union of rules, limits as intersections, globs, the
// catalog filter as regular expressions, and when a refusal is a challenge or a denial.
import { describe, expect, it } from 'vitest';
import { globRegex, Policy, type PolicyRules, passes } from '../../src/auth/policy.js';
import { anonymousPrincipal, type Principal, userPrincipal } from '../../src/auth/principal.js';
import { judge, type Requirement } from '../../src/auth/requirements.js';

const rules: PolicyRules = {
  groups: { team: ['alice', 'carol'] },
  repositories: [
    { match: ['team/**'], allow: [{ groups: ['team'], actions: ['pull', 'push'] }] },
    { match: ['team/*'], allow: [{ users: ['carol'], actions: ['delete'] }] },
    {
      match: ['public/**'],
      allow: [
        { anonymous: true, actions: ['pull'] },
        { authenticated: true, actions: ['pull'] },
      ],
    },
  ],
  admin: { users: ['ops'], groups: [], actions: ['gc', 'events'] },
};
const policy = new Policy(rules);

describe('policy', () => {
  it('globs: * is one segment, ** any; dots are literal', () => {
    expect(new RegExp(globRegex('team/*')).test('team/a')).toBe(true);
    expect(new RegExp(globRegex('team/*')).test('team/a/b')).toBe(false);
    expect(new RegExp(globRegex('team/**')).test('team/a/b')).toBe(true);
    expect(new RegExp(globRegex('a.b')).test('axb')).toBe(false);
  });

  it('grants are the union of every matching rule', () => {
    const carol = userPrincipal('carol', 'basic');
    expect([...policy.actions(carol, 'team/x')].sort()).toEqual(['delete', 'pull', 'push']);
    expect([...policy.actions(carol, 'team/x/y')].sort()).toEqual(['pull', 'push']);
    expect([...policy.actions(userPrincipal('alice', 'basic'), 'team/x')].sort()).toEqual(['pull', 'push']);
    expect(policy.actions(userPrincipal('bob', 'basic'), 'team/x').size).toBe(0);
    expect([...policy.actions(userPrincipal('bob', 'basic'), 'public/p')]).toEqual(['pull']);
    expect([...policy.actions(anonymousPrincipal(), 'public/p')]).toEqual(['pull']);
    expect(policy.actions(anonymousPrincipal(), 'team/x').size).toBe(0);
  });

  it("a token's access limits the identity's grant (intersection, never more)", () => {
    const token: Principal = userPrincipal('carol', 'bearer', [
      [{ repositories: ['team/x'], actions: ['pull'] }],
    ]);
    expect([...policy.actions(token, 'team/x')]).toEqual(['pull']);
    expect(policy.actions(token, 'team/y').size).toBe(0);
    const wider: Principal = userPrincipal('bob', 'bearer', [
      [{ repositories: ['team/x'], actions: ['push'] }],
    ]);
    expect(policy.actions(wider, 'team/x').size).toBe(0);
  });

  it('the pull filter lists what may be pulled, in SQL-compatible regular expressions', () => {
    const alice = policy.pullFilter(userPrincipal('alice', 'basic'));
    expect(passes(alice, 'team/a')).toBe(true);
    expect(passes(alice, 'public/a')).toBe(true);
    expect(passes(alice, 'other/a')).toBe(false);
    const token = policy.pullFilter(
      userPrincipal('alice', 'bearer', [[{ repositories: ['team/a'], actions: ['pull'] }]]),
    );
    expect(passes(token, 'team/a')).toBe(true);
    expect(passes(token, 'team/b')).toBe(false);
    expect(policy.pullFilter(userPrincipal('nobody', 'basic')).kind).toBe('match'); // public/** for everyone
    expect(new Policy({ ...rules, repositories: [] }).pullFilter(userPrincipal('x', 'basic')).kind).toBe(
      'none',
    );
  });

  it('admin actions: listed users, only the listed actions, within an API token’s admin limit', () => {
    expect(policy.isAdmin(userPrincipal('ops', 'basic'), 'gc')).toBe(true);
    expect(policy.isAdmin(userPrincipal('ops', 'basic'), 'schemas')).toBe(false);
    expect(policy.isAdmin(userPrincipal('alice', 'basic'), 'gc')).toBe(false);
    expect(policy.isAdmin({ ...userPrincipal('ops', 'basic'), adminLimit: [] }, 'gc')).toBe(false);
  });
});

describe('verdicts', () => {
  const push = { kind: 'repository', name: 'team/x', actions: ['pull', 'push'] } as const;
  it('anonymous callers are challenged, not denied', () => {
    expect(judge(policy, anonymousPrincipal(), { ...push, actions: ['pull', 'push'] })).toMatchObject({
      ok: false,
      answer: 'challenge',
      scopes: [{ type: 'repository', name: 'team/x', actions: ['pull', 'push'] }],
    });
  });
  it('a token that lacks what the identity could get asks for a wider one (insufficient_scope)', () => {
    const token = userPrincipal('alice', 'bearer', [[{ repositories: ['team/x'], actions: ['pull'] }]]);
    expect(judge(policy, token, { ...push, actions: ['pull', 'push'] })).toMatchObject({
      ok: false,
      answer: 'insufficient',
    });
  });
  it('an identity the policy refuses is denied (403), with a token or a password', () => {
    expect(
      judge(policy, userPrincipal('bob', 'basic'), { ...push, actions: ['pull', 'push'] }),
    ).toMatchObject({
      answer: 'denied',
    });
    const token = userPrincipal('bob', 'bearer', [[]]);
    expect(judge(policy, token, { ...push, actions: ['pull', 'push'] })).toMatchObject({ answer: 'denied' });
  });
  it('the catalog needs its scope in a token, any grant with a password, and challenges anonymous callers', () => {
    expect(judge(policy, anonymousPrincipal(), { kind: 'catalog' })).toMatchObject({ answer: 'challenge' });
    expect(judge(policy, userPrincipal('bob', 'basic'), { kind: 'catalog' }).ok).toBe(true);
    expect(judge(policy, userPrincipal('bob', 'bearer', [[]]), { kind: 'catalog' })).toMatchObject({
      answer: 'insufficient',
    });
    expect(
      judge(policy, { ...userPrincipal('bob', 'bearer', [[]]), catalog: true }, { kind: 'catalog' }).ok,
    ).toBe(true);
  });
  it('a mount whose token lacks pull on a source its identity may pull asks for a wider token', () => {
    const mount: Requirement = {
      kind: 'repository',
      name: 'team/x',
      actions: ['pull', 'push'],
      optional: [{ type: 'repository', name: 'public/src', actions: ['pull'] }],
    };
    const narrow = userPrincipal('alice', 'bearer', [
      [{ repositories: ['team/x'], actions: ['pull', 'push'] }],
    ]);
    expect(judge(policy, narrow, mount)).toMatchObject({ answer: 'insufficient' });
    const wide = userPrincipal('alice', 'bearer', [
      [
        { repositories: ['team/x'], actions: ['pull', 'push'] },
        { repositories: ['public/src'], actions: ['pull'] },
      ],
    ]);
    expect(judge(policy, wide, mount).ok).toBe(true);
    // A source the identity cannot pull: the mount goes on as a plain upload (nothing revealed).
    const elsewhere: Requirement = {
      ...mount,
      optional: [{ type: 'repository', name: 'secret/src', actions: ['pull'] }],
    };
    expect(judge(policy, narrow, elsewhere).ok).toBe(true);
  });
  it('/v2/ itself needs credentials, or a token (even an anonymous one)', () => {
    expect(judge(policy, anonymousPrincipal(), { kind: 'authenticated' })).toMatchObject({
      answer: 'challenge',
    });
    expect(judge(policy, { ...anonymousPrincipal(), bearer: true }, { kind: 'authenticated' }).ok).toBe(true);
  });
});
