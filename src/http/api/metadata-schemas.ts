// (stub) native API routes: metadata-schemas.
import type { RouteModule } from './app.js';

export const metadataSchemasRoutes: RouteModule = (_api, _ctx) => {};
