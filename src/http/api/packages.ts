// (stub) native API routes: packages.
import type { RouteModule } from './app.js';

export const packagesRoutes: RouteModule = (_api, _ctx) => {};
