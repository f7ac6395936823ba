// Wires the data plane, the control plane and the HTTP layer together and serves them. Start-up does
// the quick checks first (HOST, DATA_DIR and its lock, the port), then opens the database, so a wrong
// setting is reported at once rather than after a database was created. SIGHUP's reload (cli.ts) goes
// through RunningRegistry.reload: the TLS certificate, then whatever other parts registered with onReload.
import { lookup } from 'node:dns/promises';
import { rm } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import { type AddressInfo, BlockList, isIP } from 'node:net';
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
import type { Tiering } from './data-plane/tiering.js';
import { UploadWriter } from './data-plane/upload-writer.js';
import { createApp, loggingReporter } from './http/app.js';
import {
  type Certificate,
  closeServer,
  type Fetch,
  listen,
  type NodeServer,
  readCertificate,
  reloadCertificate,
} from './http/node-server.js';
import { createLogger } from './observability/logger.js';
import { withTimeout } from './promises.js';
import type { RegistryContext } from './registry/context.js';
import { startGcSchedule } from './registry/gc.js';
import { LogSignal } from './registry/log-signal.js';
import { ReadCache } from './registry/read-cache.js';
import { startRestoreTracker } from './registry/restores.js';
import { startUploadSweeper, sweepUploads } from './registry/upload-expiry.js';
import type { OpenedAuth } from './server-auth.js';
import { SessionKeys } from './ui/session.js';

export interface OpenedRegistry {
  ctx: RegistryContext;
  /** 'embedded' (DATA_DIR/pg) or 'external' (DATABASE_URL). */
  database: 'embedded' | 'external';
  /** Called if the embedded database stops on its own. */
  onFatal(listener: (why: string) => void): void;
  close(): Promise<void>;
}

export interface RunningRegistry extends OpenedRegistry {
  /** `http://127.0.0.1:5000`, or `https://…` with TLS_CERT/TLS_KEY. */
  url: string;
  port: number;
  /**
   * Reads the TLS certificate and key again (with TLS), then runs every onReload hook, each even if
   * one before failed; resolves to the lines to log. When any step failed, rejects with a ReloadError
   * (its message one line per failure; what the other steps said in `messages`): the failed part
   * keeps what it had.
   */
  reload(): Promise<string[]>;
  /** Adds a step to reload(): it returns a line to log, or undefined; it throws to report a failure. */
  onReload(hook: () => Promise<string | undefined>): void;
}

/** What went wrong in a reload, one Error per failed step, and what the steps that worked said. */
export class ReloadError extends Error {
  constructor(
    readonly failures: Error[],
    readonly messages: string[],
  ) {
    super(failures.map((failure) => failure.message).join('\n'));
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Locks DATA_DIR (unless the caller did) and opens the stores; the caller closes them. */
export async function openRegistry(config: Config, locked?: LockedDataDir): Promise<OpenedRegistry> {
  const dataDir = locked ?? (await lockDataDir(config.dataDir));
  try {
    const { driver, tiering } = await openStorage(config);
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
          // Only counted when authentication names the identities.
          maxUploadsPerIdentity: config.authConfig ? config.maxUploadsPerIdentity : 0,
          gcDelayMs: config.gcDelayMs,
          gcReferrers: config.gcReferrers,
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

/**
 * The storage driver BLOB_STORE names, and its tiering (A7). On the filesystem: COLD_DIR beside
 * DATA_DIR, which the driver must also read (so the tiering wraps it and is the driver used from then
 * on). On S3: storage classes, and parts buffered in DATA_DIR/tmp (this node's own); the AWS SDK is
 * loaded only then (start-up time and memory, issue 10).
 */
async function openStorage(config: Config): Promise<{ driver: StorageDriver; tiering: Tiering }> {
  if (config.blobStore.kind === 'fs') {
    const tiered = new FsTiering(new FsDriver(config.dataDir), config.coldDir);
    return { driver: tiered, tiering: tiered };
  }
  const [{ S3Driver }, { S3Tiering }] = await Promise.all([
    import('./data-plane/drivers/s3-driver.js'),
    import('./data-plane/drivers/s3-tiering.js'),
  ]);
  const partDir = join(config.dataDir, 'tmp', 's3-parts');
  await rm(partDir, { recursive: true, force: true });
  const { kind: _, ...options } = config.blobStore;
  const driver = new S3Driver({ ...options, partDir });
  const tiering = new S3Tiering(driver, {
    classes: config.storageClasses,
    partDir,
    partSize: config.blobStore.partSize,
  });
  return { driver, tiering };
}

export interface ServerOptions {
  /** Where the log's JSON lines go (default stdout): tests collect them. */
  logDestination?: DestinationStream;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningRegistry> {
  const address = await resolveHost(config.host);
  const certificate = await checkedCertificate(config);
  const dataDir = await lockDataDir(config.dataDir);
  // The port is bound before the database opens; requests that arrive meanwhile wait for it.
  let ready: (fetch: Fetch) => void = () => {};
  const app = new Promise<Fetch>((resolve) => {
    ready = resolve;
  });
  let server: NodeServer;
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
      {
        timeouts: {
          headersMs: config.headersTimeoutMs,
          idleMs: config.idleTimeoutMs,
          requestMs: config.requestTimeoutMs,
        },
        tls: certificate,
        maxHeaderBytes: config.maxHeaderBytes,
      },
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
  let auth: OpenedAuth | undefined;
  let uiKeys: SessionKeys;
  try {
    uiKeys = await SessionKeys.load(
      config.uiSessionKeyFile ?? join(config.dataDir, 'ui-session.key'),
      config.uiSessionKeyFile === undefined,
    );
    // jose and bcrypt are loaded only when authentication is configured.
    auth = config.authConfig
      ? await (await import('./server-auth.js')).openAuth(config, registry.ctx)
      : undefined;
    for (const warning of auth?.warnings ?? []) log(`artifact-store: warning: ${warning}`);
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
  const stopGc = startGcSchedule(registry.ctx, config.gcIntervalMs, loggingReporter(logger).error);
  ready(createApp(registry.ctx, { logger, auth: auth?.gate, uiKeys }).fetch as Fetch);
  const port = (server.address() as AddressInfo).port;
  if (!config.authConfig && !isLoopback(address)) {
    log(
      `artifact-store: warning: HOST ${config.host} is not a loopback address and AUTH_CONFIG is unset: anyone who can reach port ${port} can push, overwrite and delete`,
    );
  }
  const hooks: (() => Promise<string | undefined>)[] = [];
  if (config.tls) {
    const files = config.tls;
    hooks.push(() => reloadCertificate(server as HttpsServer, files));
  }
  if (auth) hooks.push(auth.reload);
  // One reload at a time: a second SIGHUP waits for the first.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = async (): Promise<string[]> => {
    const messages: string[] = [];
    const failures: Error[] = [];
    for (const hook of hooks) {
      try {
        const message = await hook();
        if (message !== undefined) messages.push(message);
      } catch (error) {
        failures.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (failures.length > 0) throw new ReloadError(failures, messages);
    return messages;
  };
  return {
    ...registry,
    url: `${config.tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    reload() {
      const next = reloading.then(reload);
      reloading = next.catch(() => {});
      return next;
    },
    onReload(hook) {
      hooks.push(hook);
    },
    /** Stops accepting; requests in flight get up to SHUTDOWN_TIMEOUT to finish before the database closes. */
    async close() {
      // The database and DATA_DIR are released whatever went wrong before (the failure is rethrown).
      try {
        await stopSweeper();
        await stopTracker();
        await stopGc();
        registry.ctx.logSignal.close();
        await closeServer(server, config.shutdownTimeoutMs);
      } finally {
        await registry.close();
      }
    },
  };
}

/** TLS_CERT and TLS_KEY read and checked, before anything starts (one line if they are wrong). */
async function checkedCertificate(config: Config): Promise<Certificate | undefined> {
  if (!config.tls) return undefined;
  try {
    return await readCertificate(config.tls);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Only this machine can connect (127.0.0.0/8, ::1, and their IPv4-mapped form). */
function isLoopback(address: string): boolean {
  return LOOPBACK.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
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
