// Wires the data plane, the control plane and the HTTP layer together and serves them.
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Config } from './config.js';
import { openDatabase } from './control-plane/db.js';
import { initEventLog } from './control-plane/event-log.js';
import { FsBlobStore } from './data-plane/fs-blob-store.js';
import { createApp } from './http/app.js';
import type { RegistryContext } from './registry/context.js';
import { ReadCache } from './registry/read-cache.js';

export interface RunningRegistry {
  url: string;
  port: number;
  ctx: RegistryContext;
  close(): Promise<void>;
}

/** Opens the stores under the configuration; the caller closes them. */
export async function openRegistry(
  config: Config,
): Promise<{ ctx: RegistryContext; close(): Promise<void> }> {
  const store = new FsBlobStore(config.dataDir);
  await store.init();
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: join(config.dataDir, 'db') });
  await initEventLog(database.db);
  return {
    ctx: {
      db: database.db,
      store,
      limits: { maxManifestBytes: config.maxManifestBytes },
      // The embedded database is locked to this process, so this process sees every write.
      cache: new ReadCache(database.kind === 'pglite'),
    },
    close: () => database.close(),
  };
}

export async function startServer(config: Config): Promise<RunningRegistry> {
  const opened = await openRegistry(config);
  const app = createApp(opened.ctx);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
    s.once('error', reject);
  });
  // Large layers take longer than Node's default 5-minute request timeout.
  const http = server as unknown as import('node:http').Server;
  http.requestTimeout = 0;
  http.headersTimeout = 60_000;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    ctx: opened.ctx,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await opened.close();
    },
  };
}
