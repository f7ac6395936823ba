// (stub) native API routes: blobs.
import type { RouteModule } from './app.js';

export const blobsRoutes: RouteModule = (_api, _ctx) => {};
