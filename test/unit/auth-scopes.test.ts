// Scope parsing with the strings the clients sent in ADR-0010's measurements.
import { describe, expect, it } from 'vitest';
import { formatScope, normalizeAccess, parseScopes } from '../../src/auth/scopes.js';

describe('parseScopes', () => {
  it('merges crane asking push,pull and pull,push for one repository in one request', () => {
    expect(parseScopes(['repository:team/app:push,pull', 'repository:team/app:pull,push'])).toEqual([
      { type: 'repository', name: 'team/app', actions: ['push', 'pull'] },
    ]);
  });

  it('splits one value holding several space-joined scopes (regctl POST, conformance retry)', () => {
    expect(parseScopes(['repository:conformance/repo1:pull,push repository:conformance/repo2:pull'])).toEqual(
      [
        { type: 'repository', name: 'conformance/repo1', actions: ['pull', 'push'] },
        { type: 'repository', name: 'conformance/repo2', actions: ['pull'] },
      ],
    );
    // and several parameters (oras copy), extra spaces included
    expect(parseScopes(['  repository:d:pull,push  ', 'repository:s:pull'])).toEqual([
      { type: 'repository', name: 'd', actions: ['pull', 'push'] },
      { type: 'repository', name: 's', actions: ['pull'] },
    ]);
  });

  it('keeps * (skopeo delete) and registry:catalog:*', () => {
    expect(parseScopes(['repository:r:*', 'registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'r', actions: ['*'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('takes the name between the first and the last colon', () => {
    expect(parseScopes(['repository:localhost:5000/x:pull'])).toEqual([
      { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] },
    ]);
  });

  it('merges delete into an earlier grant and deduplicates actions', () => {
    expect(parseScopes(['repository:r:delete,pull', 'repository:r:push,pull,delete,push'])).toEqual([
      { type: 'repository', name: 'r', actions: ['delete', 'pull', 'push'] },
    ]);
  });

  it('drops empty and malformed values', () => {
    expect(
      parseScopes([
        '',
        ' ',
        'garbage',
        'repository:r',
        'repository::pull',
        ':r:pull',
        'repository:r:',
        'repository:r:,,',
        'alice', // an `account` value passed by mistake
        'regclient/regctl (v0.11.5)', // a `client_id` value passed by mistake
      ]),
    ).toEqual([]);
    expect(parseScopes(['repository:r:pull,,push,'])).toEqual([
      { type: 'repository', name: 'r', actions: ['pull', 'push'] },
    ]);
    expect(parseScopes([])).toEqual([]);
  });

  it('keeps at most 64 resources, still merging into kept ones', () => {
    const values = Array.from({ length: 100 }, (_, i) => `repository:r${i}:pull`);
    values.push('repository:r0:push');
    const parsed = parseScopes(values);
    expect(parsed).toHaveLength(64);
    expect(parsed[63]!.name).toBe('r63');
    expect(parsed[0]).toEqual({ type: 'repository', name: 'r0', actions: ['pull', 'push'] });
  });
});

describe('formatScope', () => {
  it('is the inverse of parseScopes for one resource', () => {
    for (const scope of ['repository:team/app:pull,push', 'registry:catalog:*', 'repository:h:5000/x:pull']) {
      const [access] = parseScopes([scope]);
      expect(formatScope(access!)).toBe(scope);
    }
  });
});

describe('normalizeAccess', () => {
  it('keeps well-formed entries of an access claim and drops garbage', () => {
    expect(
      normalizeAccess([
        { type: 'repository', name: 'a', actions: ['pull', 7, '', 'pull', 'push'] },
        { type: 'repository', name: 'a', actions: ['delete'] },
        { type: 'repository', name: '', actions: ['pull'] },
        { type: 'repository', name: 'b', actions: 'pull' },
        { type: 1, name: 'c', actions: ['pull'] },
        { type: 'repository', name: 'd', actions: [] },
        null,
        'repository:e:pull',
      ]),
    ).toEqual([{ type: 'repository', name: 'a', actions: ['pull', 'push', 'delete'] }]);
    expect(normalizeAccess(undefined)).toEqual([]);
    expect(normalizeAccess({ type: 'repository', name: 'a', actions: ['pull'] })).toEqual([]);
  });
});
