// The native CLI against a registry with authentication: it sends ARTIFACT_STORE_TOKEN (an API
// token) and is refused without it, with the server's reason on one line.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthRegistry, json, startAuthRegistry } from '../helpers/auth-fixture.js';
import { runCli } from '../helpers/process.js';
import { tempDataDir } from '../helpers/registry.js';

let a: AuthRegistry<'admin' | 'ci'>;
let work: string;
let token: string;

beforeAll(async () => {
  a = await startAuthRegistry<'admin' | 'ci'>({
    prefix: 'auth-cli-',
    service: 'cli-test',
    passwords: { admin: 'pw-admin', ci: 'pw-ci' },
    rules: [{ match: ['**'], allow: { admin: ['pull', 'push', 'delete'], ci: ['pull', 'push'] } }],
    admin: 'admin',
  });
  work = await tempDataDir('auth-cli-work-');
  const res = await a.r.fetch('/api/v1/tokens', {
    method: 'POST',
    headers: { Authorization: a.basic('ci'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'cli', scopes: [{ repositories: ['cli/**'], actions: ['pull', 'push'] }] }),
  });
  expect(res.status).toBe(201);
  token = (await json<{ secret: string }>(res)).secret;
}, 60_000);
afterAll(async () => {
  await a?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('native CLI with authentication', () => {
  it('pushes and pulls with ARTIFACT_STORE_TOKEN; without it, one line naming the refusal', async () => {
    const src = join(work, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'a.txt'), 'hello, registry\n');
    const push = (env: Record<string, string>) =>
      runCli(['push', 'cli/app:v1', 'a.txt', '--url', a.r.url], env, 60_000, src);
    const refused = await push({ ARTIFACT_STORE_TOKEN: '' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/401 unauthenticated/);
    const pushed = await push({ ARTIFACT_STORE_TOKEN: token });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const out = join(work, 'out');
    const pulled = await runCli(
      ['pull', 'cli/app:v1', '-o', out, '--url', a.r.url],
      { ARTIFACT_STORE_TOKEN: token },
      60_000,
      work,
    );
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(await readFile(join(out, 'a.txt'), 'utf8')).toBe('hello, registry\n');
    // The push is the token's, by its owner.
    const events = await a.allEventsAfter(0);
    const published = events.find((e) => e.type === 'package.published');
    expect(published?.payload.actor).toMatchObject({ kind: 'api-token', name: 'ci', via: 'api-token' });
  });
});
