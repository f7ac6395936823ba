// The web UI in a real browser (headless Chromium through playwright-core) against the real server
// with authentication (test/ui/fixture.ts): each page read as an admin and as a user who may pull only
// shop/a. Screenshots of every page go to results/ui-screenshots/ (ignored by git).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { oras } from '../helpers/oras.js';
import type { ServerProcess } from '../helpers/process.js';
import { asAdmin, PASSWORDS, startUiFixture, type UiFixture } from './fixture.js';

let fixture: UiFixture;
let server: ServerProcess;
let browser: Browser;
let dir: string;
let host: string;
let pushed: UiFixture['pushed'];
let api: UiFixture['api'];

beforeAll(async () => {
  fixture = await startUiFixture();
  ({ server, dir, host, pushed, api } = fixture);
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

/** What the pages broke: their Content-Security-Policy, or a script error. */
const broken: string[] = [];

async function loggedIn(user: keyof typeof PASSWORDS): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) broken.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => broken.push(`${page.url()}: ${e.message}`));
  // The admin's pages all exist; alice's include pages she may not see (404 by design).
  if (user === 'admin') {
    page.on('response', (r) => {
      if (r.status() >= 400) broken.push(`${r.url()}: ${r.status()}`);
    });
  }
  await page.goto(`${server.url}/ui/login`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', PASSWORDS[user]);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/ui\/repositories$/);
  return { context, page };
}

describe('the web UI as an admin', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await loggedIn('admin'));
  });
  afterAll(async () => {
    await context.close();
  });

  it('asks for a login before showing anything', async () => {
    const anonymous = await browser.newPage();
    await anonymous.goto(`${server.url}/ui/repo/shop/a`);
    expect(new URL(anonymous.url()).pathname).toBe('/ui/login');
    expect(new URL(anonymous.url()).searchParams.get('next')).toBe('/ui/repo/shop/a');
    const text = await anonymous.textContent('main');
    expect(text).not.toContain('shop/a');
    expect(text).toContain('Password or API token');
    await screenshot(anonymous, 'login');
    await anonymous.close();
  });

  it('lists the repositories with their counts', async () => {
    await page.goto(`${server.url}/ui/repositories`);
    const rows = await page.locator('tbody tr').allTextContents();
    expect(rows.some((r) => r.startsWith('shop/a'))).toBe(true);
    expect(rows.some((r) => r.startsWith('shop/b'))).toBe(true);
    await page.fill('input[name=q]', 'shop/b');
    await page.press('input[name=q]', 'Enter');
    await page.waitForURL(/q=shop%2Fb/);
    expect(await page.locator('tbody tr').allTextContents()).toEqual([expect.stringMatching(/^shop\/b/)]);
    await page.goto(`${server.url}/ui/repositories`);
    await screenshot(page, 'repositories');
  });

  it('shows a repository with its tags, kinds and digests', async () => {
    await page.goto(`${server.url}/ui/repo/shop/a`);
    const rows = await page.locator('tbody tr').allTextContents();
    expect(rows.find((r) => r.startsWith('report'))).toContain('native package');
    expect(rows.find((r) => r.startsWith('v1'))).toContain('OCI artifact');
    expect(await page.getAttribute(`a[title="${pushed.v1}"]`, 'href')).toBe(
      `/ui/repo/shop/a/-/package/${pushed.v1}`,
    );
    await screenshot(page, 'repository');
  });

  it('shows a package: both digests, typed metadata against its schema, referrers as a tree', async () => {
    await page.goto(`${server.url}/ui/repo/shop/a/-/package/report`);
    expect(await page.textContent('[data-testid=digest]')).toBe(pushed.report);
    expect(await page.textContent('[data-testid=address]')).toBe(pushed.reportAddress);
    const metadata = await page.locator('[data-testid=metadata] tbody tr').allTextContents();
    expect(metadata.find((r) => r.startsWith('status'))).toMatch(/"passed".*required; the outcome/);
    expect(metadata.find((r) => r.startsWith('tests'))).toMatch(/42.*integer; optional/);
    // The file's blake3 beside its sha256, and its tier.
    const file = await page.locator('table').nth(0).locator('tbody tr').first().textContent();
    expect(file).toMatch(/report\.txt.*sha256:[a-f0-9]{64}.*blake3:[a-f0-9]{64}.*hot/);
    // The SBOM refers to the package, the signature to the SBOM: a tree two deep.
    const tree = page.locator('[data-testid=referrers]').first();
    const sbom = tree.locator(':scope > li', { hasText: 'SBOM' });
    await expect(sbom.locator(`a[href$="${pushed.sbom}"]`).count()).resolves.toBe(1);
    const nested = sbom.locator('[data-testid=referrers] > li', { hasText: 'Signature' });
    await expect(nested.locator(`a[href$="${pushed.signature}"]`).count()).resolves.toBe(1);
    const commands = await page.locator('.cmd code').allTextContents();
    expect(commands).toContain(`oras pull --plain-http ${host}/shop/a@${pushed.report}`);
    expect(commands.some((c) => c.startsWith(`artifact-store pull shop/a:${pushed.reportAddress}`))).toBe(
      true,
    );
    await screenshot(page, 'package');
  });

  it("shows a file's storage tier, and restores archived bytes from the page", async () => {
    await page.goto(`${server.url}/ui/repo/shop/a/-/package/v1`);
    const sha256 = (await page.locator('table').first().locator('tbody tr td').nth(2).textContent()) ?? '';
    expect(sha256).toMatch(/^sha256:[a-f0-9]{64}$/);
    await api('PUT', `/api/v1/blobs/${sha256}/tier`, { tier: 'archive' });
    await page.reload();
    const row = page.locator('table').first().locator('tbody tr').first();
    expect(await row.locator('.badge').textContent()).toBe('archive');
    await screenshot(page, 'package-archived');
    await row.locator('button:has-text("Restore")').click();
    expect(await page.textContent('.notice')).toContain('the bytes are readable now');
    expect(await page.locator('table').first().locator('tbody tr').first().textContent()).toMatch(
      /archiverestored until \d{4}-\d\d-\d\d/,
    );
    const info = await api('GET', `/api/v1/blobs/${sha256}/info`);
    expect(info).toMatchObject({ retrieval_tier: 'archive', readable: true });
  });

  it('shows new events live, and verifies the chain', async () => {
    await page.goto(`${server.url}/ui/events`);
    await page.waitForSelector('#live-status:has-text("Live")');
    const before = await page.locator('#live-events tr').count();
    // Layout shifts while events arrive (the Layout Instability API): there must be none.
    await page.evaluate(`(() => {
      window.shifts = [];
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.shifts.push(e.value); })
        .observe({ type: 'layout-shift' });
    })()`);
    await writeFile(join(dir, 'live.txt'), 'pushed while the events page is open\n');
    await oras(['push', ...asAdmin, `${host}/shop/a:live`, 'live.txt'], { cwd: dir });
    const row = page.locator('#live-events tr.new', { hasText: 'tag.set' });
    await row.first().waitFor();
    expect(await row.first().textContent()).toContain('shop/a');
    expect(await page.locator('#live-events tr').count()).toBeGreaterThan(before);
    // The new rows are the last ones, and the box follows them: they are in view.
    expect(await page.locator('#live-events tr').last().textContent()).toMatch(/tag\.setshop\/a/);
    await expect(page.locator('#live-events tr').last().isVisible()).resolves.toBe(true);
    await page.waitForTimeout(100); // a frame for the observer to report
    expect(await page.evaluate('window.shifts')).toEqual([]);
    await screenshot(page, 'events-live');
    await page.click('button:has-text("Verify chain")');
    expect(await page.textContent('[data-testid=verify-result]')).toMatch(
      /Hash chain intact: \d+ events checked/,
    );
    await screenshot(page, 'events-verified');
  });

  it('rolls a release back, with the history from the log', async () => {
    await page.goto(`${server.url}/ui/releases`);
    expect(await page.locator('tbody tr').first().textContent()).toContain('#2');
    await screenshot(page, 'releases');
    await page.click('a[href="/ui/releases/shop"]');
    expect(await page.textContent('[data-testid=current]')).toBe('#2');
    const form = page.locator('form[aria-label="make #1 current"]');
    await form.locator('input[name=reason]').fill('port 8081 broke the health check');
    await form.locator('button').click();
    expect(await page.textContent('[data-testid=current]')).toBe('#1');
    expect(await page.locator('ol li').first().textContent()).toMatch(
      /#1 \(was #2\) — port 8081 broke the health check/,
    );
    await screenshot(page, 'release-rollback');
  });

  it('shows schemas, a retention dry run and garbage collection runs', async () => {
    await page.goto(`${server.url}/ui/schemas`);
    expect(await page.textContent('main')).toContain('ui.report.v1');
    await screenshot(page, 'schemas');
    await page.goto(`${server.url}/ui/retention`);
    expect(await page.locator('tbody tr').first().textContent()).toBe('keep-oneshop/old1—30 d');
    await page.click('button:has-text("Show what would be removed now")');
    const report = await page.textContent('[data-testid=dry-run]');
    expect(report).toContain('would remove 1 tag,');
    expect(await page.locator('[data-testid=dry-run] tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/^keep-oneshop\/old1sha256:/),
    ]);
    expect(report).toContain('Nothing was changed');
    await screenshot(page, 'retention-dry-run');
    // The dry run changed nothing: both tags are still there.
    const tags = (await api('GET', '/api/v1/repositories/shop/old/tags')).tags as unknown[];
    expect(tags.length).toBe(2);
    await page.goto(`${server.url}/ui/gc`);
    await page.click('button:has-text("Run now")');
    expect(await page.textContent('.notice')).toMatch(
      /Run [0-9a-f]{8} removed \d+ tags?, \d+ manifests? and \d+ blobs?, freeing/,
    );
    const run = await page.locator('tbody tr').first().textContent();
    expect(run).toMatch(/^[0-9a-f]{8}/);
    // The run applied the policy: shop/old keeps its last tag.
    const left = (await api('GET', '/api/v1/repositories/shop/old/tags')).tags as { name: string }[];
    expect(left.map((t) => t.name)).toEqual(['2']);
    await screenshot(page, 'gc');
  });

  it('refuses a state change without the CSRF token or from another origin', async () => {
    const noToken = await context.request.post(`${server.url}/ui/gc/run`, { form: { x: '1' } });
    expect(noToken.status()).toBe(403);
    await page.goto(`${server.url}/ui/gc`);
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const foreign = await context.request.post(`${server.url}/ui/gc/run`, {
      form: { _csrf: csrf ?? '' },
      headers: { Origin: 'http://evil.example' },
    });
    expect(foreign.status()).toBe(403);
    const runs = await page.locator('tbody tr').count();
    await page.reload();
    expect(await page.locator('tbody tr').count()).toBe(runs);
  });

  it('is usable by keyboard and at 200 % zoom, in both themes', async () => {
    await page.goto(`${server.url}/ui/repositories`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).toBe('solid');
    // 200 % zoom of a 1280-pixel window: a 640-pixel-wide layout, nothing cut off sideways.
    const zoomed = await browser.newContext({
      viewport: { width: 640, height: 450 },
      deviceScaleFactor: 2,
      colorScheme: 'dark',
      storageState: await context.storageState(),
    });
    const small = await zoomed.newPage();
    await small.goto(`${server.url}/ui/repo/shop/a/-/package/report`);
    expect(await small.textContent('h1')).toBe('shop/a:report');
    const overflow = await small.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const background = await small.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe('rgb(13, 17, 23)');
    await screenshot(small, 'package-200-percent-dark');
    await zoomed.close();
  });
});

describe('every page visited above', () => {
  it('kept to its Content-Security-Policy, threw no script error and loaded nothing that failed', () => {
    expect(broken).toEqual([]);
  });
});

describe('the web UI as a user who may pull only shop/a', () => {
  it('shows no trace of shop/b', async () => {
    const { context, page } = await loggedIn('alice');
    const texts: string[] = [];
    for (const path of ['/ui/repositories', '/ui/repo/shop/a', '/ui/events', '/ui/gc', '/ui/releases']) {
      await page.goto(`${server.url}${path}`);
      texts.push((await page.content()) ?? '');
    }
    const missing = await page.goto(`${server.url}/ui/repo/shop/b/-/package/v1`);
    expect(missing?.status()).toBe(404);
    texts.push(await page.content());
    const byDigest = await page.goto(`${server.url}/ui/repo/shop/a/-/package/${pushed.secret}`);
    expect(byDigest?.status()).toBe(404);
    texts.push(await page.content());
    for (const text of texts) {
      expect(text).not.toContain('shop/b');
      expect(text).not.toContain(pushed.secret);
      expect(text).not.toContain('b-secret.txt');
    }
    // No admin actions are offered to her.
    await page.goto(`${server.url}/ui/gc`);
    expect(await page.locator('button:has-text("Run now")').count()).toBe(0);
    await page.goto(`${server.url}/ui/events`);
    expect(await page.locator('button:has-text("Verify chain")').count()).toBe(0);
    // Live: a push to shop/b, then one to shop/a; only the second reaches her page.
    await page.waitForSelector('#live-status:has-text("Live")');
    await writeFile(join(dir, 'b2.txt'), 'second secret\n');
    await oras(['push', ...asAdmin, `${host}/shop/b:v2`, 'b2.txt'], { cwd: dir });
    await writeFile(join(dir, 'a2.txt'), 'visible\n');
    await oras(['push', ...asAdmin, `${host}/shop/a:v2`, 'a2.txt'], { cwd: dir });
    await page.locator('#live-events tr.new', { hasText: 'tag.set' }).first().waitFor();
    expect(await page.textContent('#live-events')).not.toContain('shop/b');
    await screenshot(page, 'events-as-alice');
    await context.close();
  });
});
