// Configuration from the environment, checked once at start-up: a wrong value stops the server with
// one clear line naming the setting.
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  LIFECYCLE_HELP,
  LIFECYCLE_SETTINGS,
  type LifecycleConfig,
  lifecycleSettings,
} from './config-lifecycle.js';
import { type SecurityConfig, securitySettings } from './config-security.js';
import {
  DEFAULT_STORAGE_CLASSES,
  RESTORE_CLASSES,
  STORAGE_CLASSES,
} from './data-plane/drivers/s3-classes.js';
import { isTier, TIERS, type Tier } from './data-plane/tiering.js';

export type { RateLimit, SecurityConfig, TlsFiles } from './config-security.js';

/** Every setting; the security ones (AUTH_CONFIG, TLS_*, TRUST_PROXY, limits) are in config-security.ts. */
export interface Config extends SecurityConfig, LifecycleConfig {
  host: string;
  port: number;
  dataDir: string;
  /** postgres://… to use an external PostgreSQL; undefined for the embedded one in DATA_DIR/pg. */
  databaseUrl?: string;
  /** How long the first connection to DATABASE_URL may take. */
  databaseConnectTimeoutMs: number;
  maxManifestBytes: number;
  /** An upload session with no write for this long is ended and its bytes removed. */
  uploadExpiryMs: number;
  /** Request logs (JSON lines on stdout): their level, or `silent` for none. */
  logLevel: LogLevel;
  /** How long a stopping server lets requests in flight finish before it closes their connections. */
  shutdownTimeoutMs: number;
  /** How long a client may take to send a request's headers. */
  headersTimeoutMs: number;
  /** A connection on which nothing is received or sent for this long is closed. */
  idleTimeoutMs: number;
  /** The longest a client may take to send one whole request, body included. */
  requestTimeoutMs: number;
  /** `apply` pending migrations at start-up, or `require` them applied (by `artifact-store migrate`). */
  migrations: 'apply' | 'require';
  /** How often an event stream looks for events no notification announced (a safety net). */
  eventPollMs: number;
  /** Where blob bytes and upload sessions live: DATA_DIR, or an S3 bucket shared by every node. */
  blobStore: BlobStoreConfig;
  /** The S3 storage class of each tier (A7). */
  storageClasses: Record<Tier, string>;
  /** Where the filesystem store keeps cold and archived bytes. */
  coldDir: string;
  /** How many days a restored copy of archived bytes stays readable. */
  restoreDays: number;
  /** How often restores in progress (and restored copies' expiry) are checked. */
  restoreCheckMs: number;
}

export type BlobStoreConfig =
  | { kind: 'fs' }
  | {
      kind: 's3';
      bucket: string;
      /** Key prefix inside the bucket, without slashes at its ends ('' for none). */
      prefix: string;
      endpoint?: string;
      region: string;
      forcePathStyle: boolean;
      /** Bytes per uploaded part. */
      partSize: number;
      /** Blob GETs answer 307 to a presigned URL of the object instead of streaming it. */
      redirect: boolean;
    };

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {}

/** Every setting loadConfig reads (the environment variables' names; a --config file's keys). */
export const SETTINGS = [
  'HOST',
  'PORT',
  'DATA_DIR',
  'DATABASE_URL',
  'DATABASE_CONNECT_TIMEOUT',
  'DATABASE_MIGRATE',
  'MAX_MANIFEST_BYTES',
  'UPLOAD_EXPIRY',
  'LOG_LEVEL',
  'SHUTDOWN_TIMEOUT',
  'EVENT_POLL_INTERVAL',
  'HEADERS_TIMEOUT',
  'IDLE_TIMEOUT',
  'REQUEST_TIMEOUT',
  'BLOB_STORE',
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_FORCE_PATH_STYLE',
  'S3_PART_SIZE',
  'S3_REDIRECT',
  'S3_STORAGE_CLASSES',
  'COLD_DIR',
  'RESTORE_DAYS',
  'RESTORE_CHECK_INTERVAL',
  'AUTH_CONFIG',
  'TLS_CERT',
  'TLS_KEY',
  'TRUST_PROXY',
  'PUBLIC_URL',
  'MAX_HEADER_BYTES',
  'MAX_UPLOADS_PER_IDENTITY',
  'RATE_LIMIT',
  'RATE_LIMIT_BURST',
  'AUTH_FAILURE_LIMIT',
  'UI_SESSION_KEY_FILE',
  ...LIFECYCLE_SETTINGS,
] as const;

export const CONFIG_HELP = `Environment:
  HOST                      address to listen on (default 127.0.0.1)
  PORT                      port to listen on (default 5000; 0 picks a free one)
  DATA_DIR                  blobs, upload spools and the embedded database (default ./data)
  DATABASE_URL              postgres://user:pass@host:port/db to use an external PostgreSQL
                            instead of the embedded one in DATA_DIR/pg
  DATABASE_CONNECT_TIMEOUT  how long to wait for DATABASE_URL at start-up (default 1500ms)
  MAX_MANIFEST_BYTES        largest manifest accepted (default 8388608 = 8 MiB; at least 4 MiB)
  UPLOAD_EXPIRY             end upload sessions idle this long (default 24h; e.g. 90m, 2d)
  LOG_LEVEL                 request logs as JSON lines on stdout: silent, error, warn, info
                            (default: one line per request) or debug
  SHUTDOWN_TIMEOUT          on SIGTERM/SIGINT, how long requests in flight may take to finish
                            before their connections are closed (default 30s)
  DATABASE_MIGRATE          auto (default): apply pending migrations at start-up; require: apply
                            none and refuse to start until "artifact-store migrate" has run
  EVENT_POLL_INTERVAL       how often event streams look for new events besides being woken by
                            commits (this node's, and other nodes' via PostgreSQL NOTIFY) (default 1s)
  HEADERS_TIMEOUT           how long a client may take to send a request's headers (default 30s)
  IDLE_TIMEOUT              close a connection on which nothing is received or sent for this long:
                            a stalled upload body or download, a slow-loris client (default 120s;
                            above the event stream's longest heartbeat, 60s)
  REQUEST_TIMEOUT           the longest a client may take to send one whole request, body included:
                            a body trickled in just fast enough to stay under IDLE_TIMEOUT is cut
                            off (default 1h; downloads are not bounded by it)
  BLOB_STORE                where blobs and upload sessions live: unset for DATA_DIR, or
                            s3://bucket/prefix for an S3 bucket (shared by several nodes)
  S3_ENDPOINT               URL of an S3-compatible server (default: AWS S3 of S3_REGION)
  S3_REGION                 the bucket's region (default AWS_REGION, else us-east-1)
  S3_FORCE_PATH_STYLE       true: http://endpoint/bucket/key addressing, as most S3-compatible
                            servers want (default false: bucket.endpoint)
  S3_PART_SIZE              bytes per part of an upload to S3, buffered on this node's disk
                            (default 8388608 = 8 MiB; at least 5 MiB)
  S3_REDIRECT               true: blob GETs answer 307 with a presigned URL of the object (valid
                            20 minutes), so clients download from S3 directly (default false)
  S3_STORAGE_CLASSES        the S3 storage class of each tier, as tier=CLASS pairs (default
                            hot=STANDARD,warm=STANDARD_IA,cold=GLACIER_IR,archive=DEEP_ARCHIVE;
                            tiers left out keep theirs); GLACIER and DEEP_ARCHIVE need a restore
  COLD_DIR                  where the filesystem store keeps cold and archived bytes
                            (default DATA_DIR/cold)
  RESTORE_DAYS              how many days restored archived bytes stay readable (default 7)
  RESTORE_CHECK_INTERVAL    how often restores in progress and restored copies' expiry are
                            checked (default 60s)
${LIFECYCLE_HELP}
  AUTH_CONFIG               YAML file of identities, credentials and access policy (reloaded on
                            SIGHUP); unset: no authentication, anyone who can reach the port can
                            push, overwrite and delete
  UI_SESSION_KEY_FILE       the web UI's session key (32+ random bytes, base64); nodes behind one
                            address must share one (default: made in DATA_DIR/ui-session.key)
  TLS_CERT                  PEM certificate (leaf first, then intermediates) to serve HTTPS with,
                            together with TLS_KEY; both are read again on SIGHUP (default: HTTP)
  TLS_KEY                   PEM private key of TLS_CERT
  TRUST_PROXY               IP addresses or CIDR ranges (v4 or v6), comma-separated, of reverse
                            proxies whose X-Forwarded-For/-Proto/-Host are believed (default: none)
  PUBLIC_URL                the origin clients use, such as https://registry.example.com behind a
                            proxy (default: the request's, or a trusted proxy's X-Forwarded-*)
  MAX_HEADER_BYTES          largest request header section; larger gets 431 (default 16384;
                            1024 to 1048576)
  MAX_UPLOADS_PER_IDENTITY  upload sessions one identity may have open at once (default 64;
                            0 = no limit)
  RATE_LIMIT                requests per second per identity (default 200; 0 = off)
  RATE_LIMIT_BURST          requests an identity may make at once before RATE_LIMIT paces it
                            (default 1000)
  AUTH_FAILURE_LIMIT        failed credential checks per minute per client address before 429
                            (default 30; 0 = off)
  (RATE_LIMIT, RATE_LIMIT_BURST and AUTH_FAILURE_LIMIT apply only with AUTH_CONFIG, and each node
  counts on its own: behind a load balancer over N nodes a client may get up to N times as much.)
  (S3 credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
  AWS_PROFILE, web identity, instance or container roles.)`;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Every wrong setting is reported, one line each, not only the first.
  const errors: string[] = [];
  const check = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error.message);
      return fallback;
    }
  };
  const port = check(() => {
    const value = integer(env, 'PORT', 5000);
    if (value > 65535) throw new ConfigError(`PORT must be between 0 and 65535, got ${value}`);
    return value;
  }, 5000);
  const maxManifestBytes = check(() => {
    const value = integer(env, 'MAX_MANIFEST_BYTES', 8 * 1024 * 1024);
    if (value < 4 * 1024 * 1024) {
      throw new ConfigError('MAX_MANIFEST_BYTES must be at least 4194304 (4 MiB), as the OCI spec expects');
    }
    return value;
  }, 0);
  const databaseUrl = check(() => {
    const value = env.DATABASE_URL?.trim() || undefined;
    if (value !== undefined && !/^postgres(ql)?:\/\/.+/.test(value)) {
      throw new ConfigError(
        'DATABASE_URL must be a postgres:// or postgresql:// URL (unset it to use the embedded database)',
      );
    }
    return value;
  }, undefined);
  const dataDir = resolve(env.DATA_DIR?.trim() || './data');
  const config: Config = {
    host: env.HOST?.trim() || '127.0.0.1',
    port,
    dataDir,
    databaseUrl,
    databaseConnectTimeoutMs: check(() => duration(env, 'DATABASE_CONNECT_TIMEOUT', 1500), 0),
    maxManifestBytes,
    uploadExpiryMs: check(() => duration(env, 'UPLOAD_EXPIRY', 24 * 60 * 60 * 1000), 0),
    logLevel: check(() => logLevel(env), 'info'),
    shutdownTimeoutMs: check(() => duration(env, 'SHUTDOWN_TIMEOUT', 30_000), 0),
    headersTimeoutMs: check(() => duration(env, 'HEADERS_TIMEOUT', 30_000), 0),
    idleTimeoutMs: check(() => duration(env, 'IDLE_TIMEOUT', 120_000), 0),
    requestTimeoutMs: check(() => duration(env, 'REQUEST_TIMEOUT', 3_600_000), 0),
    migrations: check(() => migrationMode(env), 'apply'),
    eventPollMs: check(() => duration(env, 'EVENT_POLL_INTERVAL', 1000), 0),
    blobStore: check(() => blobStore(env), { kind: 'fs' }),
    storageClasses: check(() => storageClasses(env), { ...DEFAULT_STORAGE_CLASSES }),
    coldDir: check(() => coldDir(env, dataDir), ''),
    restoreDays: check(() => restoreDays(env), 7),
    restoreCheckMs: check(() => duration(env, 'RESTORE_CHECK_INTERVAL', 60_000), 0),
    ...securitySettings(env, check),
    ...lifecycleSettings(env, check),
  };
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return config;
}

function blobStore(env: NodeJS.ProcessEnv): BlobStoreConfig {
  const raw = env.BLOB_STORE?.trim();
  if (raw === undefined || raw === '' || raw === 'file' || raw === 'fs') return { kind: 'fs' };
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(raw);
  if (!match) {
    throw new ConfigError(`BLOB_STORE must be s3://bucket/prefix (or unset for DATA_DIR), got "${raw}"`);
  }
  const endpoint = env.S3_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
    throw new ConfigError(`S3_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`);
  }
  const partSize = integer(env, 'S3_PART_SIZE', 8 * 1024 * 1024);
  if (partSize < 5 * 1024 * 1024 || partSize > 5 * 1024 * 1024 * 1024) {
    throw new ConfigError(`S3_PART_SIZE must be between 5242880 (5 MiB) and 5 GiB, got ${partSize}`);
  }
  return {
    kind: 's3',
    bucket: match[1] as string,
    prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, ''),
    endpoint,
    region: env.S3_REGION?.trim() || env.AWS_REGION?.trim() || 'us-east-1',
    forcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', false),
    redirect: boolean(env, 'S3_REDIRECT', false),
    partSize,
  };
}

/** `tier=CLASS` pairs over the defaults. */
function storageClasses(env: NodeJS.ProcessEnv): Record<Tier, string> {
  const classes = { ...DEFAULT_STORAGE_CLASSES };
  const raw = env.S3_STORAGE_CLASSES?.trim();
  if (raw === undefined || raw === '') return classes;
  for (const pair of raw.split(',')) {
    const [tier, storageClass] = pair.split('=').map((part) => part.trim());
    if (!tier || !isTier(tier) || !storageClass || pair.split('=').length !== 2) {
      throw new ConfigError(
        `S3_STORAGE_CLASSES must be tier=CLASS pairs separated by commas, tiers ${TIERS.join(', ')}, got "${raw}"`,
      );
    }
    const upper = storageClass.toUpperCase();
    if (!(STORAGE_CLASSES as readonly string[]).includes(upper)) {
      throw new ConfigError(
        `S3_STORAGE_CLASSES: ${tier}=${storageClass} is not a storage class (one of ${STORAGE_CLASSES.join(', ')})`,
      );
    }
    classes[tier] = upper;
  }
  if (RESTORE_CLASSES.has(classes.hot)) {
    throw new ConfigError(`S3_STORAGE_CLASSES: hot must be readable without a restore, got ${classes.hot}`);
  }
  return classes;
}

function coldDir(env: NodeJS.ProcessEnv, dataDir: string): string {
  const dir = resolve(env.COLD_DIR?.trim() || join(dataDir, 'cold'));
  const inside = (base: string) => {
    const path = relative(base, dir);
    return path === '' || (!path.startsWith('..') && !isAbsolute(path));
  };
  if (inside(join(dataDir, 'blobs')) || inside(join(dataDir, 'uploads')) || dir === dataDir) {
    throw new ConfigError(
      `COLD_DIR must be a directory of its own, not DATA_DIR or inside its blobs/ or uploads/, got "${dir}"`,
    );
  }
  return dir;
}

function restoreDays(env: NodeJS.ProcessEnv): number {
  const days = integer(env, 'RESTORE_DAYS', 7);
  if (days < 1 || days > 3650) throw new ConfigError(`RESTORE_DAYS must be between 1 and 3650, got ${days}`);
  return days;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `1500ms`, `30s`, `90m`, `24h` or `2d` (a bare number is seconds). */
function duration(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(raw);
  if (!match || Number(match[1]) === 0) {
    throw new ConfigError(
      `${name} must be a positive duration such as 1500ms, 30s, 90m, 24h or 2d, got "${raw}"`,
    );
  }
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
}

function migrationMode(env: NodeJS.ProcessEnv): Config['migrations'] {
  const raw = env.DATABASE_MIGRATE?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'auto') return 'apply';
  if (raw === 'require') return 'require';
  throw new ConfigError(`DATABASE_MIGRATE must be auto or require, got "${env.DATABASE_MIGRATE}"`);
}

function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const raw = env.LOG_LEVEL?.trim().toLowerCase();
  if (raw === undefined || raw === '') return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  return raw as LogLevel;
}
