// (stub) native API routes: events.
import type { RouteModule } from './app.js';

export const eventsRoutes: RouteModule = (_api, _ctx) => {};
