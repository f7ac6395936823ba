// The web UI over plain HTTP (the browser suite in test/ui/ drives the pages themselves): sessions,
// logins and their end, CSRF, redirects that stay on our origin, the live event stream, and a
// registry without authentication. Two nodes share one UI_SESSION_KEY_FILE, as deployments must.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthRegistry, type PolicyRule, startAuthRegistry } from '../helpers/auth-fixture.js';
import { pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

type User = 'admin' | 'alice';
const PASSWORDS: Record<User, string> = { admin: 'pw-admin', alice: 'pw-alice' };
const RULES: PolicyRule[] = [
  { match: ['**'], allow: { admin: ['pull', 'push', 'delete'] } },
  { match: ['ui/a'], allow: { alice: ['pull'] } },
];

let keyDir: string;
let a: AuthRegistry<User>;
let open: TestRegistry;

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'ui-key-'));
  await writeFile(join(keyDir, 'ui-session.key'), randomBytes(32).toString('base64'));
  a = await startAuthRegistry<User>({
    prefix: 'ui-http-',
    service: 'ui-test',
    passwords: PASSWORDS,
    rules: RULES,
    admin: 'admin',
    env: { UI_SESSION_KEY_FILE: join(keyDir, 'ui-session.key') },
  });
  open = await startTestRegistry();
  await pushImage(a.admin, 'ui/a', 'v1', [randomBytes(64)]);
  await pushImage(a.admin, 'ui/b', 'v1', [randomBytes(64)]);
  await pushImage(open, 'open/x', 'v1', [randomBytes(64)]);
});
afterAll(async () => {
  await a?.close();
  await open?.close();
  await rm(keyDir, { recursive: true, force: true });
});

/** A browser in miniature: keeps the session cookie, reads the CSRF token of the last page. */
class Visitor {
  cookie = '';
  csrf = '';
  constructor(private readonly r: TestRegistry) {}

  async get(path: string): Promise<{ status: number; text: string; location: string | null }> {
    const res = await this.r.fetch(path, { headers: { Cookie: this.cookie }, redirect: 'manual' });
    return this.read(res);
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await this.r.fetch(path, {
      method: 'POST',
      redirect: 'manual',
      headers: { Cookie: this.cookie, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return this.read(res);
  }

  async login(user: User, password = PASSWORDS[user]) {
    await this.get('/ui/login');
    return this.post('/ui/login', { _csrf: this.csrf, username: user, password, next: '/ui/repo/ui/a' });
  }

  private async read(res: Response) {
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    const text = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text);
    if (token) this.csrf = token[1]!;
    return { status: res.status, text, location: res.headers.get('location') };
  }
}

describe('the UI with authentication', () => {
  it('sends an anonymous visitor to the login page, and back after it', async () => {
    const v = new Visitor(a.r);
    const first = await v.get('/ui/repo/ui/a');
    expect(first.status).toBe(303);
    expect(first.location).toBe('/ui/login?next=%2Fui%2Frepo%2Fui%2Fa');
    const wrong = await v.login('alice', 'not-her-password');
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Wrong user name or password.');
    const right = await v.login('alice');
    expect(right.status).toBe(303);
    expect(right.location).toBe('/ui/repo/ui/a');
    expect(v.cookie).toMatch(/^as_ui_session=/);
    const page = await v.get('/ui/repo/ui/a');
    expect(page.status).toBe(200);
    expect(page.text).toContain('alice');
  });

  it('sets the session cookie HttpOnly and SameSite=Strict, for /ui only', async () => {
    const res = await a.r.fetch('/ui/login');
    expect(res.headers.get('set-cookie')).toMatch(/; Path=\/ui; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('never redirects off the UI after a login', async () => {
    for (const next of ['//evil.example/', 'https://evil.example/', '/v2/', '/ui//evil.example']) {
      const v = new Visitor(a.r);
      await v.get('/ui/login');
      const res = await v.post('/ui/login', {
        _csrf: v.csrf,
        username: 'alice',
        password: PASSWORDS.alice,
        next,
      });
      expect(res.location).toBe('/ui/repositories');
    }
  });

  it('refuses a form without the session’s CSRF token, or from another origin', async () => {
    const v = new Visitor(a.r);
    await v.login('admin');
    await v.get('/ui/gc');
    expect((await v.post('/ui/gc/run', {})).status).toBe(403);
    expect((await v.post('/ui/gc/run', { _csrf: 'forged' })).status).toBe(403);
    const other = new Visitor(a.r);
    await other.login('admin');
    expect((await v.post('/ui/gc/run', { _csrf: other.csrf })).status).toBe(403);
    expect((await v.post('/ui/gc/run', { _csrf: v.csrf }, { Origin: 'http://evil.example' })).status).toBe(
      403,
    );
    expect((await v.post('/ui/gc/run', { _csrf: v.csrf }, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(
      403,
    );
    const done = await v.post('/ui/gc/run', { _csrf: v.csrf }, { Origin: a.r.url });
    expect(done.status).toBe(200);
    expect(done.text).toMatch(/Run [0-9a-f]{8} removed \d+ tags?, \d+ manifests? and \d+ blobs?, freeing/);
  });

  it('refuses a form of another type, or past 16 KiB, announced or chunked', async () => {
    const v = new Visitor(a.r);
    await v.get('/ui/login');
    const fields = { _csrf: v.csrf, username: 'alice', password: PASSWORDS.alice };
    const post = (body: string | ReadableStream<Uint8Array>, type = 'application/x-www-form-urlencoded') =>
      a.r.fetch('/ui/login', {
        method: 'POST',
        redirect: 'manual',
        headers: { Cookie: v.cookie, 'Content-Type': type },
        body,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    const padded = `${new URLSearchParams(fields)}&pad=${'x'.repeat(20 * 1024)}`;
    const chunked = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 64; i++)
            controller.enqueue(new TextEncoder().encode(`&p${i}=${'y'.repeat(1024)}`));
          controller.close();
        },
      });
    expect((await post(padded)).status).toBe(403);
    expect((await post(chunked())).status).toBe(403);
    expect((await post(new URLSearchParams(fields).toString(), 'text/plain')).status).toBe(403);
    // The same fields, small enough and of the form type, log in.
    expect((await post(new URLSearchParams(fields).toString())).status).toBe(303);
  });

  it('shows a user only what she may pull, and a refusal as an absence', async () => {
    const v = new Visitor(a.r);
    await v.login('alice');
    const list = await v.get('/ui/repositories');
    expect(list.text).toContain('href="/ui/repo/ui/a"');
    expect(list.text).not.toContain('ui/b');
    const hidden = await v.get('/ui/repo/ui/b');
    const missing = await v.get('/ui/repo/ui/none');
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.text).toBe(missing.text);
    // And no admin action through the UI either: the API refuses, the page says "not found".
    expect((await v.post('/ui/gc/run', { _csrf: v.csrf })).status).toBe(404);
  });

  it('ends the session of a user removed from the htpasswd file at the next page', async () => {
    const v = new Visitor(a.r);
    await v.login('alice');
    expect((await v.get('/ui/repositories')).status).toBe(200);
    const admin = `admin:${await hash(PASSWORDS.admin, { cost: 4 })}`;
    await writeFile(join(a.configDir, 'htpasswd'), `${admin}\n`);
    await a.r.reload();
    const after = await v.get('/ui/repositories');
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/ui\/login\?/);
    // Put her back for the other tests.
    const alice = `alice:${await hash(PASSWORDS.alice, { cost: 4 })}`;
    await writeFile(join(a.configDir, 'htpasswd'), `${admin}\n${alice}\n`);
    await a.r.reload();
  });

  it('logs in with an API token, and the session ends when the token is revoked', async () => {
    const created = await a.admin.fetch('/api/v1/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'ui', scopes: [{ repositories: ['ui/b'], actions: ['pull'] }] }),
    });
    const token = (await created.json()) as { id: string; secret: string };
    const v = new Visitor(a.r);
    expect((await v.login('admin', token.secret)).status).toBe(303);
    // The token's scopes limit the session: ui/b, not ui/a.
    const list = await v.get('/ui/repositories');
    expect(list.text).toContain('href="/ui/repo/ui/b"');
    expect(list.text).not.toContain('href="/ui/repo/ui/a"');
    expect((await a.admin.fetch(`/api/v1/tokens/${token.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await v.get('/ui/repositories')).status).toBe(303);
  });

  it('logs out: the old cookie is replaced by an anonymous one', async () => {
    const v = new Visitor(a.r);
    await v.login('alice');
    await v.get('/ui/repositories');
    const out = await v.post('/ui/logout', { _csrf: v.csrf });
    expect(out.location).toBe('/ui/login');
    expect((await v.get('/ui/repositories')).status).toBe(303);
  });

  it('streams the events the session may see, each as a plain message', async () => {
    const v = new Visitor(a.r);
    await v.login('alice');
    const controller = new AbortController();
    const res = await a.r.fetch('/ui/events/stream', {
      headers: { Cookie: v.cookie },
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    await pushImage(a.admin, 'ui/b', 'hidden', [randomBytes(16)]);
    await pushImage(a.admin, 'ui/a', 'seen', [randomBytes(16)]);
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('"tag":"seen"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    expect(text).toContain('"repository":"ui/a"');
    expect(text).not.toContain('ui/b');
    expect(text).not.toMatch(/^event:/m);
    expect(text).toMatch(/^id: \d+$/m);
  });
});

describe('the UI without authentication', () => {
  it('shows every page to anyone, and says there is nothing to log in to', async () => {
    const v = new Visitor(open);
    for (const path of [
      '/ui/repositories',
      '/ui/repo/open/x',
      '/ui/repo/open/x/-/package/v1',
      '/ui/events',
    ]) {
      const page = await v.get(path);
      expect(page.status, path).toBe(200);
      expect(page.text).toContain('open/x');
    }
    for (const path of ['/ui/schemas', '/ui/releases', '/ui/retention', '/ui/gc']) {
      expect((await v.get(path)).status, path).toBe(200);
    }
    expect((await v.get('/ui/login')).text).toContain('Authentication is off');
    expect((await v.get('/ui/')).location).toBe('/ui/repositories');
    expect((await v.get('/ui/no/such/page')).status).toBe(404);
  });

  it('serves its stylesheet and script for good under their content hash, and nothing else', async () => {
    const page = await open.fetch('/ui/repositories');
    const html = await page.text();
    const css = /href="(\/ui\/assets\/css\.[0-9a-f]{12})"/.exec(html)?.[1];
    expect(css).toBeDefined();
    const asset = await open.fetch(css!);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await open.fetch('/ui/assets/css.000000000000')).status).toBe(404);
    expect((await open.fetch('/ui/assets/..%2Fpackage.json')).status).toBe(404);
  });
});
