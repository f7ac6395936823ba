// The UI loaded on first use (src/ui/lazy.ts): an error no page answers reaches the app's own error
// map, as it would for any other route, instead of the UI app's default "Internal Server Error".
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/http/request.js';
import { lazyUi } from '../../src/ui/lazy.js';
import { SessionKeys } from '../../src/ui/session.js';

describe('lazyUi', () => {
  it("hands an error a page does not answer to the app's error handler", async () => {
    const app = new Hono<Env>();
    const ui = lazyUi({
      keys: SessionKeys.ephemeral(),
      fetch: () => {
        throw new Error('the API is down');
      },
    });
    app.all('/ui/*', ui);
    app.onError((error) => new Response(`mapped: ${error.message}`, { status: 503 }));
    const res = await app.request('/ui/repositories');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('mapped: the API is down');
  });
});
