// Headless Chromium for the UI tests: the system's Chromium (Debian's `chromium` package), driven by
// playwright-core, so no browser is downloaded. A missing Chromium fails loudly, never skips.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** CHROMIUM_PATH, else the first of the usual system paths that exists. */
function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `chromium is missing (looked for ${CANDIDATES.join(', ')}): install it with ` +
        '`apt-get install -y --no-install-recommends chromium`, or set CHROMIUM_PATH',
    );
  }
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  // Chromium refuses to start as root with its sandbox on (CI runs as root).
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/** Saves a full-page PNG under results/ui-screenshots/ (gitignored) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = resolve('results', 'ui-screenshots');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
