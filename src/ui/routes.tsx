// The web UI at /ui/ (ADR-0012): server-rendered pages over the public APIs, in the same process.
// Each request finds its session (a signed cookie), rebuilds the principal it names as the APIs would
// (so a revoked token or a removed user ends the session), and renders a page from API calls made as
// that principal. Forms that change anything are POSTs carrying the session's CSRF token from a page
// of our own origin. Pages never show what the API refused: a refusal reads as "not found".
import type { Context, Hono } from 'hono';
import { compress } from 'hono/compress';
import type { Child } from 'hono/jsx';
import { type Access, accessOf, OPEN_ACCESS } from '../auth/access.js';
import type { Authenticated } from '../auth/authenticator.js';
import { anonymousPrincipal, type Principal } from '../auth/principal.js';
import { AccessError } from '../errors.js';
import type { AuthGate } from '../http/auth-gate.js';
import { type Env, readForm } from '../http/request.js';
import { ApiClient, ApiError, type AppFetch } from './api-client.js';
import { ASSETS } from './assets.js';
import { Layout, Notice, type PageUser } from './layout.js';
import { eventStream, eventsPage, verifyAction } from './pages/events.js';
import { gcPage, gcRunAction } from './pages/gc.js';
import { loginPage } from './pages/login.js';
import { packagePage, restoreAction } from './pages/package.js';
import { appPage, releasesPage, rollbackAction } from './pages/releases.js';
import { repositoriesPage } from './pages/repositories.js';
import { repositoryPage } from './pages/repository.js';
import { dryRunAction, retentionPage } from './pages/retention.js';
import { schemasPage } from './pages/schemas.js';
import { newSession, SESSION_COOKIE, SESSION_SECONDS, type Session, type SessionKeys } from './session.js';

export interface UiOptions {
  keys: SessionKeys;
  /** Authentication (ADR-0010); without it every visitor is anonymous with open access. */
  gate?: AuthGate;
  /** The whole app, which the UI calls in-process. */
  fetch: AppFetch;
}

/** What a page is rendered with. */
export interface Ui {
  c: Context<Env>;
  api: ApiClient;
  access: Access;
  user: PageUser;
  session: Session;
  /** `https://host:port`, as the client reached us (for commands to copy). */
  origin: string;
}

export type PageResult = { title: string; section: string; body: Child; status?: number };

/** Thrown by a page for a missing or invisible thing, and for bad parameters. */
export class UiNotFound extends Error {}

const MAX_FORM_BYTES = 16 * 1024;

export function uiRoutes(app: Hono<Env>, options: UiOptions): void {
  const { keys, gate } = options;
  // Pages and assets gzip to a third or less (a slow link's first load is mostly bytes); the event
  // stream is left alone (the middleware skips text/event-stream, which a gzip stream would hold back).
  app.use('/ui/*', compress());

  app.get('/ui/assets/:file', (c) => {
    const [name, hash] = c.req.param('file').split('.');
    const asset = ASSETS[name as keyof typeof ASSETS];
    if (!asset || hash !== asset.hash) return c.text('not found', 404);
    return c.body(asset.body, 200, {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
  });

  /** The session of a request, and its principal (undefined: log in again). */
  const sessionOf = async (c: Context<Env>) => {
    let session = keys.open(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    let principal: Principal | undefined;
    if (session && session.kind !== 'anonymous' && gate) {
      principal = await gate.authenticator.sessionPrincipal(session.kind, session.name);
      if (!principal) session = undefined;
    }
    if (session && session.kind !== 'anonymous' && !gate) session = undefined;
    return { session, principal };
  };

  const render = async (
    c: Context<Env>,
    page: (ui: Ui) => Promise<PageResult>,
    post = false,
    open = false,
  ) => {
    const found = await sessionOf(c);
    let session = found.session;
    if (!session) {
      if (post) return c.text('your session has ended: reload the page', 403);
      session = newSession('anonymous', '');
      setSession(c, gate, keys.seal(session), session.expires);
    }
    if (post && !(await checkForm(c, keys, session))) {
      return c.text('this form is stale or came from another site: reload the page and try again', 403);
    }
    const principal = found.principal;
    // With authentication on and nothing granted to anonymous callers, a page is only a way to log in.
    if (
      !post &&
      !open &&
      gate &&
      !principal &&
      !gate.authenticator.policy.grantsAnything(anonymousPrincipalOf())
    ) {
      const next = c.req.path + (new URL(c.req.url).search || '');
      return c.redirect(`/ui/login?${new URLSearchParams({ next })}`, 303);
    }
    const ui: Ui = {
      c,
      api: new ApiClient(options.fetch, principal ?? anonymousOf(gate), c.req.raw.signal),
      access: gate ? accessOf(gate.authenticator.policy, principal ?? anonymousPrincipalOf()) : OPEN_ACCESS,
      user: {
        ...(principal?.user !== undefined ? { name: principal.user } : {}),
        loggedIn: principal !== undefined,
        canLogin: gate !== undefined,
        csrf: keys.csrfToken(session),
      },
      session,
      origin: originOf(c, gate),
    };
    let result: PageResult;
    try {
      result = await page(ui);
    } catch (error) {
      result = failurePage(error, ui);
    }
    c.header('Cache-Control', 'no-store');
    c.header('X-Frame-Options', 'DENY');
    c.header('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'; form-action 'self'");
    c.header('Referrer-Policy', 'same-origin');
    return c.html(
      <Layout title={result.title} section={result.section} user={ui.user}>
        {result.body}
      </Layout>,
      (result.status ?? 200) as 200,
    );
  };

  app.get('/ui', (c) => c.redirect('/ui/repositories'));
  app.get('/ui/', (c) => c.redirect('/ui/repositories'));
  app.get('/ui/login', (c) => render(c, (ui) => loginPage(ui, gate), false, true));
  app.post('/ui/login', async (c) => {
    const found = await sessionOf(c);
    if (!found.session || !(await checkForm(c, keys, found.session))) {
      return c.text('this form is stale or came from another site: reload the page and try again', 403);
    }
    if (!gate) return c.redirect('/ui/repositories', 303);
    const form = await uiForm(c);
    let result: Authenticated;
    try {
      result = await gate.login(c, form.get('username') ?? '', form.get('password') ?? '');
    } catch (error) {
      if (!(error instanceof AccessError && error.code === 'rate-limited')) throw error;
      const seconds = error.answer.retryAfterSeconds ?? 60;
      c.header('Retry-After', String(seconds));
      const message = `Too many failed logins from this address: try again in ${seconds} s.`;
      return render(c, (ui) => loginPage(ui, gate, message, 429), false, true);
    }
    if (!result.ok || (result.principal.kind !== 'user' && result.principal.kind !== 'api-token')) {
      return render(c, (ui) => loginPage(ui, gate, 'Wrong user name or password.'), false, true);
    }
    const p = result.principal;
    const session =
      p.kind === 'api-token'
        ? newSession('api-token', p.actor.token ?? '')
        : newSession('user', p.user ?? '');
    setSession(c, gate, keys.seal(session), session.expires);
    return c.redirect(safeNext(form.get('next')), 303);
  });
  app.post('/ui/logout', async (c) => {
    const found = await sessionOf(c);
    if (found.session && (await checkForm(c, keys, found.session))) {
      const session = newSession('anonymous', '');
      setSession(c, gate, keys.seal(session), session.expires);
    }
    return c.redirect('/ui/login', 303);
  });

  const page = (path: string, handler: (ui: Ui) => Promise<PageResult>) =>
    app.get(path, (c) => render(c, handler));
  const action = (path: string, handler: (ui: Ui) => Promise<PageResult>) =>
    app.post(path, (c) => render(c, handler, true));

  page('/ui/repositories', repositoriesPage);
  // Repository names hold slashes: `/ui/repo/<name>` and `/ui/repo/<name>/-/package/<ref>`.
  page('/ui/repo/*', (ui) => {
    const rest = decodePath(ui.c.req.path.slice('/ui/repo/'.length));
    const split = rest.indexOf('/-/package/');
    if (split < 0) return repositoryPage(ui, rest);
    return packagePage(ui, rest.slice(0, split), rest.slice(split + '/-/package/'.length));
  });
  action('/ui/restore', restoreAction);
  page('/ui/events', eventsPage);
  app.get('/ui/events/stream', async (c) => {
    const found = await sessionOf(c);
    if (!found.session) return c.text('log in again', 401);
    const api = new ApiClient(options.fetch, found.principal ?? anonymousOf(gate), c.req.raw.signal);
    return eventStream(api, c);
  });
  action('/ui/events/verify', verifyAction);
  page('/ui/schemas', schemasPage);
  page('/ui/releases', releasesPage);
  page('/ui/releases/:app', (ui) => appPage(ui, ui.c.req.param('app') ?? ''));
  action('/ui/releases/:app/current', (ui) => rollbackAction(ui, ui.c.req.param('app') ?? ''));
  page('/ui/retention', retentionPage);
  action('/ui/retention/dry-run', dryRunAction);
  page('/ui/gc', gcPage);
  action('/ui/gc/run', gcRunAction);
  app.all('/ui/*', (c) =>
    render(c, async () => ({
      title: 'Not found',
      section: '',
      status: 404,
      body: <Notice kind="bad">There is no such page.</Notice>,
    })),
  );
}

/** The anonymous principal of the policy (or none: with auth off the gate is absent). */
function anonymousOf(gate: AuthGate | undefined): Principal | undefined {
  return gate ? anonymousPrincipalOf() : undefined;
}

function anonymousPrincipalOf(): Principal {
  const anonymous = anonymousPrincipal();
  return { ...anonymous, actor: { ...anonymous.actor, via: 'session' } };
}

function failurePage(error: unknown, ui: Ui): PageResult {
  if (error instanceof UiNotFound || (error instanceof ApiError && [401, 403, 404].includes(error.status))) {
    // A refusal and an absence read the same: the page says nothing of what the caller may not see.
    return {
      title: 'Not found',
      section: '',
      status: 404,
      body: (
        <>
          <h1>Not found</h1>
          <Notice kind="bad">
            Nothing here, or nothing you may see.{' '}
            {!ui.user.loggedIn && ui.user.canLogin && <a href="/ui/login">Log in</a>}
          </Notice>
        </>
      ),
    };
  }
  if (error instanceof ApiError && error.status < 500) {
    return {
      title: 'Refused',
      section: '',
      status: 400,
      body: <Notice kind="bad">{`The registry refused: ${error.message} (${error.code})`}</Notice>,
    };
  }
  throw error;
}

class FormRefused extends Error {}

/** The form's fields (read once per request). */
export async function uiForm(c: Context<Env>): Promise<URLSearchParams> {
  const cached = c.get('uiForm');
  if (cached) return cached;
  // A body of another type or past the limit reads as an empty form: its CSRF check then fails (403).
  const form = await readForm(c, MAX_FORM_BYTES, () => new FormRefused()).catch((error: unknown) => {
    if (error instanceof FormRefused) return new URLSearchParams();
    throw error;
  });
  c.set('uiForm', form);
  return form;
}

/** A POST is ours when its CSRF token is the session's and, when the browser says, it came from our origin. */
async function checkForm(c: Context<Env>, keys: SessionKeys, session: Session): Promise<boolean> {
  const origin = c.req.header('origin');
  if (origin !== undefined && origin !== 'null') {
    const host = c.req.header('host');
    let sameHost = false;
    try {
      sameHost = new URL(origin).host === host;
    } catch {
      sameHost = false;
    }
    if (!sameHost) return false;
  }
  if (c.req.header('sec-fetch-site') === 'cross-site') return false;
  const form = await uiForm(c);
  return keys.checkCsrf(session, form.get('_csrf') ?? undefined);
}

function setSession(c: Context<Env>, gate: AuthGate | undefined, value: string, expires: number): void {
  // The origin the client used (behind a TLS-terminating proxy too, as the gate reads it).
  const secure = originOf(c, gate).startsWith('https:') ? '; Secure' : '';
  const maxAge = Math.max(0, Math.min(SESSION_SECONDS, expires - Math.floor(Date.now() / 1000)));
  c.header(
    'Set-Cookie',
    `${SESSION_COOKIE}=${value}; Path=/ui; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`,
  );
}

function originOf(c: Context<Env>, gate: AuthGate | undefined): string {
  return gate ? gate.origin(c) : new URL(c.req.url).origin;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Only a path of the UI itself: never an open redirect. */
function safeNext(next: string | null): string {
  return next && /^\/ui\/[^/\\]/.test(next) && !next.includes('//') ? next : '/ui/repositories';
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new UiNotFound();
  }
}
