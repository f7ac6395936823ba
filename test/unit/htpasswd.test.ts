// htpasswd loading (bcrypt only, with the lines `htpasswd` writes), verification through the bcrypt
// counter (cache hits, dummy compares for unknown users) and reloading on change.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bcryptStats, Htpasswd, HtpasswdError } from '../../src/auth/htpasswd.js';

let dir: string;
let file: string;
let n = 0;
/** A `$2y$` line as `htpasswd -B` writes it (the library writes `$2b$`; the algorithm is the same). */
const line = async (user: string, password: string, cost = 4) =>
  `${user}:${(await hash(password, { cost })).replace(/^\$2b\$/, '$2y$')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'htpasswd-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

async function write(lines: string[]): Promise<string> {
  file = join(dir, `htpasswd-${n++}`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** Rewrites `path` and moves its mtime, so a same-size rewrite within one timestamp tick is seen. */
async function rewrite(path: string, lines: string[], seconds: number): Promise<void> {
  await writeFile(path, `${lines.join('\n')}\n`);
  const when = new Date(Date.now() + seconds * 1000);
  await utimes(path, when, when);
}

describe('Htpasswd.load', () => {
  it('accepts $2y$ lines, skips comments and blank lines, and verifies', async () => {
    const alice = await line('alice', 'pw-alice');
    expect(alice).toMatch(/^alice:\$2y\$04\$/);
    const h = await Htpasswd.load(await write(['# users', '', alice, '  ', await line('bob', 'pw-bob')]));
    expect(h.path).toBe(file);
    expect(h.has('alice')).toBe(true);
    expect(h.has('bob')).toBe(true);
    expect(h.has('carol')).toBe(false);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    expect(await h.verify('bob', 'pw-bob')).toBe(true);
    expect(await h.verify('alice', 'pw-bob')).toBe(false);
    expect(await h.verify('carol', 'pw-alice')).toBe(false);
  });

  it.skipIf(!existsSync('/usr/bin/htpasswd'))('accepts lines written by htpasswd -nbB', async () => {
    const made = execFileSync('/usr/bin/htpasswd', ['-nbB', '-C', '4', 'dave', 'pw:dave'], {
      encoding: 'utf8',
    });
    expect(made).toMatch(/^dave:\$2y\$04\$/);
    const h = await Htpasswd.load(await write([made.trim()]));
    expect(await h.verify('dave', 'pw:dave')).toBe(true);
    expect(await h.verify('dave', 'pw')).toBe(false);
  });

  it('accepts CRLF line endings and $2a$/$2b$', async () => {
    const a = (await line('a', 'x')).replace('$2y$', '$2a$');
    const b = (await line('b', 'y')).replace('$2y$', '$2b$');
    const h = await Htpasswd.load(await write([`${a}\r`, `${b}\r`]));
    expect(await h.verify('a', 'x')).toBe(true);
    expect(await h.verify('b', 'y')).toBe(true);
  });

  it.each([
    ['$apr1$', 'bob:$apr1$abcdefgh$0123456789abcdefghijkl', '($apr1$)'],
    ['{SHA}', 'bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', '({SHA})'],
    ['$5$', 'bob:$5$rounds=5000$salt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', '($5$)'],
    ['plain text', 'bob:hunter2', '(plain text or crypt(3))'],
  ])('rejects a %s line naming file, line and user', async (_, bad, scheme) => {
    const path = await write(['# header', await line('alice', 'pw'), bad]);
    const error = await Htpasswd.load(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HtpasswdError);
    expect((error as Error).message).toBe(
      `htpasswd ${path} line 3 (bob): not a bcrypt hash ${scheme}; only bcrypt ($2y$/$2b$/$2a$) is accepted — create it with htpasswd -B -C 10`,
    );
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('rejects a line without a colon, an empty user and a truncated bcrypt hash', async () => {
    await expect(Htpasswd.load(await write(['justtext']))).rejects.toThrow(/line 1: not a user:hash line/);
    await expect(Htpasswd.load(await write([(await line('x', 'y')).replace(/^x/, '')]))).rejects.toThrow(
      /line 1: empty user name/,
    );
    await expect(Htpasswd.load(await write([(await line('x', 'y')).slice(0, -3)]))).rejects.toThrow(
      /line 1 \(x\): malformed bcrypt hash/,
    );
  });

  it('warns about cost below 10 and about a repeated user, keeping the first line', async () => {
    const path = await write([await line('low', 'a', 5), await line('ok', 'b', 10), await line('low', 'c')]);
    const h = await Htpasswd.load(path);
    expect(h.warnings).toEqual([
      `htpasswd ${path} line 1 (low): bcrypt cost 5 is weak; recreate it with htpasswd -B -C 10`,
      `htpasswd ${path} line 3 (low): user already defined on an earlier line; this line is ignored`,
    ]);
    expect(await h.verify('low', 'a')).toBe(true);
    expect(await h.verify('low', 'c')).toBe(false);
  });
});

describe('Htpasswd.verify', () => {
  it('caches a good password (one bcrypt) but never a wrong one', async () => {
    const h = await Htpasswd.load(await write([await line('alice', 'pw-alice')]));
    const before = bcryptStats().verifications;
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    expect(bcryptStats().verifications - before).toBe(1);
    expect(await h.verify('alice', 'wrong')).toBe(false);
    expect(await h.verify('alice', 'wrong')).toBe(false);
    expect(bcryptStats().verifications - before).toBe(3);
  });

  it('forgets a cached password after 60 s', async () => {
    const h = await Htpasswd.load(await write([await line('alice', 'pw-alice')]));
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    const before = bcryptStats().verifications;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    expect(bcryptStats().verifications - before).toBe(1);
  });

  it('runs one bcrypt for parallel requests with the same credentials', async () => {
    const h = await Htpasswd.load(await write([await line('alice', 'pw-alice')]));
    const before = bcryptStats().verifications;
    const results = await Promise.all(Array.from({ length: 8 }, () => h.verify('alice', 'pw-alice')));
    expect(results).toEqual(Array(8).fill(true));
    expect(bcryptStats().verifications - before).toBe(1);
  });

  it('still runs a bcrypt compare for an unknown user, every time', async () => {
    const h = await Htpasswd.load(await write([await line('alice', 'pw-alice')]));
    const before = bcryptStats().verifications;
    expect(await h.verify('mallory', 'pw-alice')).toBe(false);
    expect(await h.verify('mallory', 'pw-alice')).toBe(false);
    expect(await h.verify('', '')).toBe(false);
    expect(bcryptStats().verifications - before).toBe(3);
  });

  it('runs bcrypt operations one at a time', async () => {
    const h = await Htpasswd.load(
      await write([await line('alice', 'pw-alice'), await line('bob', 'pw-bob')]),
    );
    const checks = ['alice', 'bob', 'carol', 'dave'].flatMap((user) => [
      h.verify(user, `pw-${user}`),
      h.verify(user, 'wrong'),
    ]);
    expect(bcryptStats().pending).toBeGreaterThan(1);
    expect(await Promise.all(checks)).toEqual([true, false, true, false, false, false, false, false]);
    expect(bcryptStats().pending).toBe(0);
    expect(bcryptStats().maxRunning).toBe(1);
  });

  it('refuses near misses of a good password', async () => {
    const h = await Htpasswd.load(await write([await line('alice', 'pw-alice')]));
    expect(await h.verify('alice', 'pw-alic')).toBe(false);
    expect(await h.verify('alice', 'pw-alice ')).toBe(false);
  });
});

describe('Htpasswd.refresh', () => {
  it('sees a rewritten file, at most once a second, and clears the cache', async () => {
    const path = await write([await line('alice', 'pw-alice')]);
    const h = await Htpasswd.load(path);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    await rewrite(path, [await line('alice', 'pw-alice'), await line('bob', 'pw-bob')], 5);
    // Within a second of the load nothing is checked.
    expect(await h.refresh()).toEqual({ reloaded: false });
    expect(h.has('bob')).toBe(false);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 1_500);
    expect(await h.refresh()).toEqual({ reloaded: true });
    expect(h.has('bob')).toBe(true);
    expect(await h.verify('bob', 'pw-bob')).toBe(true);
    const before = bcryptStats().verifications;
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    expect(bcryptStats().verifications - before).toBe(1); // the cache was cleared
    // Unchanged file: no reload.
    vi.setSystemTime(Date.now() + 1_500);
    expect(await h.refresh()).toEqual({ reloaded: false });
  });

  it('keeps the old users when the new file is bad, reporting the error once per version', async () => {
    const path = await write([await line('alice', 'pw-alice')]);
    const h = await Htpasswd.load(path);
    await rewrite(path, [await line('bob', 'pw-bob'), 'carol:$apr1$abcdefgh$0123456789abcdefghijkl'], 5);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 1_500);
    const result = await h.refresh();
    expect(result.reloaded).toBe(false);
    expect(result.error).toBeInstanceOf(HtpasswdError);
    expect(result.error?.message).toMatch(/line 2 \(carol\): not a bcrypt hash \(\$apr1\$\)/);
    expect(h.has('alice')).toBe(true);
    expect(h.has('bob')).toBe(false);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
    vi.setSystemTime(Date.now() + 1_500);
    expect(await h.refresh()).toEqual({ reloaded: false }); // same bad version: not reported again
    // force (SIGHUP) reports it again
    expect((await h.refresh({ force: true })).error).toBeInstanceOf(HtpasswdError);
    // fixed: loaded
    await rewrite(path, [await line('bob', 'pw-bob')], 10);
    vi.setSystemTime(Date.now() + 1_500);
    expect(await h.refresh()).toEqual({ reloaded: true });
    expect(h.has('alice')).toBe(false);
    expect(await h.verify('bob', 'pw-bob')).toBe(true);
  });

  it('reports a removed file and keeps the users', async () => {
    const path = await write([await line('alice', 'pw-alice')]);
    const h = await Htpasswd.load(path);
    await rm(path);
    const result = await h.refresh({ force: true });
    expect(result.reloaded).toBe(false);
    expect(result.error?.message).toContain(path);
    expect(await h.verify('alice', 'pw-alice')).toBe(true);
  });
});
