// The security settings (ADR-0010): the access-control file, TLS, which reverse proxies'
// X-Forwarded-* headers are believed, the public URL, and the limits that keep one client from
// exhausting the server. loadConfig reads them beside the others, one line per wrong one. The limits
// are only parsed here; the HTTP layer and the auth code apply them.
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
// A cycle, safe both ways: config.ts uses this module only inside loadConfig, and this module uses
// ConfigError only inside its functions.
import { ConfigError } from './config.js';

export interface TlsFiles {
  /** PEM certificate, or chain (leaf first). */
  certFile: string;
  /** PEM private key of the certificate. */
  keyFile: string;
}

export interface RateLimit {
  /** Requests per second per identity; 0: no limit. */
  perSecond: number;
  /** How many requests an identity may make at once (the bucket's size). */
  burst: number;
}

export interface SecurityConfig {
  /** Absolute path of the YAML file of identities and policy; undefined: no authentication. */
  authConfig?: string;
  /** Serve HTTPS with these files (absolute paths); undefined: plain HTTP. */
  tls?: TlsFiles;
  /** IP addresses and CIDR ranges of the reverse proxies whose X-Forwarded-* headers are believed. */
  trustProxy: string[];
  /** The origin clients use (`https://registry.example.com`, no trailing slash), overriding the request's. */
  publicUrl?: string;
  /** Largest request header section (Node's maxHeaderSize); larger gets 431. */
  maxHeaderBytes: number;
  /** Upload sessions one identity may have open at once; 0: no limit. */
  maxUploadsPerIdentity: number;
  /** Requests per identity (only with authentication, counted by each node). */
  rateLimit: RateLimit;
  /** Failed credential checks per minute per client address before 429; 0: no limit. */
  authFailureLimit: number;
  /** The web UI's session key file (shared by nodes); undefined: one made in the data directory. */
  uiSessionKeyFile?: string;
}

type Check = <T>(read: () => T, fallback: T) => T;

/** The security settings; each wrong one goes through `check` (which records its line). */
export function securitySettings(env: NodeJS.ProcessEnv, check: Check): SecurityConfig {
  return {
    authConfig: check(() => optionalFile(env, 'AUTH_CONFIG'), undefined),
    tls: check(() => tlsFiles(env), undefined),
    trustProxy: check(() => trustProxy(env), []),
    publicUrl: check(() => publicUrl(env), undefined),
    maxHeaderBytes: check(() => bounded(env, 'MAX_HEADER_BYTES', 16_384, 1024, 1_048_576), 16_384),
    maxUploadsPerIdentity: check(() => bounded(env, 'MAX_UPLOADS_PER_IDENTITY', 64, 0), 64),
    rateLimit: {
      perSecond: check(() => bounded(env, 'RATE_LIMIT', 200, 0), 200),
      burst: check(() => bounded(env, 'RATE_LIMIT_BURST', 1000, 1), 1000),
    },
    authFailureLimit: check(() => bounded(env, 'AUTH_FAILURE_LIMIT', 30, 0), 30),
    uiSessionKeyFile: check(() => optionalFile(env, 'UI_SESSION_KEY_FILE'), undefined),
  };
}

/** A readable file's absolute path (a relative one is taken from the working directory at start-up). */
function optionalFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const path = resolve(raw);
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw new ConfigError(`${name} ${path} is not a file`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      `${name} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  return path;
}

function tlsFiles(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const certFile = optionalFile(env, 'TLS_CERT');
  const keyFile = optionalFile(env, 'TLS_KEY');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError(
      `TLS_CERT and TLS_KEY go together: ${certFile === undefined ? 'TLS_CERT' : 'TLS_KEY'} is unset`,
    );
  }
  return { certFile, keyFile };
}

export interface AddressRange {
  address: string;
  /** Leading bits that must match; the whole address when absent. */
  prefix?: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8` as an address range; undefined when it is none. */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const match = /^([^/%\s]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
  if (!match) return undefined;
  const address = match[1] as string;
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (match[2] === undefined) return { address, family };
  const prefix = Number(match[2]);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family };
}

function trustProxy(env: NodeJS.ProcessEnv): string[] {
  const raw = env.TRUST_PROXY?.trim();
  if (raw === undefined || raw === '') return [];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const wrong = entries.filter((entry) => parseAddressRange(entry) === undefined);
  if (wrong.length > 0) {
    throw new ConfigError(
      `TRUST_PROXY must be IP addresses or CIDR ranges separated by commas (such as 10.0.0.5, 10.0.0.0/8, fd00::/8), got ${wrong.map((e) => `"${e}"`).join(', ')}`,
    );
  }
  return entries;
}

function publicUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.PUBLIC_URL?.trim();
  if (raw === undefined || raw === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  // Only an origin: the registry's routes start at its root (/v2/, /api/v1), never under a path.
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.pathname !== '/' ||
    /[?#]/.test(raw) ||
    url.username !== '' ||
    url.password !== ''
  ) {
    throw new ConfigError(
      `PUBLIC_URL must be an http:// or https:// URL with no path, query or credentials (such as https://registry.example.com), got "${raw}"`,
    );
  }
  return url.origin;
}

/** A whole number in [min, max]. */
function bounded(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(
      max === Number.MAX_SAFE_INTEGER
        ? `${name} must be at least ${min}, got ${value}`
        : `${name} must be between ${min} and ${max}, got ${value}`,
    );
  }
  return value;
}
