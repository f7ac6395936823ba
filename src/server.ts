// Wires the data plane, the control plane and the HTTP layer together and serves them. Start-up does
// the quick checks first (HOST, DATA_DIR and its lock, the port), then opens the database, so a wrong
// setting is reported at once rather than after a database was created.
import { lookup } from 'node:dns/promises';
import type { Server } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { type Config, ConfigError } from './config.js';
import { openDatabase } from './control-plane/db.js';
import { initEventLog } from './control-plane/event-log.js';
import { type LockedDataDir, lockDataDir } from './data-dir.js';
import { ContentStore } from './data-plane/content-store.js';
import { FsDriver } from './data-plane/drivers/fs-driver.js';
import { InProcessLocker } from './data-plane/locker.js';
import { UploadWriter } from './data-plane/upload-writer.js';
import { createApp, loggingReporter } from './http/app.js';
import { closeServer, type Fetch, listen } from './http/node-server.js';
import { createLogger } from './observability/logger.js';
import { withTimeout } from './promises.js';
import type { RegistryContext } from './registry/context.js';
import { LogSignal } from './registry/log-signal.js';
import { ReadCache } from './registry/read-cache.js';
import { startUploadSweeper, sweepUploads } from './registry/upload-expiry.js';

export interface OpenedRegistry {
  ctx: RegistryContext;
  /** 'embedded' (DATA_DIR/pg) or 'external' (DATABASE_URL). */
  database: 'embedded' | 'external';
  /** Called if the embedded database stops on its own. */
  onFatal(listener: (why: string) => void): void;
  close(): Promise<void>;
}

export interface RunningRegistry extends OpenedRegistry {
  url: string;
  port: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Locks DATA_DIR (unless the caller did) and opens the stores; the caller closes them. */
export async function openRegistry(config: Config, locked?: LockedDataDir): Promise<OpenedRegistry> {
  const dataDir = locked ?? (await lockDataDir(config.dataDir));
  try {
    const driver = new FsDriver(config.dataDir);
    const content = new ContentStore(driver);
    const uploads = new UploadWriter(driver, content, new InProcessLocker(), { warn: log });
    const database = await openDatabase({
      url: config.databaseUrl,
      embeddedDir: join(config.dataDir, 'pg'),
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      log,
      migrations: config.migrations,
    });
    await initEventLog(database.db);
    const logSignal = new LogSignal();
    // Other nodes' commits wake this node's event streams at once (the poll is only a safety net).
    await database.onCommit(() => logSignal.notify());
    // Leftovers of small writes cut short by a crash.
    await driver.delete('staging');
    return {
      ctx: {
        db: database.db,
        content,
        uploads,
        limits: {
          maxManifestBytes: config.maxManifestBytes,
          uploadExpiryMs: config.uploadExpiryMs,
          eventPollMs: config.eventPollMs,
        },
        // The embedded database belongs to this process alone, so it sees every write.
        cache: new ReadCache(database.kind === 'embedded'),
        logSignal,
        announceCommits: database.kind === 'external',
      },
      database: database.kind,
      onFatal: database.onFatal,
      close: async () => {
        await database.close();
        await dataDir.release();
      },
    };
  } catch (error) {
    await dataDir.release();
    throw error;
  }
}

export interface ServerOptions {
  /** Where the log's JSON lines go (default stdout): tests collect them. */
  logDestination?: DestinationStream;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningRegistry> {
  const address = await resolveHost(config.host);
  const dataDir = await lockDataDir(config.dataDir);
  // The port is bound before the database opens; requests that arrive meanwhile wait for it.
  let ready: (fetch: Fetch) => void = () => {};
  const app = new Promise<Fetch>((resolve) => {
    ready = resolve;
  });
  let server: Server;
  try {
    server = await listen(address, config.port, app, (failure) =>
      failure === 'in-use'
        ? new ConfigError(`PORT ${config.port} is in use on ${address}`)
        : failure === 'not-local'
          ? new ConfigError(`HOST ${config.host} is not an address of this machine`)
          : new ConfigError(`PORT ${config.port}: permission denied (ports below 1024 need privileges)`),
    );
  } catch (error) {
    await dataDir.release();
    throw error;
  }
  let registry: OpenedRegistry;
  try {
    registry = await openRegistry(config, dataDir);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  try {
    await sweepUploads(registry.ctx, { startup: true });
  } catch (error) {
    await closeServer(server);
    await registry.close();
    throw error;
  }
  const logger = options.logDestination
    ? createLogger(config.logLevel, options.logDestination)
    : createLogger(config.logLevel);
  const stopSweeper = startUploadSweeper(
    registry.ctx,
    Math.min(Math.max(config.uploadExpiryMs / 4, 250), 60_000),
    loggingReporter(logger).error,
  );
  ready(createApp(registry.ctx, { logger }).fetch as Fetch);
  const port = (server.address() as AddressInfo).port;
  return {
    ...registry,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    /** Stops accepting; requests in flight get up to SHUTDOWN_TIMEOUT to finish before the database closes. */
    async close() {
      await stopSweeper();
      registry.ctx.logSignal.close();
      await closeServer(server, config.shutdownTimeoutMs);
      await registry.close();
    },
  };
}

/** HOST as an address: a literal, or a name resolved within 1.5 s (an unresolvable one fails fast). */
async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await withTimeout(lookup(host), 1500, 'no answer within 1.5 s')).address;
  } catch (error) {
    throw new ConfigError(
      `HOST "${host}" does not resolve to an address (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}
