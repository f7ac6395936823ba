// Tokens we issue (round trip, expiry, refusals, key rotation, the generated key file, the kid) and
// tokens of an external issuer, from a key file and from a JWKS URL served here on loopback.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalIssuer, TokenError, TokenKeys } from '../../src/auth/jwt.js';

const ISSUER = 'artifact-store';
const AUDIENCE = 'registry.test';
const expected = { issuer: ISSUER, audience: AUDIENCE };
const access = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];
const ast = { kind: 'user', via: 'basic' };
let dir: string;
let keyA: string;
let keyB: string;

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jwt-test-'));
  keyA = join(dir, 'a.pem');
  keyB = join(dir, 'b.pem');
  await writeFile(keyA, pem(ecKey()));
  // SEC1 ("EC PRIVATE KEY", as openssl ecparam -genkey writes) is accepted too
  await writeFile(keyB, ecKey().export({ type: 'sec1', format: 'pem' }) as string);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenError);
  return (error as TokenError).reason;
}

describe('TokenKeys', () => {
  it('round-trips access, subject and ast', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: join(dir, 'unused.pem') });
    const issued = await keys.sign({ ...expected, subject: 'alice', access, ast, ttlSeconds: 300 });
    expect(issued.expiresIn).toBe(300);
    expect(Date.parse(issued.issuedAt)).toBeGreaterThan(Date.now() - 5000);
    const verified = await keys.verify(issued.token, expected);
    expect(verified).toEqual({
      subject: 'alice',
      access,
      ast,
      expiresAt: new Date(Date.parse(issued.issuedAt) + 300_000),
      issuer: ISSUER,
    });
    const header = decodeProtectedHeader(issued.token);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: keys.kid });
    const claims = decodeJwt(issued.token);
    expect(Object.keys(claims).sort()).toEqual(
      ['access', 'ast', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub'].sort(),
    );
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.nbf).toBe(claims.iat);
    // every token has its own jti
    const again = await keys.sign({ ...expected, subject: 'alice', access, ast, ttlSeconds: 300 });
    expect(decodeJwt(again.token).jti).not.toBe(claims.jti);
  });

  it('raises a TTL below 60 s to 60 s', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    const issued = await keys.sign({ ...expected, subject: 'a', access: [], ast, ttlSeconds: 5 });
    expect(issued.expiresIn).toBe(60);
    const claims = decodeJwt(issued.token);
    expect(claims.exp! - claims.iat!).toBe(60);
  });

  it('uses the RFC 7638 thumbprint of the public key as kid, and publishes it in the JWKS', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA, keyB], generatedKeyFile: '' });
    const publicJwk = await exportJWK(createPublicKey(createPrivateKey(await readFile(keyA, 'utf8'))));
    expect(keys.kid).toBe(await calculateJwkThumbprint(publicJwk, 'sha256'));
    const { keys: published } = keys.jwks();
    expect(published).toHaveLength(2);
    expect(published[0]).toEqual({ ...publicJwk, kid: keys.kid, alg: 'ES256', use: 'sig' });
    for (const jwk of published) {
      expect(jwk.d).toBeUndefined();
      expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk as JWK, 'sha256'));
    }
  });

  it('verifies with every listed key (rotation) and refuses a key no longer listed', async () => {
    const oldFirst = await TokenKeys.load({ signingKeyFiles: [keyB, keyA], generatedKeyFile: '' });
    const signedByB = (await oldFirst.sign({ ...expected, subject: 'a', access, ast, ttlSeconds: 300 }))
      .token;
    const rotated = await TokenKeys.load({ signingKeyFiles: [keyA, keyB], generatedKeyFile: '' });
    expect((await rotated.verify(signedByB, expected)).subject).toBe('a');
    const dropped = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    expect(await reason(dropped.verify(signedByB, expected))).toBe('invalid');
  });

  it('reports expired tokens as expired, only past the 60 s tolerance', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    const now = Math.floor(Date.now() / 1000);
    const signer = createPrivateKey(await readFile(keyA, 'utf8'));
    const token = (exp: number) =>
      new SignJWT({ access, ast })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keys.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('alice')
        .setIssuedAt(now - 600)
        .setExpirationTime(exp)
        .sign(signer);
    expect(await reason(keys.verify(await token(now - 120), expected))).toBe('expired');
    expect((await keys.verify(await token(now - 30), expected)).subject).toBe('alice');
  });

  it('refuses wrong audience or issuer, a tampered signature or payload, alg none and HS256', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    const { token } = await keys.sign({ ...expected, subject: 'alice', access, ast, ttlSeconds: 300 });
    expect(await reason(keys.verify(token, { issuer: ISSUER, audience: 'other' }))).toBe('invalid');
    expect(await reason(keys.verify(token, { issuer: 'other', audience: AUDIENCE }))).toBe('invalid');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await reason(keys.verify(`${header}.${payload}.${flipped}`, expected))).toBe('invalid');
    const wider = Buffer.from(
      JSON.stringify({ ...decodeJwt(token), access: [{ type: 'repository', name: '*', actions: ['*'] }] }),
    ).toString('base64url');
    expect(await reason(keys.verify(`${header}.${wider}.${signature}`, expected))).toBe('invalid');
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: keys.kid })}.${payload}.`;
    expect(await reason(keys.verify(none, expected))).toBe('invalid');
    // HS256 keyed with the public key's bytes: the classic algorithm-confusion attack
    const hs = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keys.kid })
      .sign(new TextEncoder().encode(JSON.stringify(keys.jwks().keys[0])));
    expect(await reason(keys.verify(hs, expected))).toBe('invalid');
    expect(await reason(keys.verify('', expected))).toBe('invalid');
    expect(await reason(keys.verify('not.a.jwt', expected))).toBe('invalid');
  });

  it('keeps refresh and access tokens apart', async () => {
    const keys = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    const refresh = await keys.signRefresh({
      ...expected,
      subject: 'alice',
      ast: { kind: 'user', tid: 't1' },
    });
    expect(decodeProtectedHeader(refresh).typ).toBe('rt+jwt');
    const claims = decodeJwt(refresh);
    expect(claims.access).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBe(24 * 3600);
    expect(await keys.verifyRefresh(refresh, expected)).toEqual({
      subject: 'alice',
      ast: { kind: 'user', tid: 't1' },
    });
    expect(await reason(keys.verify(refresh, expected))).toBe('invalid');
    const { token } = await keys.sign({ ...expected, subject: 'alice', access, ast, ttlSeconds: 300 });
    expect(await reason(keys.verifyRefresh(token, expected))).toBe('invalid');
    expect(await reason(keys.verifyRefresh(refresh, { ...expected, audience: 'other' }))).toBe('invalid');
  });

  it('creates the generated key file with mode 0600 and reuses it', async () => {
    const generatedKeyFile = join(dir, 'generated', 'token-key.pem');
    const first = await TokenKeys.load({ signingKeyFiles: [], generatedKeyFile });
    expect((await stat(generatedKeyFile)).mode & 0o777).toBe(0o600);
    const second = await TokenKeys.load({ signingKeyFiles: [], generatedKeyFile });
    expect(second.kid).toBe(first.kid);
    const { token } = await first.sign({ ...expected, subject: 'a', access, ast, ttlSeconds: 60 });
    expect((await second.verify(token, expected)).subject).toBe('a');
    // parallel first starts agree on one key
    const racedFile = join(dir, 'raced.pem');
    const raced = await Promise.all(
      Array.from({ length: 4 }, () => TokenKeys.load({ signingKeyFiles: [], generatedKeyFile: racedFile })),
    );
    expect(new Set(raced.map((k) => k.kid)).size).toBe(1);
  });

  it('names the file when a key is missing, not PEM, RSA or another curve', async () => {
    const rsa = join(dir, 'rsa.pem');
    await writeFile(rsa, pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
    const p384 = join(dir, 'p384.pem');
    await writeFile(p384, pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey));
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'hello');
    const load = (file: string) => TokenKeys.load({ signingKeyFiles: [keyA, file], generatedKeyFile: '' });
    await expect(load(join(dir, 'missing.pem'))).rejects.toThrow(/missing\.pem: cannot read it/);
    await expect(load(junk)).rejects.toThrow(/junk\.pem: not a PEM private key/);
    await expect(load(rsa)).rejects.toThrow(/rsa\.pem: key type rsa, not EC P-256/);
    await expect(load(p384)).rejects.toThrow(/p384\.pem: key type secp384r1, not EC P-256/);
    await writeFile(join(dir, 'bad-generated.pem'), 'hello');
    await expect(
      TokenKeys.load({ signingKeyFiles: [], generatedKeyFile: join(dir, 'bad-generated.pem') }),
    ).rejects.toThrow(/bad-generated\.pem: not a PEM private key/);
  });
});

describe('ExternalIssuer', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ext = { issuer: 'https://auth.example.org', audience: AUDIENCE };
  const externalToken = (claims: Record<string, unknown>, options: { exp?: number; kid?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', ...(options.kid ? { kid: options.kid } : {}) })
      .setIssuer(ext.issuer)
      .setAudience(ext.audience)
      .setSubject('robot')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(rsa.privateKey);

  it('trusts a PEM public key file; access is the whole grant, garbage dropped', async () => {
    const keyFile = join(dir, 'ext.pub.pem');
    await writeFile(keyFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const issuer = await ExternalIssuer.create({ ...ext, keyFile });
    const token = await externalToken({
      access: [{ type: 'repository', name: 'x', actions: ['pull', 3] }, { type: 'repository' }, 'junk'],
    });
    const verified = await issuer.verify(token);
    expect(verified.subject).toBe('robot');
    expect(verified.issuer).toBe(ext.issuer);
    expect(verified.access).toEqual([{ type: 'repository', name: 'x', actions: ['pull'] }]);
    expect(verified.ast).toBeUndefined();
    expect((await issuer.verify(await externalToken({}))).access).toEqual([]);
    const past = Math.floor(Date.now() / 1000) - 120;
    expect(await reason(issuer.verify(await externalToken({}, { exp: past })))).toBe('expired');
    // our own ES256 token is not this issuer's
    const ours = await TokenKeys.load({ signingKeyFiles: [keyA], generatedKeyFile: '' });
    const { token: own } = await ours.sign({ ...ext, subject: 'a', access, ast, ttlSeconds: 60 });
    expect(await reason(issuer.verify(own))).toBe('invalid');
  });

  it('refuses an algorithm not in its list', async () => {
    const keyFile = join(dir, 'ext2.pub.pem');
    await writeFile(keyFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const issuer = await ExternalIssuer.create({ ...ext, keyFile, algorithms: ['ES256'] });
    expect(await reason(issuer.verify(await externalToken({})))).toBe('invalid');
  });

  describe('with a JWKS URL', () => {
    let server: Server;
    let url: string;
    let fetches = 0;
    beforeAll(async () => {
      const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      server = createServer((_req, res) => {
        fetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('fetches the keys once and verifies tokens by kid', async () => {
      const issuer = await ExternalIssuer.create({ ...ext, jwksUrl: url });
      const claims = { access: [{ type: 'repository', name: 'x', actions: ['push'] }] };
      expect((await issuer.verify(await externalToken(claims, { kid: 'k1' }))).access).toEqual(claims.access);
      expect((await issuer.verify(await externalToken(claims, { kid: 'k1' }))).subject).toBe('robot');
      expect(fetches).toBe(1);
      expect(await reason(issuer.verify(await externalToken(claims, { kid: 'k2' })))).toBe('invalid');
    });
  });

  it('validates its options', async () => {
    const keyFile = join(dir, 'ext3.pub.pem');
    await writeFile(keyFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    await expect(ExternalIssuer.create({ ...ext, keyFile, algorithms: ['HS256'] })).rejects.toThrow(
      /HS256.*HMAC/,
    );
    await expect(ExternalIssuer.create({ ...ext, keyFile, algorithms: ['none'] })).rejects.toThrow(/"none"/);
    await expect(ExternalIssuer.create({ ...ext, keyFile, algorithms: [] })).rejects.toThrow(/at least one/);
    await expect(ExternalIssuer.create({ ...ext })).rejects.toThrow(/exactly one of jwksUrl and keyFile/);
    await expect(ExternalIssuer.create({ ...ext, keyFile, jwksUrl: 'https://a/j' })).rejects.toThrow(
      /exactly one/,
    );
    await expect(ExternalIssuer.create({ ...ext, jwksUrl: 'http://auth.example.org/jwks' })).rejects.toThrow(
      /must be https/,
    );
    await expect(ExternalIssuer.create({ ...ext, jwksUrl: 'not a url' })).rejects.toThrow(/not a URL/);
    await expect(ExternalIssuer.create({ ...ext, issuer: '', keyFile })).rejects.toThrow(
      /issuer is required/,
    );
    await expect(ExternalIssuer.create({ ...ext, audience: '', keyFile })).rejects.toThrow(
      /audience is required/,
    );
    const secret = join(dir, 'oct.json');
    await writeFile(secret, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    await expect(ExternalIssuer.create({ ...ext, keyFile: secret })).rejects.toThrow(/symmetric/);
    const priv = join(dir, 'priv.pem');
    await writeFile(priv, pem(rsa.privateKey));
    await expect(ExternalIssuer.create({ ...ext, keyFile: priv })).rejects.toThrow(/PEM public key/);
    await expect(ExternalIssuer.create({ ...ext, keyFile: join(dir, 'none.pem') })).rejects.toThrow(
      /none\.pem: cannot read it/,
    );
  });

  it('accepts a local JWKS file', async () => {
    const keyFile = join(dir, 'ext.jwks.json');
    await writeFile(keyFile, JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'k1' }] }));
    const issuer = await ExternalIssuer.create({ ...ext, keyFile });
    expect((await issuer.verify(await externalToken({}, { kid: 'k1' }))).subject).toBe('robot');
  });
});
