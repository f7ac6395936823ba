// Configuration from the environment, checked once at start-up: a wrong value stops the server with
// one clear line naming the setting.
import { resolve } from 'node:path';

export interface Config {
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
  /** `apply` pending migrations at start-up, or `require` them applied (by `artifact-store migrate`). */
  migrations: 'apply' | 'require';
  /** How often an event stream looks for events no notification announced (a safety net). */
  eventPollMs: number;
}

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
                            commits (this node's, and other nodes' via PostgreSQL NOTIFY) (default 1s)`;

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
  const config: Config = {
    host: env.HOST?.trim() || '127.0.0.1',
    port,
    dataDir: resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl,
    databaseConnectTimeoutMs: check(() => duration(env, 'DATABASE_CONNECT_TIMEOUT', 1500), 0),
    maxManifestBytes,
    uploadExpiryMs: check(() => duration(env, 'UPLOAD_EXPIRY', 24 * 60 * 60 * 1000), 0),
    logLevel: check(() => logLevel(env), 'info'),
    shutdownTimeoutMs: check(() => duration(env, 'SHUTDOWN_TIMEOUT', 30_000), 0),
    migrations: check(() => migrationMode(env), 'apply'),
    eventPollMs: check(() => duration(env, 'EVENT_POLL_INTERVAL', 1000), 0),
  };
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return config;
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
