// Wires the data plane, the control plane and the HTTP layer together and serves them. Start-up does
// the quick checks first (HOST, DATA_DIR and its lock, the port), then opens the database, so a wrong
// setting is reported at once rather than after a database was created.
import { lookup } from 'node:dns/promises';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { type Config, ConfigError } from './config.js';
import { openDatabase } from './control-plane/db.js';
import { initEventLog } from './control-plane/event-log.js';
import { type LockedDataDir, lockDataDir } from './data-dir.js';
import { ContentStore } from './data-plane/content-store.js';
import type { StorageDriver } from './data-plane/driver.js';
import { FsDriver } from './data-plane/drivers/fs-driver.js';
import { FsTiering } from './data-plane/drivers/fs-tiering.js';
import { S3Driver } from './data-plane/drivers/s3-driver.js';
import { S3Tiering } from './data-plane/drivers/s3-tiering.js';
import type { Tiering } from './data-plane/tiering.js';
import { UploadWriter } from './data-plane/upload-writer.js';
import { createApp, loggingReporter } from './http/app.js';
import { closeServer, type Fetch, listen } from './http/node-server.js';
import { createLogger } from './observability/logger.js';
import { withTimeout } from './promises.js';
import type { RegistryContext } from './registry/context.js';
import { LogSignal } from './registry/log-signal.js';
import { ReadCache } from './registry/read-cache.js';
import { startRestoreTracker } from './registry/restores.js';
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
    const { driver, tiering } = withTiering(await openStorage(config), config);
    const content = new ContentStore(
      driver,
      config.blobStore.kind === 's3' && config.blobStore.redirect ? REDIRECT_SECONDS : 0,
    );
    const database = await openDatabase({
      url: config.databaseUrl,
      embeddedDir: join(config.dataDir, 'pg'),
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      log,
      migrations: config.migrations,
    });
    // On a bucket shared by several nodes, any node may take a session's next request.
    const shared = config.blobStore.kind === 's3' && database.kind === 'external';
    const uploads = new UploadWriter(driver, content, database.locker, { warn: log, portableHashes: shared });
    await initEventLog(database.db);
    const logSignal = new LogSignal();
    // Other nodes' commits wake this node's event streams at once (the poll is only a safety net).
    await database.onCommit(() => logSignal.notify());
    // Leftovers of small writes cut short by a crash: all of them in this node's DATA_DIR; in a shared
    // bucket, only those old enough not to be another node's write in flight.
    await content.removeStaging(config.blobStore.kind === 's3' ? STAGING_GRACE_MS : -1);
    return {
      ctx: {
        db: database.db,
        content,
        tiering,
        uploads,
        locker: database.locker,
        limits: {
          maxManifestBytes: config.maxManifestBytes,
          uploadExpiryMs: config.uploadExpiryMs,
          eventPollMs: config.eventPollMs,
          restoreDays: config.restoreDays,
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

/** How long a presigned blob URL of S3_REDIRECT stays valid (as CNCF distribution's default). */
const REDIRECT_SECONDS = 20 * 60;

/** A staged write older than this is a crash's leftover, not a write in progress. */
const STAGING_GRACE_MS = 15 * 60 * 1000;

/** The storage driver BLOB_STORE names; S3 parts are buffered in DATA_DIR/tmp (this node's own). */
async function openStorage(config: Config): Promise<StorageDriver> {
  if (config.blobStore.kind === 'fs') return new FsDriver(config.dataDir);
  const partDir = join(config.dataDir, 'tmp', 's3-parts');
  await rm(partDir, { recursive: true, force: true });
  const { kind: _, ...options } = config.blobStore;
  return new S3Driver({ ...options, partDir });
}

/**
 * The storage's tiering (A7): storage classes on S3; on the filesystem, COLD_DIR beside DATA_DIR,
 * which the driver must also read (so the tiering wraps it and is the driver used from then on).
 */
function withTiering(driver: StorageDriver, config: Config): { driver: StorageDriver; tiering: Tiering } {
  if (driver instanceof S3Driver && config.blobStore.kind === 's3') {
    const tiering = new S3Tiering(driver, {
      classes: config.storageClasses,
      partDir: join(config.dataDir, 'tmp', 's3-parts'),
      partSize: config.blobStore.partSize,
    });
    return { driver, tiering };
  }
  if (!(driver instanceof FsDriver)) throw new Error('this storage driver has no tiering');
  const tiered = new FsTiering(driver, config.coldDir);
  return { driver: tiered, tiering: tiered };
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
    server = await listen(
      address,
      config.port,
      app,
      (failure) =>
        failure === 'in-use'
          ? new ConfigError(`PORT ${config.port} is in use on ${address}`)
          : failure === 'not-local'
            ? new ConfigError(`HOST ${config.host} is not an address of this machine`)
            : new ConfigError(`PORT ${config.port}: permission denied (ports below 1024 need privileges)`),
      { headersMs: config.headersTimeoutMs, idleMs: config.idleTimeoutMs },
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
  const stopTracker = startRestoreTracker(registry.ctx, config.restoreCheckMs, loggingReporter(logger).error);
  ready(createApp(registry.ctx, { logger }).fetch as Fetch);
  const port = (server.address() as AddressInfo).port;
  return {
    ...registry,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    /** Stops accepting; requests in flight get up to SHUTDOWN_TIMEOUT to finish before the database closes. */
    async close() {
      // The database and DATA_DIR are released whatever went wrong before (the failure is rethrown).
      try {
        await stopSweeper();
        await stopTracker();
        registry.ctx.logSignal.close();
        await closeServer(server, config.shutdownTimeoutMs);
      } finally {
        await registry.close();
      }
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
