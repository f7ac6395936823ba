// Settings from the environment and from a --config YAML file: every problem reported, one line each,
// the environment winning over the file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_HELP, ConfigError, loadConfig, SETTINGS } from '../../src/config.js';
import { extractConfigFlag, readConfigFile } from '../../src/config-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'artifact-store-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function problems(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('reports every wrong setting, one line each', () => {
    expect(
      problems(() =>
        loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', SHUTDOWN_TIMEOUT: 'soon', DATABASE_MIGRATE: 'x' }),
      ),
    ).toEqual([
      'PORT must be between 0 and 65535, got 70000',
      'LOG_LEVEL must be one of silent, error, warn, info, debug, got "loud"',
      'SHUTDOWN_TIMEOUT must be a positive duration such as 1500ms, 30s, 90m, 24h or 2d, got "soon"',
      'DATABASE_MIGRATE must be auto or require, got "x"',
    ]);
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({
      port: 5000,
      logLevel: 'info',
      shutdownTimeoutMs: 30_000,
      migrations: 'apply',
    });
  });

  it('reads a YAML file of the same settings in lower case; the environment wins', async () => {
    const path = await file(
      'ok.yaml',
      'port: 5099\nlog_level: warn\nshutdown_timeout: 10s\nDATABASE_MIGRATE: require\ndata_dir: /srv/x\n',
    );
    const fromFile = readConfigFile(path);
    expect(fromFile).toEqual({
      PORT: '5099',
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT: '10s',
      DATABASE_MIGRATE: 'require',
      DATA_DIR: '/srv/x',
    });
    const config = loadConfig({ ...fromFile, PORT: '6000' });
    expect(config).toMatchObject({
      port: 6000,
      logLevel: 'warn',
      shutdownTimeoutMs: 10_000,
      migrations: 'require',
      dataDir: '/srv/x',
    });
    expect(readConfigFile(await file('empty.yaml', ''))).toEqual({});
  });

  it('names the file, the line and the key of each problem in it', async () => {
    const unknown = await file('unknown.yaml', 'port: 1\ncolour: blue\nhost: [a, b]\n');
    expect(problems(() => readConfigFile(unknown))).toEqual([
      expect.stringMatching(/^--config .*unknown\.yaml: unknown setting "colour" \(known: host, port, /),
      expect.stringMatching(/unknown\.yaml: host must be a single value$/),
    ]);
    const broken = await file('broken.yaml', 'port: 1\nport: 2\n');
    expect(problems(() => readConfigFile(broken))).toEqual([
      expect.stringMatching(/broken\.yaml: line 2: Map keys must be unique$/),
    ]);
    const list = await file('list.yaml', '- a\n');
    expect(problems(() => readConfigFile(list))).toEqual([
      expect.stringMatching(/list\.yaml: must be a map of settings/),
    ]);
    expect(problems(() => readConfigFile(join(dir, 'missing.yaml')))).toEqual([
      expect.stringMatching(/missing\.yaml: cannot read it \(ENOENT\)$/),
    ]);
  });

  it('reads the tiering settings, one line per wrong one', () => {
    const defaults = loadConfig({ DATA_DIR: '/srv/d' });
    expect(defaults).toMatchObject({
      storageClasses: { hot: 'STANDARD', warm: 'STANDARD_IA', cold: 'GLACIER_IR', archive: 'DEEP_ARCHIVE' },
      coldDir: '/srv/d/cold',
      restoreDays: 7,
      restoreCheckMs: 60_000,
    });
    expect(
      loadConfig({
        S3_STORAGE_CLASSES: 'cold=glacier, warm=ONEZONE_IA',
        COLD_DIR: '/mnt/slow',
        RESTORE_DAYS: '30',
        RESTORE_CHECK_INTERVAL: '5m',
      }),
    ).toMatchObject({
      storageClasses: { hot: 'STANDARD', warm: 'ONEZONE_IA', cold: 'GLACIER', archive: 'DEEP_ARCHIVE' },
      coldDir: '/mnt/slow',
      restoreDays: 30,
      restoreCheckMs: 300_000,
    });
    expect(
      problems(() =>
        loadConfig({
          DATA_DIR: '/srv/d',
          S3_STORAGE_CLASSES: 'frozen=GLACIER',
          COLD_DIR: '/srv/d/blobs/cold',
          RESTORE_DAYS: '0',
          RESTORE_CHECK_INTERVAL: 'often',
        }),
      ),
    ).toEqual([
      'S3_STORAGE_CLASSES must be tier=CLASS pairs separated by commas, tiers hot, warm, cold, archive, got "frozen=GLACIER"',
      'COLD_DIR must be a directory of its own, not DATA_DIR or inside its blobs/ or uploads/, got "/srv/d/blobs/cold"',
      'RESTORE_DAYS must be between 1 and 3650, got 0',
      'RESTORE_CHECK_INTERVAL must be a positive duration such as 1500ms, 30s, 90m, 24h or 2d, got "often"',
    ]);
    expect(problems(() => loadConfig({ S3_STORAGE_CLASSES: 'warm=COLDEST' }))).toEqual([
      expect.stringMatching(/^S3_STORAGE_CLASSES: warm=COLDEST is not a storage class \(one of STANDARD, /),
    ]);
    expect(problems(() => loadConfig({ S3_STORAGE_CLASSES: 'hot=DEEP_ARCHIVE' }))).toEqual([
      'S3_STORAGE_CLASSES: hot must be readable without a restore, got DEEP_ARCHIVE',
    ]);
    expect(problems(() => loadConfig({ DATA_DIR: '/srv/d', COLD_DIR: '/srv/d' }))).toHaveLength(1);
  });

  it('reads the security settings, one line per wrong one', async () => {
    expect(loadConfig({})).toMatchObject({
      authConfig: undefined,
      tls: undefined,
      trustProxy: [],
      publicUrl: undefined,
      maxHeaderBytes: 16_384,
      maxUploadsPerIdentity: 64,
      rateLimit: { perSecond: 200, burst: 1000 },
      authFailureLimit: 30,
    });
    const auth = await file('auth.yaml', 'users: []\n');
    const cert = await file('tls.crt', '');
    const key = await file('tls.key', '');
    expect(
      loadConfig({
        AUTH_CONFIG: auth,
        TLS_CERT: cert,
        TLS_KEY: key,
        TRUST_PROXY: ' 10.0.0.0/8, 192.168.1.7 ,::1, fd00::/8,',
        PUBLIC_URL: 'https://Registry.Example.com:443/',
        MAX_HEADER_BYTES: '4096',
        MAX_UPLOADS_PER_IDENTITY: '0',
        RATE_LIMIT: '0',
        RATE_LIMIT_BURST: '5',
        AUTH_FAILURE_LIMIT: '0',
      }),
    ).toMatchObject({
      authConfig: auth,
      tls: { certFile: cert, keyFile: key },
      trustProxy: ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8'],
      publicUrl: 'https://registry.example.com',
      maxHeaderBytes: 4096,
      maxUploadsPerIdentity: 0,
      rateLimit: { perSecond: 0, burst: 5 },
      authFailureLimit: 0,
    });
    expect(loadConfig({ PUBLIC_URL: 'http://localhost:5000' }).publicUrl).toBe('http://localhost:5000');
    expect(
      problems(() =>
        loadConfig({
          AUTH_CONFIG: join(dir, 'no-such.yaml'),
          TLS_CERT: cert,
          TRUST_PROXY: '10.0.0.0/8, proxy.internal, 10.0.0.0/33, fe80::1%eth0',
          PUBLIC_URL: 'https://registry.example.com/v2',
          MAX_HEADER_BYTES: '512',
          MAX_UPLOADS_PER_IDENTITY: '-1',
          RATE_LIMIT: 'fast',
          RATE_LIMIT_BURST: '0',
          AUTH_FAILURE_LIMIT: '1e3',
        }),
      ),
    ).toEqual([
      `AUTH_CONFIG ${join(dir, 'no-such.yaml')}: cannot read it (ENOENT)`,
      'TLS_CERT and TLS_KEY go together: TLS_KEY is unset',
      'TRUST_PROXY must be IP addresses or CIDR ranges separated by commas (such as 10.0.0.5, 10.0.0.0/8, fd00::/8), got "proxy.internal", "10.0.0.0/33", "fe80::1%eth0"',
      'PUBLIC_URL must be an http:// or https:// URL with no path, query or credentials (such as https://registry.example.com), got "https://registry.example.com/v2"',
      'MAX_HEADER_BYTES must be between 1024 and 1048576, got 512',
      'MAX_UPLOADS_PER_IDENTITY must be a non-negative integer, got "-1"',
      'RATE_LIMIT must be a non-negative integer, got "fast"',
      'RATE_LIMIT_BURST must be at least 1, got 0',
      'AUTH_FAILURE_LIMIT must be a non-negative integer, got "1e3"',
    ]);
    for (const bad of [
      'ftp://x.example',
      'https://x.example/?a=1',
      'https://u:p@x.example',
      'x.example',
      'https://x.example#f',
    ]) {
      expect(problems(() => loadConfig({ PUBLIC_URL: bad }))).toHaveLength(1);
    }
    expect(problems(() => loadConfig({ TLS_KEY: key }))).toEqual([
      'TLS_CERT and TLS_KEY go together: TLS_CERT is unset',
    ]);
    expect(problems(() => loadConfig({ AUTH_CONFIG: dir }))).toEqual([`AUTH_CONFIG ${dir} is not a file`]);
    expect(problems(() => loadConfig({ MAX_HEADER_BYTES: '2000000' }))).toEqual([
      'MAX_HEADER_BYTES must be between 1024 and 1048576, got 2000000',
    ]);
  });

  it('documents every setting it reads in the help', () => {
    for (const name of SETTINGS) expect(CONFIG_HELP).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('takes --config out of the arguments wherever it is', () => {
    expect(extractConfigFlag(['--config', 'a.yaml', 'serve'])).toEqual({ args: ['serve'], file: 'a.yaml' });
    expect(extractConfigFlag(['serve', '--config=b.yaml'])).toEqual({ args: ['serve'], file: 'b.yaml' });
    expect(extractConfigFlag(['serve'])).toEqual({ args: ['serve'] });
    expect(problems(() => extractConfigFlag(['serve', '--config']))).toEqual(['--config needs a file']);
  });
});
