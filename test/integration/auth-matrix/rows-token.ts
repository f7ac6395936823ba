// The matrix's rows of the token service and its keys (/auth/token, /auth/jwks.json).
import { decodeJwt } from 'jose';
import { canPull, refuse401 } from './model.js';
import { identity, PASSWORD, SERVICE } from './principals.js';
import { get, type Row } from './row.js';
import { S } from './world.js';

export const TOKEN_ROWS: Row[] = [
  {
    name: 'GET /auth/token',
    api: 'token-service',
    need: { kind: 'token-service' },
    scopes: ['repository:r/app:pull'],
    ok: 200,
    request: () => get(`/auth/token?service=${SERVICE}&scope=repository:r/app:pull`),
    check: (col, body, _res, scopes) => {
      const answer = JSON.parse(body) as { token: string; access_token: string; expires_in: number };
      if (answer.token !== answer.access_token) return 'token and access_token differ';
      if (!(answer.expires_in >= 60)) return `expires_in ${answer.expires_in}`;
      const claims = decodeJwt(answer.token) as { sub: string; access: unknown };
      const want = canPull(col, 'r/app', scopes)
        ? [{ type: 'repository', name: 'r/app', actions: ['pull'] }]
        : [];
      if (JSON.stringify(claims.access) !== JSON.stringify(want))
        return `access ${JSON.stringify(claims.access)}`;
      if (claims.sub !== (col.user ?? '')) return `sub ${claims.sub}`;
      return undefined;
    },
  },
  {
    name: 'POST /auth/token (password or refresh_token grant)',
    api: 'token-service',
    need: { kind: 'token-service' },
    scopes: ['repository:r/app:pull'],
    // No credentials in a password grant: 401.
    ok: 200,
    after: (col) => (col.kind === 'anonymous' ? refuse401('plain') : undefined),
    request: (col) => {
      const form = new URLSearchParams({ service: SERVICE, scope: 'repository:r/app:pull' });
      if (col.kind === 'basic') {
        form.set('grant_type', 'password');
        form.set('username', col.user!);
        form.set('password', PASSWORD[col.user!]);
      } else if (col.kind === 'token') {
        form.set('grant_type', 'refresh_token');
        form.set('refresh_token', S.refreshTokens.get(col.user!)!);
      } else if (col.kind === 'expired') {
        form.set('grant_type', 'refresh_token');
        form.set('refresh_token', S.expiredRefresh);
      } else if (col.kind === 'wrong') {
        form.set('grant_type', 'password');
        form.set('username', 'admin');
        form.set('password', 'wrong');
      } else form.set('grant_type', 'password');
      return {
        method: 'POST',
        path: '/auth/token',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      };
    },
    check: (col, body) => {
      const answer = JSON.parse(body) as { token: string };
      const claims = decodeJwt(answer.token) as { sub: string; access: unknown };
      const want = identity(col.user, 'r/app').has('pull')
        ? [{ type: 'repository', name: 'r/app', actions: ['pull'] }]
        : [];
      if (claims.sub !== col.user) return `sub ${claims.sub}`;
      return JSON.stringify(claims.access) === JSON.stringify(want)
        ? undefined
        : `access ${JSON.stringify(claims.access)}`;
    },
  },
  {
    name: 'GET /auth/jwks.json',
    api: 'public',
    need: { kind: 'public' },
    ok: 200,
    request: () => get('/auth/jwks.json'),
    check: (_c, body) => {
      const keys = (JSON.parse(body) as { keys: { kid?: string; d?: string }[] }).keys;
      if (keys.length === 0 || !keys[0]!.kid) return 'no keys';
      return keys.some((k) => 'd' in k) ? 'a private key is published' : undefined;
    },
  },
];
