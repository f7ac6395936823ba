// (stub) native API routes: repositories.
import type { RouteModule } from './app.js';

export const repositoriesRoutes: RouteModule = (_api, _ctx) => {};
