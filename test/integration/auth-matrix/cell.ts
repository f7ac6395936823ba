// Running one cell of the matrix (a row × a column): the answer the model expects, the request sent
// with the column's credentials, and every way the answer or the event log may differ from it.
import { type Challenged, type Expected, gate, needScopes } from './model.js';
import { type Column, SERVICE } from './principals.js';
import type { Row } from './row.js';
import { authorizationFor, eventsAfter, headSeq, S } from './world.js';

function expectedOf(row: Row, col: Column, scopes: string[]): Expected {
  const gated = gate(row.need, col, scopes);
  if (gated !== 'through') return gated;
  const refused = row.after?.(col, scopes);
  if (refused) return refused;
  return { status: typeof row.ok === 'function' ? row.ok(col, scopes) : row.ok, refused: false };
}

function expectedChallenge(row: Row, e: Challenged, realm: string): string | RegExp {
  if (row.api !== 'v2') return /^Basic realm="[^"]+"/;
  let header = `Bearer realm="${realm}",service="${SERVICE}"`;
  if (e.scopes.length > 0) header += `,scope="${e.scopes.join(' ')}"`;
  if (e.challenge === 'invalid') header += ',error="invalid_token"';
  if (e.challenge === 'insufficient') header += ',error="insufficient_scope"';
  return header;
}

/** The error code of a refusal: /v2/ and the token service answer in the OCI form, /api/v1 natively. */
function errorCodeOf(row: Row, body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errors?: { code: string }[]; error?: { code: string } };
    return row.api === 'native' ? parsed.error?.code : parsed.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

export async function runCell(row: Row, col: Column, problems: string[]): Promise<number> {
  const scopes = row.scopes ?? needScopes(row.need);
  const expected = expectedOf(row, col, scopes);
  const prep = row.prepare ? await row.prepare(col) : {};
  const authorization = await authorizationFor(col, scopes);
  const req = row.request(col, prep);
  const before = await headSeq();
  const headers = new Headers(req.headers);
  if (authorization) headers.set('Authorization', authorization);
  const res = await S.r.fetch(req.path, { method: req.method, headers, body: req.body });
  let body = '';
  // The stream's body never ends: only a refusal's is read.
  if (row.stream && res.status === 200) await res.body?.cancel();
  else body = await res.text();
  // HEAD answers carry no body to read a code from.
  const codeOf = () => (req.method === 'HEAD' ? undefined : errorCodeOf(row, body));
  const after = await headSeq();
  const where = `${row.name} × ${col.label}: ${req.method} ${req.path}`;
  const fail = (what: string) => problems.push(`${where} → ${res.status} ${body.slice(0, 200)}: ${what}`);

  if (res.status !== expected.status) {
    fail(`expected ${expected.status}${expected.refused ? ' (refused)' : ''}`);
    return res.status;
  }
  if (expected.refused) {
    if (after !== before) fail(`refused, but the event head moved ${before} → ${after}`);
    if (expected.status === 401) {
      const want = expectedChallenge(row, expected as Challenged, `${S.r.url}/auth/token`);
      const got = res.headers.get('www-authenticate') ?? '';
      if (typeof want === 'string' ? got !== want : !want.test(got))
        fail(`WWW-Authenticate ${JSON.stringify(got)}, expected ${want}`);
      const code = codeOf();
      const wantCode = row.api === 'native' ? 'unauthenticated' : 'UNAUTHORIZED';
      if (req.method !== 'HEAD' && code !== wantCode) fail(`code ${code}, expected ${wantCode}`);
    } else if (expected.status === 403) {
      const code = codeOf();
      const wantCode = row.api === 'native' ? 'denied' : 'DENIED';
      if (req.method !== 'HEAD' && code !== wantCode) fail(`code ${code}, expected ${wantCode}`);
    } else if ('code' in expected && req.method !== 'HEAD') {
      const code = codeOf();
      if (code !== expected.code) fail(`code ${code}, expected ${expected.code}`);
    }
    return res.status;
  }
  // Allowed.
  if ((req.method === 'GET' || req.method === 'HEAD') && after !== before)
    fail(`a read moved the event head ${before} → ${after}`);
  const problem = row.check?.(col, body, res, scopes);
  if (problem) fail(problem);
  if (after > before) {
    const via = col.kind === 'basic' ? 'basic' : 'bearer';
    for (const event of await eventsAfter(before)) {
      if (event.seq > after) break;
      const actor = event.payload.actor;
      if (actor?.kind !== 'user' || actor.name !== col.user || actor.via !== via)
        fail(`event ${event.seq} ${event.type} has actor ${JSON.stringify(actor)}`);
    }
  }
  return res.status;
}
