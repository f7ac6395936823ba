// Configuration from the environment, checked once at start-up: a wrong value stops the server with
// one clear line.
import { resolve } from 'node:path';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** postgres://… to use PostgreSQL; undefined for the embedded PGlite in DATA_DIR/db. */
  databaseUrl?: string;
  maxManifestBytes: number;
}

export class ConfigError extends Error {}

export const CONFIG_HELP = `Environment:
  HOST                 address to listen on (default 127.0.0.1)
  PORT                 port to listen on (default 5000; 0 picks a free one)
  DATA_DIR             blobs, upload spools and the embedded database (default ./data)
  DATABASE_URL         postgres://user:pass@host:port/db to use PostgreSQL instead of embedded PGlite
  MAX_MANIFEST_BYTES   largest manifest accepted (default 8388608 = 8 MiB; at least 4 MiB)`;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, 'PORT', 5000);
  if (port > 65535) throw new ConfigError(`PORT must be between 0 and 65535, got ${port}`);
  const maxManifestBytes = integer(env, 'MAX_MANIFEST_BYTES', 8 * 1024 * 1024);
  if (maxManifestBytes < 4 * 1024 * 1024) {
    throw new ConfigError('MAX_MANIFEST_BYTES must be at least 4194304 (4 MiB), as the OCI spec expects');
  }
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/.+/.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL must be a postgres:// or postgresql:// URL (unset it to use embedded PGlite)',
    );
  }
  const host = env.HOST?.trim() || '127.0.0.1';
  return { host, port, dataDir: resolve(env.DATA_DIR?.trim() || './data'), databaseUrl, maxManifestBytes };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}
