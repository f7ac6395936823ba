// Authentication (ADR-0010): the credentials of a request become a Principal, or a reason to refuse.
// Basic carries an htpasswd user's password or an API token; Bearer carries an API token, a token of
// our token service, or (when configured) another issuer's. It also issues the token service's
// tokens: the grant is what was asked for, within what the policy gives — never an error.
import { join } from 'node:path';
import { apiTokenSha256, isApiTokenSecret } from './api-token-secret.js';
import type { AuthSettings } from './auth-config.js';
import { Htpasswd } from './htpasswd.js';
import { ExternalIssuer, type IssuedToken, TokenError, TokenKeys, type VerifiedToken } from './jwt.js';
import { type AdminAction, type Grant, Policy, REPOSITORY_ACTIONS } from './policy.js';
import { anonymousPrincipal, type Principal, userPrincipal } from './principal.js';
import type { ResourceAccess } from './scopes.js';

/** An API token as the registry's views hold it. */
export interface ApiTokenRecord {
  id: string;
  owner: string;
  scopes: Grant[];
  admin: string[];
  expiresAt: Date;
  revokedAt: Date | null;
}

/** Where API tokens are looked up (the control plane's view of their events). */
export interface ApiTokenDirectory {
  bySecretSha256(sha256: string): Promise<ApiTokenRecord | undefined>;
  byId(id: string): Promise<ApiTokenRecord | undefined>;
}

export type Authenticated =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'bad-credentials' | 'bad-token' | 'expired-token'; message: string };

export interface TokenAnswer extends IssuedToken {
  refreshToken?: string;
  granted: ResourceAccess[];
}

export class Authenticator {
  private constructor(
    readonly settings: AuthSettings,
    readonly policy: Policy,
    private readonly htpasswd: Htpasswd | undefined,
    private readonly keys: TokenKeys | undefined,
    private readonly external: ExternalIssuer | undefined,
    private readonly tokens: ApiTokenDirectory,
  ) {}

  /** Opens the files `settings` names (a token key is generated in `dataDir` when none is given). */
  static async open(
    settings: AuthSettings,
    tokens: ApiTokenDirectory,
    dataDir: string,
  ): Promise<Authenticator> {
    const htpasswd = settings.htpasswd === undefined ? undefined : await Htpasswd.load(settings.htpasswd);
    const keys =
      settings.mode === 'token' && !settings.external
        ? await TokenKeys.load({
            signingKeyFiles: settings.token.signingKeys,
            generatedKeyFile: join(dataDir, 'auth', 'token-es256.pem'),
          })
        : undefined;
    const external = settings.external ? await ExternalIssuer.create(settings.external) : undefined;
    return new Authenticator(settings, new Policy(settings.rules), htpasswd, keys, external, tokens);
  }

  /** Warnings worth printing at start-up (weak bcrypt costs). */
  get warnings(): string[] {
    return this.htpasswd?.warnings ?? [];
  }

  /** The token service's public keys (for /auth/jwks.json); undefined when it issues none. */
  jwks(): { keys: Record<string, unknown>[] } | undefined {
    return this.keys?.jwks();
  }

  /** The realm clients get tokens from: ours (at `origin`), or the external issuer's. */
  tokenRealm(origin: string): string {
    return this.settings.external?.realm ?? `${origin}/auth/token`;
  }

  /** Re-reads the htpasswd file when it changed (at most once a second). */
  async refresh(): Promise<void> {
    const result = await this.htpasswd?.refresh();
    // Reported once per version of the file; the previous users stay in force.
    if (result?.error) process.stderr.write(`htpasswd not reloaded: ${result.error.message}\n`);
  }

  async authenticate(authorization: string | undefined): Promise<Authenticated> {
    if (authorization === undefined || authorization.trim() === '') {
      return { ok: true, principal: anonymousPrincipal() };
    }
    const space = authorization.indexOf(' ');
    const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : authorization.slice(space + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { ok: false, reason: 'bad-credentials', message: 'malformed Basic credentials' };
      return this.password(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    if (scheme === 'bearer') {
      if (isApiTokenSecret(value)) return this.apiToken(value);
      return this.bearer(value);
    }
    return { ok: false, reason: 'bad-credentials', message: `unsupported authorization scheme "${scheme}"` };
  }

  /** A user name and password, or any name and an API token as the password (as docker login does). */
  async password(user: string, password: string): Promise<Authenticated> {
    if (isApiTokenSecret(password)) return this.apiToken(password);
    await this.refresh();
    if (this.htpasswd && (await this.htpasswd.verify(user, password))) {
      return { ok: true, principal: userPrincipal(user, 'basic') };
    }
    return { ok: false, reason: 'bad-credentials', message: 'wrong user name or password' };
  }

  /**
   * The principal a web UI session stands for, checked as any credential would be, now: the user must
   * still be in the htpasswd file, the API token still valid. `undefined` when it no longer holds.
   */
  async sessionPrincipal(kind: 'user' | 'api-token', name: string): Promise<Principal | undefined> {
    if (kind === 'api-token') {
      const result = this.tokenPrincipal(await this.tokens.byId(name), 'session', []);
      return result.ok ? result.principal : undefined;
    }
    await this.refresh();
    if (!this.htpasswd?.has(name)) return undefined;
    const principal = userPrincipal(name, 'basic');
    return { ...principal, actor: { ...principal.actor, via: 'session' } };
  }

  private async apiToken(secret: string, via: 'api-token' | 'bearer' = 'api-token', limits: Grant[][] = []) {
    const record = await this.tokens.bySecretSha256(apiTokenSha256(secret));
    return this.tokenPrincipal(record, via, limits);
  }

  private tokenPrincipal(
    record: ApiTokenRecord | undefined,
    via: 'api-token' | 'bearer' | 'session',
    limits: Grant[][],
  ): Authenticated {
    if (!record || record.revokedAt)
      return { ok: false, reason: 'bad-credentials', message: 'unknown or revoked API token' };
    if (record.expiresAt.getTime() <= Date.now()) {
      return { ok: false, reason: 'bad-credentials', message: 'the API token has expired' };
    }
    if (!this.htpasswd?.has(record.owner)) {
      return { ok: false, reason: 'bad-credentials', message: "the API token's owner no longer exists" };
    }
    return {
      ok: true,
      principal: {
        kind: 'api-token',
        user: record.owner,
        limits: [record.scopes, ...limits],
        adminLimit: record.admin as AdminAction[],
        actor: { kind: 'api-token', name: record.owner, via, token: record.id },
        key: `token:${record.id}`,
        bearer: via === 'bearer',
      },
    };
  }

  /**
   * Tokens whose signature was verified, until they expire: a client sends the same token with every
   * request, and the signature check was most of what a request cost (docs/benchmarks.md). What the
   * token stands for (its user, its API token) is still checked on every request.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  private async verify(token: string): Promise<VerifiedToken | undefined> {
    const known = this.verified.get(token);
    if (known && known.expiresAt.getTime() > Date.now()) return known;
    let verified: VerifiedToken;
    if (this.external) verified = await this.external.verify(token);
    else if (this.keys) {
      verified = await this.keys.verify(token, {
        issuer: this.settings.token.issuer,
        audience: this.settings.service,
      });
    } else return undefined;
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, verified);
    return verified;
  }

  private async bearer(token: string): Promise<Authenticated> {
    let verified: VerifiedToken;
    try {
      const checked = await this.verify(token);
      if (!checked) return { ok: false, reason: 'bad-token', message: 'bearer tokens are not accepted here' };
      verified = checked;
    } catch (error) {
      const expired = error instanceof TokenError && error.reason === 'expired';
      return {
        ok: false,
        reason: expired ? 'expired-token' : 'bad-token',
        message: expired ? 'the token has expired' : 'the token is not valid',
      };
    }
    const limit = accessGrants(verified);
    const catalog = verified.access.some((a) => a.type === 'registry' && a.name === 'catalog');
    const withScopes = (p: Principal): Authenticated => ({ ok: true, principal: { ...p, catalog } });
    if (this.external) {
      return withScopes({
        kind: 'external',
        limits: [limit],
        actor: { kind: 'external', name: verified.subject, via: 'bearer' },
        key: `external:${verified.subject}`,
        bearer: true,
      });
    }
    const ast = verified.ast;
    if (ast?.kind === 'anonymous')
      return withScopes({ ...anonymousPrincipal(), limits: [limit], bearer: true });
    if (ast?.kind === 'api-token' && ast.tid) {
      const result = this.tokenPrincipal(await this.tokens.byId(ast.tid), 'bearer', [limit]);
      return result.ok ? withScopes(result.principal) : { ...result, reason: 'bad-token' };
    }
    // A user removed from the htpasswd file loses access at once, whatever tokens are still valid.
    await this.refresh();
    if (!this.htpasswd?.has(verified.subject))
      return { ok: false, reason: 'bad-token', message: 'unknown subject' };
    return withScopes(userPrincipal(verified.subject, 'bearer', [limit]));
  }

  /**
   * The token service: grants within the policy what `requested` asks (`*` is every action the
   * principal has); the catalog to any caller the policy gives something. A refresh token when asked.
   */
  async issue(principal: Principal, requested: ResourceAccess[], offline: boolean): Promise<TokenAnswer> {
    if (!this.keys) throw new Error('this registry does not issue tokens');
    const granted: ResourceAccess[] = [];
    for (const r of requested) {
      if (r.type === 'repository') {
        const allowed = this.policy.actions(principal, r.name);
        const wanted = r.actions.includes('*') ? [...REPOSITORY_ACTIONS] : r.actions;
        const actions = wanted.filter((a) => allowed.has(a as never));
        if (actions.length > 0) granted.push({ type: 'repository', name: r.name, actions });
      } else if (r.type === 'registry' && r.name === 'catalog' && this.policy.grantsAnything(principal)) {
        granted.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      }
    }
    const ast = { kind: principal.kind, via: principal.actor.via, tid: principal.actor.token };
    const common = {
      issuer: this.settings.token.issuer,
      subject: principal.user ?? '',
      audience: this.settings.service,
    };
    const issued = await this.keys.sign({
      ...common,
      access: granted,
      ast,
      ttlSeconds: this.settings.token.ttlSeconds,
    });
    const refreshToken =
      offline && principal.kind !== 'anonymous' ? await this.keys.signRefresh({ ...common, ast }) : undefined;
    return { ...issued, refreshToken, granted };
  }

  /** The principal a refresh token stands for (checked as any credential would be, now). */
  async refreshed(refreshToken: string): Promise<Authenticated> {
    if (!this.keys) return { ok: false, reason: 'bad-token', message: 'no refresh tokens here' };
    try {
      const { subject, ast } = await this.keys.verifyRefresh(refreshToken, {
        issuer: this.settings.token.issuer,
        audience: this.settings.service,
      });
      if (ast.kind === 'api-token' && ast.tid)
        return this.tokenPrincipal(await this.tokens.byId(ast.tid), 'bearer', []);
      await this.refresh();
      if (ast.kind === 'user' && this.htpasswd?.has(subject))
        return { ok: true, principal: userPrincipal(subject, 'bearer') };
    } catch {
      // answered below
    }
    return { ok: false, reason: 'bad-credentials', message: 'the refresh token is not valid' };
  }
}

/** Kept with the verified token, so that its compiled patterns are reused by every request. */
const grantsOf = new WeakMap<VerifiedToken, Grant[]>();

/** A token's repository entries as a limit (names are globs without wildcards). */
function accessGrants(token: VerifiedToken): Grant[] {
  let grants = grantsOf.get(token);
  if (!grants) {
    grants = repositoryGrants(token.access);
    grantsOf.set(token, grants);
  }
  return grants;
}

function repositoryGrants(access: ResourceAccess[]): Grant[] {
  return access
    .filter((a) => a.type === 'repository')
    .map((a) => ({ repositories: [a.name.replace(/\*/g, '')], actions: a.actions }));
}
