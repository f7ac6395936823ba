// The AUTH_CONFIG file (YAML): the authentication mode, where credentials and keys are, and the
// policy. Checked whole when read; every problem is one line naming its place, and a file that fails
// keeps the server from starting (or, on SIGHUP, keeps the previous policy in force).
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ADMIN_ACTIONS, isGlob, type PolicyRules, REPOSITORY_ACTIONS } from './policy.js';

export interface AuthSettings {
  /** `basic`: htpasswd on every request; `token`: the Docker token flow (Basic still accepted). */
  mode: 'basic' | 'token';
  /** The realm of Basic challenges. */
  realm: string;
  /** The `service` of Bearer challenges and the audience of the tokens issued. */
  service: string;
  /** htpasswd file (bcrypt lines only). */
  htpasswd?: string;
  /** The built-in token service. */
  token: { ttlSeconds: number; signingKeys: string[]; issuer: string };
  /** Trust tokens of another issuer instead of issuing them. */
  external?: {
    realm: string;
    issuer: string;
    audience: string;
    jwksUrl?: string;
    keyFile?: string;
    algorithms?: string[];
  };
  rules: PolicyRules;
}

export class AuthConfigError extends Error {}

const name = z.string().min(1).max(256);
const glob = z.string().refine(isGlob, 'a repository glob: lower-case name characters, * and **');
const subjects = {
  users: z.array(name).optional(),
  groups: z.array(name).optional(),
  anonymous: z.boolean().optional(),
  authenticated: z.boolean().optional(),
};
const ttl = z
  .union([
    z.number().int().positive(),
    z.string().regex(/^\d{1,7}(s|m|h)?$/, 'a duration: 300, 300s, 5m or 1h'),
  ])
  .optional();

const schema = z
  .object({
    mode: z.enum(['basic', 'token']),
    realm: z.string().min(1).max(200).optional(),
    service: z.string().min(1).max(200).optional(),
    htpasswd: z.string().min(1).optional(),
    token: z
      .object({
        ttl,
        signing_keys: z.array(z.string().min(1)).optional(),
        issuer: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    external: z
      .object({
        realm: z.url().refine((u) => u.startsWith('https://'), 'must be an https URL'),
        issuer: z.string().min(1),
        audience: z.string().min(1).optional(),
        jwks_url: z.url().optional(),
        key_file: z.string().min(1).optional(),
        algorithms: z
          .array(z.enum(['ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA']))
          .optional(),
      })
      .strict()
      .refine((e) => (e.jwks_url === undefined) !== (e.key_file === undefined), 'give jwks_url or key_file')
      .optional(),
    groups: z.record(name, z.array(name)).optional(),
    repositories: z
      .array(
        z
          .object({
            match: z.union([glob, z.array(glob).min(1)]),
            allow: z.array(
              z.object({ ...subjects, actions: z.array(z.enum(REPOSITORY_ACTIONS)).min(1) }).strict(),
            ),
          })
          .strict(),
      )
      .optional(),
    admin: z
      .object({
        users: z.array(name).optional(),
        groups: z.array(name).optional(),
        actions: z.array(z.enum(ADMIN_ACTIONS)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.external && c.mode !== 'token')
      ctx.addIssue({ code: 'custom', message: 'external needs mode: token' });
    if (!c.external && !c.htpasswd) ctx.addIssue({ code: 'custom', message: 'htpasswd is required' });
  });

function seconds(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  const match = /^(\d+)(s|m|h)?$/.exec(value);
  const n = Number(match?.[1] ?? 0);
  return n * ({ s: 1, m: 60, h: 3600 }[match?.[2] ?? 's'] ?? 1);
}

/** Reads and checks `path`; throws AuthConfigError with one line per problem. */
export async function loadAuthConfig(path: string): Promise<AuthSettings> {
  let raw: unknown;
  try {
    raw = parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new AuthConfigError(`AUTH_CONFIG ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `AUTH_CONFIG ${path}: ${i.path.join('.') || '(top)'}: ${i.message}`,
    );
    throw new AuthConfigError(lines.join('\n'));
  }
  const c = parsed.data;
  const here = dirname(path);
  const file = (p: string) => (isAbsolute(p) ? p : resolve(here, p));
  const groups = c.groups ?? {};
  for (const rule of c.repositories ?? []) {
    for (const entry of rule.allow) {
      for (const g of entry.groups ?? []) {
        if (!(g in groups))
          throw new AuthConfigError(`AUTH_CONFIG ${path}: repositories: unknown group "${g}"`);
      }
    }
  }
  const service = c.service ?? 'artifact-store';
  const ttlSeconds = Math.max(seconds(c.token?.ttl, 300), 60);
  return {
    mode: c.mode,
    realm: c.realm ?? 'artifact-store',
    service,
    htpasswd: c.htpasswd === undefined ? undefined : file(c.htpasswd),
    token: {
      ttlSeconds,
      signingKeys: (c.token?.signing_keys ?? []).map(file),
      issuer: c.token?.issuer ?? service,
    },
    external: c.external && {
      realm: c.external.realm,
      issuer: c.external.issuer,
      audience: c.external.audience ?? service,
      jwksUrl: c.external.jwks_url,
      keyFile: c.external.key_file === undefined ? undefined : file(c.external.key_file),
      algorithms: c.external.algorithms,
    },
    rules: {
      groups,
      repositories: (c.repositories ?? []).map((r) => ({
        match: typeof r.match === 'string' ? [r.match] : r.match,
        allow: r.allow,
      })),
      admin: {
        users: c.admin?.users ?? [],
        groups: c.admin?.groups ?? [],
        actions: c.admin?.actions ?? [...ADMIN_ACTIONS],
      },
    },
  };
}
