// The web UI's session cookie and CSRF tokens (src/ui/session.ts): a cookie opens only under the key
// that sealed it, untouched and unexpired; a CSRF token belongs to one session.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newSession, SessionKeys } from '../../src/ui/session.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('UI sessions', () => {
  const keys = SessionKeys.ephemeral();

  it('opens what it sealed, and nothing altered, expired or sealed by another key', () => {
    const session = newSession('user', 'alice');
    const cookie = keys.seal(session);
    expect(keys.open(cookie)).toEqual(session);
    const [body, mac] = cookie.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify(['user', 'admin', session.id, session.expires])).toString(
      'base64url',
    );
    expect(keys.open(`${forged}.${mac}`)).toBeUndefined();
    expect(keys.open(`${body}.${mac.slice(0, -2)}AA`)).toBeUndefined();
    expect(keys.open(`${body}`)).toBeUndefined();
    expect(keys.open(undefined)).toBeUndefined();
    expect(keys.open(cookie, (session.expires + 1) * 1000)).toBeUndefined();
    expect(SessionKeys.ephemeral().open(cookie)).toBeUndefined();
  });

  it('gives each session its own CSRF token', () => {
    const a = newSession('anonymous', '');
    const b = newSession('anonymous', '');
    const token = keys.csrfToken(a);
    expect(keys.checkCsrf(a, token)).toBe(true);
    expect(keys.checkCsrf(b, token)).toBe(false);
    expect(keys.checkCsrf(a, undefined)).toBe(false);
    expect(keys.checkCsrf(a, `${token}x`)).toBe(false);
  });

  it('makes its key file once (mode 0600) and reads the same key back; a short key is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ui-session-'));
    dirs.push(dir);
    const file = join(dir, 'sub', 'ui-session.key');
    const [one, two] = await Promise.all([SessionKeys.load(file, true), SessionKeys.load(file, true)]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const session = newSession('user', 'bob');
    expect(two.open(one.seal(session))).toEqual(session);
    expect((await SessionKeys.load(file, false)).open(one.seal(session))).toEqual(session);
    expect((await readFile(file, 'utf8')).length).toBeGreaterThanOrEqual(43);
    await writeFile(join(dir, 'short.key'), Buffer.alloc(8).toString('base64'));
    await expect(SessionKeys.load(join(dir, 'short.key'), false)).rejects.toThrow(/at least 32 bytes/);
    await expect(SessionKeys.load(join(dir, 'absent.key'), false)).rejects.toThrow(/ENOENT/);
  });
});

describe('createOnce (the key files of a first start)', () => {
  it('keeps the first bytes written, whoever asks after, and leaves no temporary file', async () => {
    const { createOnce } = await import('../../src/fs-sync.js');
    const { readdir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'create-once-'));
    dirs.push(dir);
    const file = join(dir, 'k', 'key');
    const answers = await Promise.all(['a', 'b', 'c', 'd'].map((text) => createOnce(file, () => text)));
    const kept = await readFile(file, 'utf8');
    expect(answers.map(String)).toEqual([kept, kept, kept, kept]);
    expect((await createOnce(file, () => 'later')).toString()).toBe(kept);
    expect(await readdir(join(dir, 'k'))).toEqual(['key']);
  });
});
