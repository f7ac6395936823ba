// (stub) native API routes: uploads.
import type { RouteModule } from './app.js';

export const uploadsRoutes: RouteModule = (_api, _ctx) => {};
