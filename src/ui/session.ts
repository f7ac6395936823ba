// The web UI's session: a signed cookie naming who logged in (an htpasswd user or an API token's id),
// with an expiry and a random id. Nothing else is kept: each request rebuilds the principal from the
// name (ui/routes.tsx), so a user removed or a token revoked loses the UI at their next page, as they
// would the APIs. The CSRF token of a form is an HMAC of the session's id under the same key: a page of
// another site can neither read it nor make it, and the cookie is SameSite=Strict besides.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createOnce } from '../fs-sync.js';

export const SESSION_COOKIE = 'as_ui_session';
/** A session lasts a working day; a new login starts a new one. */
export const SESSION_SECONDS = 12 * 60 * 60;

export interface Session {
  /** `anonymous` when authentication is off or nobody logged in (it still carries a CSRF id). */
  kind: 'anonymous' | 'user' | 'api-token';
  /** The user, or the API token's id. */
  name: string;
  /** Random: what the CSRF token is made from. */
  id: string;
  /** Seconds since the epoch. */
  expires: number;
}

export class SessionKeys {
  constructor(private readonly key: Buffer) {}

  /** A key for this process only (tests, and apps made without a data directory). */
  static ephemeral(): SessionKeys {
    return new SessionKeys(randomBytes(32));
  }

  /**
   * The key in `file`, made when absent (32 random bytes, mode 0600). Nodes behind one address must
   * share it (UI_SESSION_KEY_FILE), or a session made by one is refused by the others.
   */
  static async load(file: string, create: boolean): Promise<SessionKeys> {
    try {
      return new SessionKeys(keyOf(await readFile(file)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw error;
    }
    return new SessionKeys(keyOf(await createOnce(file, () => randomBytes(32).toString('base64'))));
  }

  seal(session: Session): string {
    const payload = Buffer.from(JSON.stringify([session.kind, session.name, session.id, session.expires]));
    const body = payload.toString('base64url');
    return `${body}.${this.mac(`session:${body}`)}`;
  }

  /** The session a cookie holds, when its signature holds and it has not expired. */
  open(cookie: string | undefined, now = Date.now()): Session | undefined {
    if (!cookie || cookie.length > 1024) return undefined;
    const dot = cookie.indexOf('.');
    if (dot < 0) return undefined;
    const body = cookie.slice(0, dot);
    if (!this.same(cookie.slice(dot + 1), this.mac(`session:${body}`))) return undefined;
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!Array.isArray(fields) || fields.length !== 4) return undefined;
    const [kind, name, id, expires] = fields as unknown[];
    if (kind !== 'anonymous' && kind !== 'user' && kind !== 'api-token') return undefined;
    if (typeof name !== 'string' || typeof id !== 'string' || typeof expires !== 'number') return undefined;
    if (expires * 1000 <= now) return undefined;
    return { kind, name, id, expires };
  }

  csrfToken(session: Session): string {
    return this.mac(`csrf:${session.id}`);
  }

  checkCsrf(session: Session, token: string | undefined): boolean {
    return token !== undefined && this.same(token, this.csrfToken(session));
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}

export function newSession(kind: Session['kind'], name: string, now = Date.now()): Session {
  return {
    kind,
    name,
    id: randomBytes(16).toString('base64url'),
    expires: Math.floor(now / 1000) + SESSION_SECONDS,
  };
}

function keyOf(text: Buffer): Buffer {
  const key = Buffer.from(text.toString('utf8').trim(), 'base64');
  if (key.length < 32) throw new Error('the UI session key must be at least 32 bytes, base64');
  return key;
}
