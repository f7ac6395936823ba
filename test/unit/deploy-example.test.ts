// The multi-node example in deploy/ (compose file, nginx load balancer, .env.example) is checked here,
// since nothing on the test machines can run containers: the compose file against the Compose
// specification's JSON schema, every setting it gives artifact-store against the settings the code
// reads, the roll-out order, the load balancer against the node services, and the variables against
// .env.example; and the access policy the nodes share.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAuthConfig } from '../../src/auth/auth-config.js';
import { SETTINGS } from '../../src/config.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(path, 'utf8');

const composeText = read(join(DEPLOY, 'compose.yaml'));
const nginxText = read(join(DEPLOY, 'nginx.conf'));
const envExampleText = read(join(DEPLOY, '.env.example'));
const dockerfileText = read(join(ROOT, 'Dockerfile'));

// The S3 settings (BLOB_STORE and the S3_* of the S3 blob store). Once they are in SETTINGS this list
// only repeats them; the credentials are the SDK's standard AWS_* variables, allowed below by prefix.
const S3_SETTINGS = ['BLOB_STORE', 'S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'S3_STORAGE_CLASSES'];
const KNOWN_SETTINGS = new Set<string>([...SETTINGS, ...S3_SETTINGS]);

type Env = Record<string, string>;
interface Service {
  name: string;
  raw: Record<string, unknown>;
  image?: string;
  command: string[];
  env: Env;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `environment:` as a map or as a list of KEY=VALUE, every value as a string. */
function environment(value: unknown): Env {
  const env: Env = {};
  if (Array.isArray(value)) {
    for (const item of value) {
      const [key, ...rest] = String(item).split('=');
      env[key ?? ''] = rest.join('=');
    }
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) env[key] = item === null ? '' : String(item);
  }
  return env;
}

function command(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : [];
}

/** The compose file as Compose reads it (merge keys `<<:` resolved), before interpolation. */
function loadCompose(text: string): { document: Record<string, unknown>; services: Map<string, Service> } {
  const document: unknown = parse(text, { merge: true });
  if (!isRecord(document) || !isRecord(document.services)) throw new Error('compose.yaml has no services');
  const services = new Map<string, Service>();
  for (const [name, raw] of Object.entries(document.services)) {
    if (!isRecord(raw)) throw new Error(`service ${name} is not a map`);
    services.set(name, {
      name,
      raw,
      image: typeof raw.image === 'string' ? raw.image : undefined,
      command: command(raw.command),
      env: environment(raw.environment),
    });
  }
  return { document, services };
}

/** The services that run artifact-store: those with the image built from this repository's Dockerfile. */
function artifactStoreServices(services: Map<string, Service>): Service[] {
  const built = [...services.values()].filter((service) => {
    const build = service.raw.build;
    const context = typeof build === 'string' ? build : isRecord(build) ? build.context : undefined;
    return context === '..';
  });
  expect(built.map((service) => service.name)).toHaveLength(1);
  const image = built[0]?.image;
  expect(image, 'the service that builds the image must name it (image:) for the others').toBeTruthy();
  return [...services.values()].filter((service) => service.image === image);
}

const isMigrate = (service: Service) => service.command.includes('migrate');

/** The registry nodes: the artifact-store services that serve (the default command), not migrate. */
function nodeServices(services: Map<string, Service>): Service[] {
  return artifactStoreServices(services).filter((service) => !isMigrate(service));
}

/** ENV NAME=value in the Dockerfile's final stage. */
function imageEnv(name: string): string {
  const finalStage = dockerfileText.slice(dockerfileText.lastIndexOf('\nFROM '));
  const match = new RegExp(`^ENV .*\\b${name}=(\\S+)`, 'm').exec(finalStage);
  if (!match?.[1]) throw new Error(`the Dockerfile sets no ${name}`);
  return match[1];
}

/** `30s`, `1m30s`, `1500ms` (Compose durations) in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const rest = text.replace(/(\d+)(ms|s|m|h)/g, (_all, amount: string, unit: string) => {
    total += Number(amount) * (units[unit] ?? Number.NaN);
    return '';
  });
  if (rest !== '' || text === '') throw new Error(`not a duration: "${text}"`);
  return total;
}

/** Names of the variables compose.yaml interpolates: ${VAR}, ${VAR:-default}, ${VAR:?error}, $VAR. */
function interpolatedVariables(text: string): Set<string> {
  const withoutEscapes = text.replace(/\$\$/g, '');
  const names = new Set<string>();
  for (const match of withoutEscapes.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1] ?? '');
  return names;
}

/** nginx.conf without comments. */
const nginxDirectives = nginxText
  .split('\n')
  .map((line) => line.replace(/#.*$/, ''))
  .join('\n');

/** `upstream NAME { ... }` blocks: the names of their `server host:port` lines. */
function upstreams(conf: string): Map<string, { host: string; port: string }[]> {
  const blocks = new Map<string, { host: string; port: string }[]>();
  for (const block of conf.matchAll(/\bupstream\s+(\S+)\s*\{([^}]*)\}/g)) {
    const servers = [...(block[2] ?? '').matchAll(/^\s*server\s+([^\s:;]+):(\d+)\b/gm)].map((server) => ({
      host: server[1] ?? '',
      port: server[2] ?? '',
    }));
    blocks.set(block[1] ?? '', servers);
  }
  return blocks;
}

describe('deploy/compose.yaml', () => {
  const { document, services } = loadCompose(composeText);

  it('is valid against the Compose specification schema', () => {
    // The compose-spec JSON schema (draft-07), as shipped by the dclint devDependency.
    let packageJson: string;
    try {
      packageJson = createRequire(import.meta.url).resolve('dclint/package.json');
    } catch (error) {
      throw new Error('the Compose schema comes from the devDependency dclint: run npm install', {
        cause: error,
      });
    }
    const schemaPath = join(dirname(packageJson), 'schemas', 'compose.schema.json');
    const { $schema: _draft, ...schema } = JSON.parse(read(schemaPath)) as Record<string, unknown>;
    // Compose's own validator is as lenient with keywords and union types.
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    const validate = ajv.compile(schema);
    const valid = validate(document);
    expect(valid, ajv.errorsText(validate.errors, { separator: '\n' })).toBe(true);
  });

  it('gives artifact-store only settings it reads (or AWS_* credentials)', () => {
    const servicesOfApp = artifactStoreServices(services);
    expect(servicesOfApp.length).toBeGreaterThanOrEqual(3);
    for (const service of servicesOfApp) {
      const unknown = Object.keys(service.env).filter(
        (key) => !KNOWN_SETTINGS.has(key) && !key.startsWith('AWS_'),
      );
      expect(unknown, `${service.name} sets variables artifact-store does not read`).toEqual([]);
    }
  });

  it('runs migrate once, then at least two nodes with DATABASE_MIGRATE=require on one database and bucket', () => {
    const migrate = artifactStoreServices(services).filter(isMigrate);
    expect(migrate.map((service) => service.command)).toEqual([['node', 'dist/cli.js', 'migrate']]);
    const nodes = nodeServices(services);
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    for (const node of nodes) {
      expect(node.env.DATABASE_MIGRATE, node.name).toBe('require');
      expect(node.env.DATABASE_URL, node.name).toMatch(/^postgres(ql)?:\/\//);
      expect(node.env.BLOB_STORE, node.name).toMatch(/^s3:\/\/[^/]+/);
    }
    // One database and one bucket for all of them, and the database migrate migrated.
    expect(new Set(nodes.map((node) => node.env.DATABASE_URL))).toEqual(
      new Set([migrate[0]?.env.DATABASE_URL]),
    );
    expect(new Set(nodes.map((node) => node.env.BLOB_STORE)).size).toBe(1);
    expect(new Set(nodes.map((node) => node.env.S3_ENDPOINT)).size).toBe(1);
  });

  it('starts every node only after migrate completed successfully', () => {
    const migrate = artifactStoreServices(services).find(isMigrate);
    for (const node of nodeServices(services)) {
      const dependsOn = node.raw.depends_on;
      expect(isRecord(dependsOn), `${node.name}: depends_on needs conditions`).toBe(true);
      const onMigrate = isRecord(dependsOn) ? dependsOn[migrate?.name ?? 'migrate'] : undefined;
      expect(onMigrate, node.name).toEqual(
        expect.objectContaining({ condition: 'service_completed_successfully' }),
      );
    }
  });

  it('gives each node its own DATA_DIR volume', () => {
    const mounts = nodeServices(services).map((node) => {
      const dataDir = node.env.DATA_DIR ?? imageEnv('DATA_DIR');
      const volumes = Array.isArray(node.raw.volumes) ? node.raw.volumes.map(String) : [];
      const mount = volumes.find((volume) => volume.split(':')[1] === dataDir);
      expect(mount, `${node.name} mounts nothing at its DATA_DIR ${dataDir}`).toBeDefined();
      return mount?.split(':')[0];
    });
    expect(new Set(mounts).size).toBe(mounts.length);
  });

  it('lets a stopping node finish its requests before Docker kills it', () => {
    for (const node of nodeServices(services)) {
      const grace = node.raw.stop_grace_period;
      expect(typeof grace, `${node.name}: stop_grace_period`).toBe('string');
      const shutdown = durationMs(node.env.SHUTDOWN_TIMEOUT ?? '30s');
      expect(durationMs(String(grace)), node.name).toBeGreaterThan(shutdown);
    }
  });

  it('hard-codes no secret: passwords and keys come from .env', () => {
    for (const service of services.values()) {
      for (const [key, value] of Object.entries(service.env)) {
        if (/PASSWORD|SECRET|ACCESS_KEY/.test(key)) {
          expect(value, `${service.name} ${key}`).toMatch(/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$/);
        }
        if (key === 'DATABASE_URL') expect(value, `${service.name} ${key}`).toMatch(/:\$\{[^}]+\}@/);
      }
    }
  });

  it('interpolates only variables that .env.example defines', () => {
    const defined = new Set(
      envExampleText
        .split('\n')
        .map((line) => /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line.trim())?.[1])
        .filter((name): name is string => name !== undefined),
    );
    const used = [...interpolatedVariables(composeText)];
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !defined.has(name))).toEqual([]);
  });
});

describe('deploy/nginx.conf', () => {
  const { services } = loadCompose(composeText);

  it('is the configuration the lb service runs', () => {
    const lb = [...services.values()].find((service) => service.image?.startsWith('nginx:'));
    const volumes = Array.isArray(lb?.raw.volumes) ? lb.raw.volumes.map(String) : [];
    expect(volumes).toContainEqual(
      expect.stringMatching(/^\.\/nginx\.conf:\/etc\/nginx\/nginx\.conf(:ro)?$/),
    );
  });

  it('balances across exactly the node services of compose.yaml, on their port', () => {
    const proxied = /\bproxy_pass\s+http:\/\/([^\s/;]+)/.exec(nginxDirectives)?.[1];
    const blocks = upstreams(nginxDirectives);
    expect(proxied && blocks.has(proxied), `proxy_pass names no upstream block (${proxied})`).toBe(true);
    const servers = blocks.get(proxied ?? '') ?? [];
    const nodes = nodeServices(services);
    expect(servers.map((server) => server.host).sort()).toEqual(nodes.map((node) => node.name).sort());
    for (const node of nodes) {
      const port = node.env.PORT ?? imageEnv('PORT');
      expect(servers.find((server) => server.host === node.name)?.port, node.name).toBe(port);
    }
  });

  it('streams bodies of any size in both directions', () => {
    expect(nginxDirectives).toMatch(/^\s*client_max_body_size\s+0\s*;/m);
    expect(nginxDirectives).toMatch(/^\s*proxy_request_buffering\s+off\s*;/m);
    expect(nginxDirectives).toMatch(/^\s*proxy_buffering\s+off\s*;/m);
    expect(nginxDirectives).toMatch(/^\s*proxy_http_version\s+1\.1\s*;/m);
  });

  it('gives every node the same AUTH_CONFIG, mounted from ./auth, a policy the server accepts', async () => {
    for (const node of nodeServices(services)) {
      expect(node.env.AUTH_CONFIG, node.name).toBe('/etc/artifact-store/auth.yaml');
      const volumes = Array.isArray(node.raw.volumes) ? node.raw.volumes.map(String) : [];
      expect(volumes, node.name).toContain('./auth:/etc/artifact-store:ro');
    }
    const settings = await loadAuthConfig(join(DEPLOY, 'auth', 'auth.yaml'));
    expect(settings.mode).toBe('token');
    // One signing key for all nodes (else a token from one node fails on the other).
    expect(settings.token.signingKeys).toEqual([join(DEPLOY, 'auth', 'token-key.pem')]);
    expect(settings.htpasswd).toBe(join(DEPLOY, 'auth', 'htpasswd'));
    expect(read(join(DEPLOY, 'auth', '.gitignore'))).toMatch(/^htpasswd$[\s\S]*^token-key\.pem$/m);
  });
});
