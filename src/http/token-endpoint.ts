// The token service at /auth/token (Docker registry token spec; ADR-0010 §3), on the registry's own
// origin because oras and crane refuse realms elsewhere on private addresses. GET: Basic credentials
// (a user, or an API token as password) or none (the anonymous grant), every `scope` parameter,
// `offline_token=true` for a refresh token. POST (OAuth2 form): grant_type password or refresh_token.
// The grant is what was asked, within the policy — never an error; the answer carries the JWT as both
// `token` and `access_token` (clients read one or the other).
import type { Context, Hono } from 'hono';
import type { Authenticated } from '../auth/authenticator.js';
import { parseScopes } from '../auth/scopes.js';
import { AccessError, DomainError } from '../errors.js';
import { type AuthGate, TOKEN_PATH } from './auth-gate.js';
import { type Env, readForm } from './request.js';

const MAX_FORM_BYTES = 16 * 1024;

export function tokenRoutes(app: Hono<Env>, gate: AuthGate): void {
  app.get('/auth/jwks.json', (c) => {
    const jwks = gate.authenticator.jwks();
    if (!jwks) throw new DomainError('endpoint-unknown', 'this registry issues no tokens');
    return c.json(jwks, 200, { 'Cache-Control': 'max-age=60' });
  });

  app.get(TOKEN_PATH, async (c) => {
    const principal = c.get('principal');
    if (!principal || !gate.authenticator.jwks())
      throw new DomainError('endpoint-unknown', 'no token service here');
    const offline = c.req.query('offline_token') === 'true';
    return answer(c, gate, { ok: true, principal }, c.req.queries('scope') ?? [], offline);
  });

  app.post(TOKEN_PATH, async (c) => {
    if (!gate.authenticator.jwks()) throw new DomainError('endpoint-unknown', 'no token service here');
    const form = await readForm(
      c,
      MAX_FORM_BYTES,
      (reason) =>
        new DomainError(
          'request-invalid',
          reason === 'size'
            ? 'the form is too large'
            : 'the token request must be application/x-www-form-urlencoded',
        ),
    );
    const grant = form.get('grant_type');
    let result: Authenticated;
    if (grant === 'password') {
      result = await gate.authenticator.password(form.get('username') ?? '', form.get('password') ?? '');
    } else if (grant === 'refresh_token') {
      result = await gate.authenticator.refreshed(form.get('refresh_token') ?? '');
    } else {
      throw new DomainError('request-invalid', 'grant_type must be password or refresh_token');
    }
    const offline = grant === 'refresh_token' || form.get('access_type') === 'offline';
    return answer(c, gate, result, form.getAll('scope'), offline, form.get('refresh_token') ?? undefined);
  });
}

async function answer(
  c: Context<Env>,
  gate: AuthGate,
  result: Authenticated,
  scopes: string[],
  offline: boolean,
  givenRefresh?: string,
): Promise<Response> {
  if (!result.ok) {
    throw new AccessError('unauthenticated', result.message, { challenge: gate.challenge(c, []) });
  }
  const issued = await gate.authenticator.issue(
    result.principal,
    parseScopes(scopes),
    offline && !givenRefresh,
  );
  const refresh = issued.refreshToken ?? givenRefresh;
  return c.json(
    {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
      ...(refresh ? { refresh_token: refresh } : {}),
    },
    200,
    { 'Cache-Control': 'no-store' },
  );
}
