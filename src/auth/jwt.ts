// Bearer tokens of the Docker token flow: the ES256 access and refresh tokens our /auth/token issues
// (verifiable by any node holding the shared key files, and by distribution through the RFC 7638 `kid`),
// and tokens signed by an external issuer we are told to trust. Verification never accepts HMAC or
// `none`, and reports `expired` only for a token whose signature and claims were otherwise good.

import type { KeyObject } from 'node:crypto';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  SignJWT,
} from 'jose';
import { createOnce } from '../fs-sync.js';
import { normalizeAccess, type ResourceAccess } from './scopes.js';

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly reason: 'invalid' | 'expired',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TokenAst {
  kind: string;
  via?: string;
  tid?: string;
}
export interface IssuedToken {
  token: string;
  expiresIn: number;
  /** ISO 8601 */
  issuedAt: string;
}
export interface VerifiedToken {
  subject: string;
  access: ResourceAccess[];
  /** our private claim `ast`, absent for external tokens */
  ast?: TokenAst;
  expiresAt: Date;
  issuer: string;
}

const ACCESS_TYP = 'JWT';
const REFRESH_TYP = 'rt+jwt';
const MIN_TTL_SECONDS = 60; // regclient and containers/image raise shorter lifetimes to 60 s anyway
const REFRESH_TTL_SECONDS = 24 * 60 * 60;
const CLOCK_TOLERANCE_SECONDS = 60; // as distribution's leeway
const ASYMMETRIC_ALGORITHMS = new Set(
  'ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA Ed25519'.split(' '),
);

/** Who a token is for; what both kinds of token carry. */
interface Subject {
  issuer: string;
  subject: string;
  audience: string;
  ast: TokenAst;
}
type Expected = { issuer: string; audience: string };

interface Key {
  kid: string;
  publicKey: KeyObject;
  jwk: Record<string, unknown>;
}

export class TokenKeys {
  readonly #signingKey: KeyObject;
  readonly #keys: Key[];
  readonly #byKid: Map<string, KeyObject>;

  private constructor(signingKey: KeyObject, keys: Key[]) {
    this.#signingKey = signingKey;
    this.#keys = keys;
    this.#byKid = new Map(keys.map((k) => [k.kid, k.publicKey]));
  }

  /**
   * ES256 keys from PEM files (PKCS#8, or SEC1 `EC PRIVATE KEY`): the first signs, all verify
   * (rotation). Without files, `generatedKeyFile` is used, created (mode 0600) with a new P-256 key
   * when missing. Throws an Error naming the file when one is unreadable or not an EC P-256 key.
   */
  static async load(options: { signingKeyFiles: string[]; generatedKeyFile: string }): Promise<TokenKeys> {
    const privateKeys =
      options.signingKeyFiles.length > 0
        ? await Promise.all(options.signingKeyFiles.map(readSigningKey))
        : [await readOrCreateKey(options.generatedKeyFile)];
    const keys: Key[] = [];
    for (const privateKey of privateKeys) {
      const publicKey = createPublicKey(privateKey);
      const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
      const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK, 'sha256');
      if (keys.some((k) => k.kid === kid)) continue; // the same key listed twice
      keys.push({ kid, publicKey, jwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' } });
    }
    return new TokenKeys(privateKeys[0]!, keys);
  }

  /** The RFC 7638 thumbprint of the signing key, the `kid` of every token issued now. */
  get kid(): string {
    return this.#keys[0]!.kid;
  }

  /** An access token: header {alg: ES256, typ: JWT, kid}; claims iss, sub, aud, iat, nbf, exp, jti, access, ast. */
  async sign(claims: Subject & { access: ResourceAccess[]; ttlSeconds: number }): Promise<IssuedToken> {
    const ttl = Math.max(MIN_TTL_SECONDS, Math.floor(claims.ttlSeconds) || 0);
    const now = Math.floor(Date.now() / 1000);
    const token = await this.#jwt(ACCESS_TYP, { access: claims.access, ast: claims.ast }, claims, now, ttl);
    return { token, expiresIn: ttl, issuedAt: new Date(now * 1000).toISOString() };
  }

  /** A refresh token: a JWT with header typ `rt+jwt` (24 h by default) carrying subject and ast, no access. */
  signRefresh(claims: Subject & { ttlSeconds?: number }): Promise<string> {
    const ttl = Math.max(MIN_TTL_SECONDS, Math.floor(claims.ttlSeconds ?? REFRESH_TTL_SECONDS) || 0);
    return this.#jwt(REFRESH_TYP, { ast: claims.ast }, claims, Math.floor(Date.now() / 1000), ttl);
  }

  /** Verifies one of our access tokens; TokenError('expired') past exp (+60 s), ('invalid') for anything else. */
  async verify(token: string, expected: Expected): Promise<VerifiedToken> {
    const payload = await this.#verify(token, ACCESS_TYP, expected);
    return {
      subject: payload.sub!,
      access: normalizeAccess(payload.access),
      ...(payload.ast ? { ast: payload.ast } : {}),
      expiresAt: new Date(payload.exp! * 1000),
      issuer: payload.iss!,
    };
  }

  async verifyRefresh(token: string, expected: Expected): Promise<{ subject: string; ast: TokenAst }> {
    const payload = await this.#verify(token, REFRESH_TYP, expected);
    if (!payload.ast) throw new TokenError('invalid', 'refresh token without an ast claim');
    return { subject: payload.sub!, ast: payload.ast };
  }

  /** The public keys as a JWKS, for /auth/jwks.json (or a distribution `jwks` file). */
  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: this.#keys.map((k) => ({ ...k.jwk })) };
  }

  #jwt(
    typ: string,
    payload: Record<string, unknown>,
    claims: Subject,
    now: number,
    ttl: number,
  ): Promise<string> {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', typ, kid: this.kid })
      .setIssuer(claims.issuer)
      .setSubject(claims.subject)
      .setAudience(claims.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.#signingKey);
  }

  async #verify(token: string, typ: string, expected: Expected): Promise<JWTPayload & { ast?: TokenAst }> {
    const getKey: JWTVerifyGetKey = (header) => {
      const key = header.kid === undefined ? undefined : this.#byKid.get(header.kid);
      if (!key) throw new errors.JWKSNoMatchingKey('no trusted key for this kid');
      return key;
    };
    const payload = await verifyJwt(token, getKey, {
      algorithms: ['ES256'],
      issuer: expected.issuer,
      audience: expected.audience,
      typ,
      requiredClaims: ['sub', 'exp'],
    });
    if (typeof payload.sub !== 'string') throw new TokenError('invalid', 'token sub is not a string');
    const ast = parseAst(payload.ast);
    if (payload.ast !== undefined && !ast) throw new TokenError('invalid', 'token ast claim is malformed');
    return { ...payload, ast };
  }
}

export class ExternalIssuer {
  readonly #getKey: JWTVerifyGetKey;
  readonly #options: JWTVerifyOptions;

  private constructor(getKey: JWTVerifyGetKey, options: JWTVerifyOptions) {
    this.#getKey = getKey;
    this.#options = options;
  }

  /**
   * Trusts another issuer's tokens: keys from its JWKS URL (https, or http on a loopback host; fetched
   * and cached by jose) or from a local file (JWKS or single JWK JSON, PEM public key or certificate).
   * `algorithms` defaults to ES256, RS256, EdDSA and may hold only asymmetric algorithms.
   */
  static async create(options: {
    issuer: string;
    audience: string;
    jwksUrl?: string;
    keyFile?: string;
    algorithms?: string[];
  }): Promise<ExternalIssuer> {
    const where = 'external issuer';
    for (const field of ['issuer', 'audience'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '')
        throw new Error(`${where}: ${field} is required`);
    }
    const algorithms = options.algorithms ?? ['ES256', 'RS256', 'EdDSA'];
    if (!Array.isArray(algorithms) || algorithms.length === 0) {
      throw new Error(`${where}: algorithms must list at least one algorithm`);
    }
    for (const alg of algorithms) {
      if (!ASYMMETRIC_ALGORITHMS.has(alg)) {
        const why = /^HS/i.test(alg) ? 'HMAC would let anyone holding the verification key mint tokens' : '';
        throw new Error(
          `${where}: algorithm ${JSON.stringify(alg)} is not accepted${why ? ` (${why})` : ''}; ` +
            `use ${[...ASYMMETRIC_ALGORITHMS].join(', ')}`,
        );
      }
    }
    if ((options.jwksUrl === undefined) === (options.keyFile === undefined)) {
      throw new Error(`${where}: give exactly one of jwksUrl and keyFile`);
    }
    const getKey =
      options.jwksUrl !== undefined ? remoteKeys(options.jwksUrl) : await fileKeys(options.keyFile!);
    return new ExternalIssuer(getKey, {
      algorithms,
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: ['sub', 'exp'],
    });
  }

  /** Verifies like TokenKeys.verify (no `typ` check); the token's `access` claim is the whole grant. */
  async verify(token: string): Promise<VerifiedToken> {
    const payload = await verifyJwt(token, this.#getKey, this.#options);
    // distribution's token servers give anonymous callers `"sub": ""`; present but empty is allowed.
    if (typeof payload.sub !== 'string') throw new TokenError('invalid', 'token sub is not a string');
    return {
      subject: payload.sub,
      access: normalizeAccess(payload.access),
      expiresAt: new Date(payload.exp! * 1000),
      issuer: payload.iss!,
    };
  }
}

/** jose's jwtVerify with our clock tolerance, its errors mapped to TokenError. */
async function verifyJwt(
  token: string,
  key: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  if (typeof token !== 'string' || token === '') throw new TokenError('invalid', 'empty token');
  try {
    const { payload } = await jwtVerify(token, key, { ...options, clockTolerance: CLOCK_TOLERANCE_SECONDS });
    return payload;
  } catch (error) {
    if (error instanceof TokenError) throw error;
    // jose checks claims only after the signature, so `expired` is never said of a forged token.
    if (error instanceof errors.JWTExpired)
      throw new TokenError('expired', 'token expired', { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    throw new TokenError('invalid', `invalid token: ${message}`, { cause: error });
  }
}

function parseAst(value: unknown): TokenAst | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, via, tid } = value as Record<string, unknown>;
  if (typeof kind !== 'string') return undefined;
  if (via !== undefined && typeof via !== 'string') return undefined;
  if (tid !== undefined && typeof tid !== 'string') return undefined;
  return { kind, ...(via !== undefined ? { via } : {}), ...(tid !== undefined ? { tid } : {}) };
}

/** `fn()`, or an Error saying `${what} (${the error's message})`; `what` names the file. */
async function orFail<T>(fn: () => T | Promise<T>, what: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw new Error(`${what} (${(error as Error).message})`, { cause: error });
  }
}

async function readSigningKey(file: string): Promise<KeyObject> {
  return parseSigningKey(
    file,
    await orFail(() => readFile(file, 'utf8'), `token signing key ${file}: cannot read it`),
  );
}

async function parseSigningKey(file: string, pem: string): Promise<KeyObject> {
  const key = await orFail(() => createPrivateKey(pem), `token signing key ${file}: not a PEM private key`);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType;
    throw new Error(
      `token signing key ${file}: key type ${kind}, not EC P-256 (ES256); create one with ` +
        `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${file}`,
    );
  }
  return key;
}

/** Reads the generated key, or creates it (once, durably: see createOnce). */
async function readOrCreateKey(file: string): Promise<KeyObject> {
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`token signing key ${file}: cannot read it (${error.message})`, { cause: error });
  });
  if (existing !== undefined) return parseSigningKey(file, existing);
  const pem = await orFail(
    () =>
      createOnce(file, () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
      ),
    `token signing key ${file}: cannot create it`,
  );
  // Another process may have created it first: its key is the one in the file.
  return parseSigningKey(file, pem.toString('utf8'));
}

function remoteKeys(jwksUrl: string): JWTVerifyGetKey {
  let url: URL;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new Error(`external issuer: jwksUrl ${JSON.stringify(jwksUrl)} is not a URL`);
  }
  // Keys fetched over plain HTTP could be swapped by anyone on the path; only loopback is exempt.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`external issuer: jwksUrl ${jwksUrl} must be https (http only on a loopback host)`);
  }
  return createRemoteJWKSet(url);
}

async function fileKeys(file: string): Promise<JWTVerifyGetKey> {
  const where = `external issuer key file ${file}`;
  const text = (await orFail(() => readFile(file, 'utf8'), `${where}: cannot read it`)).trim();
  if (text.startsWith('{')) {
    const json: { keys?: unknown; kty?: unknown } = await orFail(
      () => JSON.parse(text),
      `${where}: not JSON`,
    );
    const keys = Array.isArray(json.keys) ? json.keys : json.kty !== undefined ? [json] : [];
    if (keys.length === 0) throw new Error(`${where}: neither a JWKS ({"keys": [...]}) nor a JWK`);
    for (const key of keys as Record<string, unknown>[]) {
      if (typeof key?.kty !== 'string') throw new Error(`${where}: a key without kty`);
      if (key.kty === 'oct') throw new Error(`${where}: symmetric (oct) keys are not accepted`);
      if ('d' in key) throw new Error(`${where}: holds a private key; give only the public key`);
    }
    return createLocalJWKSet({ keys: keys as JWK[] });
  }
  if (!/^-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(text)) {
    throw new Error(`${where}: expected a JWKS, a JWK, or a PEM public key or certificate`);
  }
  const key = await orFail(() => createPublicKey(text), `${where}: not a usable public key`);
  return () => key;
}
