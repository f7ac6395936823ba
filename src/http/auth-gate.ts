// Authentication and authorization at the door (ADR-0010): one middleware after the request is
// observed. It authenticates the credentials, applies the rate limits, states the endpoint's
// requirement from the access tables, answers a refusal in the protocol's form (a challenge naming
// the scope to ask for, 403, 429), and runs the rest of the request as its caller — so every event
// names its actor and the registry's data-dependent checks see the same principal.
import type { MiddlewareHandler } from 'hono';
import { accessOf } from '../auth/access.js';
import { withCaller } from '../auth/actor.js';
import type { Authenticated, Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { FailureLimiter, RateLimiter } from '../auth/rate-limit.js';
import { judge, type Verdict } from '../auth/requirements.js';
import { formatScope, type ResourceAccess } from '../auth/scopes.js';
import { AccessError } from '../errors.js';
import { nativeRequirement, v2Requirement } from './access-table.js';
import { API_BASE } from './api/paths.js';
import type { TrustedProxies } from './forwarded.js';
import type { Env } from './request.js';

export interface AuthGateOptions {
  trust: TrustedProxies;
  rateLimit: { perSecond: number; burst: number };
  /** Failed credential checks per minute per client address (0: no limit). */
  authFailureLimit: number;
}

/** Paths anyone may reach: probes, metrics, the API's description, the token service's keys. */
const PUBLIC = new Set(['/healthz', '/readyz', '/metrics', '/auth/jwks.json', `${API_BASE}/openapi.json`]);

export const TOKEN_PATH = '/auth/token';

/** The web UI's paths (ui/routes.tsx). */
export const isUiPath = (path: string) => path === '/ui' || path.startsWith('/ui/');

export class AuthGate {
  private readonly limiter: RateLimiter;
  private readonly failures: FailureLimiter;

  constructor(
    /** Replaced on reload (SIGHUP): requests in flight keep the one they started with. */
    public authenticator: Authenticator,
    private readonly options: AuthGateOptions,
  ) {
    this.limiter = new RateLimiter(options.rateLimit.perSecond, options.rateLimit.burst);
    this.failures = new FailureLimiter(options.authFailureLimit);
  }

  /** The origin the client used (for realms). */
  origin(c: Parameters<MiddlewareHandler<Env>>[0]): string {
    const socket = c.env?.incoming?.socket as
      | (import('node:net').Socket & { encrypted?: boolean })
      | undefined;
    return this.options.trust.origin(c.req.raw, {
      address: socket?.remoteAddress,
      encrypted: Boolean(socket?.encrypted),
    });
  }

  /** A 401 in this registry's scheme: Bearer (token mode) or Basic. */
  challenge(
    c: Parameters<MiddlewareHandler<Env>>[0],
    scopes: ResourceAccess[],
    error?: 'invalid_token' | 'insufficient_scope',
  ): string {
    const auth = this.authenticator;
    const native = c.req.path.startsWith(`${API_BASE}/`) || c.req.path === TOKEN_PATH;
    if (auth.settings.mode === 'basic' || native)
      return `Basic realm="${auth.settings.realm}",charset="UTF-8"`;
    let header = `Bearer realm="${auth.tokenRealm(this.origin(c))}",service="${auth.settings.service}"`;
    if (scopes.length > 0) header += `,scope="${scopes.map(formatScope).join(' ')}"`;
    if (error) header += `,error="${error}"`;
    return header;
  }

  /** A login (the web UI's form): the password check, counted against the address's failure limit. */
  async login(
    c: Parameters<MiddlewareHandler<Env>>[0],
    user: string,
    password: string,
  ): Promise<Authenticated> {
    const address = this.clientAddress(c);
    this.refuseBlocked(address);
    const result = await this.authenticator.password(user, password);
    if (!result.ok) this.failures.record(address);
    return result;
  }

  /** 429 for an address past its failed-login limit. */
  private refuseBlocked(address: string): void {
    const blocked = this.failures.blocked(address);
    if (blocked > 0) {
      throw new AccessError('rate-limited', 'too many failed logins from this address; retry later', {
        retryAfterSeconds: blocked,
      });
    }
  }

  private clientAddress(c: Parameters<MiddlewareHandler<Env>>[0]): string {
    const socket = c.env?.incoming?.socket;
    return this.options.trust.clientAddress(c.req.raw.headers, { address: socket?.remoteAddress });
  }

  middleware(): MiddlewareHandler<Env> {
    return async (c, next) => {
      const path = c.req.path;
      // The UI authenticates its pages by its session (ui/session.ts) and calls the APIs in-process
      // as that session's principal, which is judged below like any other.
      if (PUBLIC.has(path) || isUiPath(path)) return next();
      const auth = this.authenticator;
      const internal = c.env?.uiPrincipal;
      let principal: Principal;
      if (internal) principal = internal;
      else {
        const address = this.clientAddress(c);
        this.refuseBlocked(address);
        const header = c.req.header('authorization');
        const result = await auth.authenticate(header);
        if (!result.ok) {
          this.failures.record(address);
          const bearer = /^bearer\s/i.test(header ?? '');
          throw new AccessError('unauthenticated', result.message, {
            challenge: this.challenge(c, [], bearer ? 'invalid_token' : undefined),
          });
        }
        principal = result.principal;
        const wait = this.limiter.take(
          principal.kind === 'anonymous' ? `anonymous:${address}` : principal.key,
        );
        if (wait > 0) {
          throw new AccessError('rate-limited', 'too many requests; retry later', {
            retryAfterSeconds: wait,
          });
        }
      }
      c.set('principal', principal);
      if (path !== TOKEN_PATH) {
        const v2 = path === '/v2' || path.startsWith('/v2/');
        const requirement = v2
          ? v2Requirement(c.req.method, path, (name) => c.req.query(name))
          : nativeRequirement(c.req.method, c.req.raw);
        this.refuse(c, judge(auth.policy, principal, requirement));
      }
      const caller = {
        actor: principal.actor,
        owner: principal.key,
        access: accessOf(auth.policy, principal),
      };
      return withCaller(caller, () => next());
    };
  }

  private refuse(c: Parameters<MiddlewareHandler<Env>>[0], verdict: Verdict): void {
    if (verdict.ok) return;
    if (verdict.answer === 'denied') {
      throw new AccessError('denied', 'requested access to the resource is denied');
    }
    const insufficient = verdict.answer === 'insufficient';
    throw new AccessError(
      'unauthenticated',
      insufficient ? 'the token does not grant the access this request needs' : 'authentication required',
      { challenge: this.challenge(c, verdict.scopes, insufficient ? 'insufficient_scope' : undefined) },
    );
  }
}
