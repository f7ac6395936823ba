// The web UI, loaded by its first request (as the native API is, http/native-api.ts): its pages, JSX
// runtime and assets are nothing a registry used only through /v2/ should pay for at start-up. It is
// a Hono app of its own, given each /ui request with the same bindings.
import type { Handler } from 'hono';
import { Hono } from 'hono';
import type { Env } from '../http/request.js';
import type { UiOptions } from './routes.js';

export function lazyUi(options: UiOptions): Handler<Env> {
  let loaded: Promise<Hono<Env>> | undefined;
  const load = async () => {
    const { uiRoutes } = await import('./routes.js');
    const ui = new Hono<Env>();
    // What a page does not answer itself goes to the registry's error map, as any request's error.
    ui.onError((error) => {
      throw error;
    });
    uiRoutes(ui, options);
    return ui;
  };
  return async (c) => {
    // A failed load (it should not fail) is tried again by the next request.
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return (await loaded).fetch(c.req.raw, c.env);
  };
}
