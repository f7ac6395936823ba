// Malformed HTTP over raw sockets: a random broken exchange, then a health check that the registry
// still answers.
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { BLOBS } from './fixtures.js';
import { errorBodyProblem } from './oracle.js';
import { parseResponses, sendRaw } from './raw-socket.js';
import { describeResponse, type Exchange } from './report.js';
import { bump, type Planned, type Run, sessionBusy, sessionIdle } from './run.js';

interface RawCase {
  label: string;
  parts: Buffer[];
  halfClose?: boolean;
  /** The upload session the bytes address, if any. */
  session?: string;
}

function rawCase(run: Run, rng: Rng, port: number): RawCase {
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const b = (s: string) => Buffer.from(s, 'latin1');
  const slot = run.sessions.find((s) => s !== undefined);
  const uploadPath = slot ? `/v2/${slot.repo}/blobs/uploads/${slot.id}` : '/v2/fuzz/a/blobs/uploads/';
  const kind = rng.pick([
    'bad-request-line',
    'connect-authority',
    'connect-origin',
    'bad-header-char',
    'http09',
    'huge-header',
    'many-headers',
    'huge-request-line',
    'bare-lf',
    'pipelined-garbage',
    'short-body-close',
    'long-body',
    'bad-content-length',
    'cl-and-te',
    'bad-chunked',
    'upgrade',
    'h2-preface',
    'odd-host',
    'expect',
    'asterisk',
    'absolute-form',
    'raw-bytes-in-path',
    'lone-cr',
    'slow-headers',
    'obs-fold',
  ]);
  const garbage = rng
    .bytes(rng.int(8, 64))
    .toString('latin1')
    .replace(/[\r\n]/g, '');
  const parts = ((): string[] => {
    switch (kind) {
      case 'bad-request-line':
        return [
          rng.pick([
            'GARBAGE\r\n\r\n',
            'GET\r\n\r\n',
            ' / HTTP/1.1\r\n\r\n',
            `GET /v2/ HTTP/1.1 extra\r\n${host}\r\n`,
            `GET /v2/ HTTP/9.9\r\n${host}\r\n`,
            `get /v2/ HTTP/1.1\r\n${host}\r\n`,
            `${garbage}\r\n\r\n`,
          ]),
        ];
      case 'connect-authority':
        return ['CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'];
      case 'connect-origin':
        return [`CONNECT /v2/ HTTP/1.1\r\n${host}\r\n`];
      case 'bad-header-char':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}${rng.pick(['X A: b', 'X\u0001: b', 'X: a\u0000b', 'X: a\u0007b', ': novalue', 'X-Only', 'X(): b'])}\r\n\r\n`,
        ];
      case 'http09':
        return [rng.pick(['GET /v2/\r\n', 'GET /v2/tags/list\r\n'])];
      case 'huge-header':
        return [`GET /v2/ HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(rng.pick([20_000, 100_000]))}\r\n\r\n`];
      case 'many-headers':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}${Array.from({ length: 3000 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\n\r\n`,
        ];
      case 'huge-request-line':
        return [`GET /v2/${'a/'.repeat(50_000)}tags/list HTTP/1.1\r\n${host}\r\n`];
      case 'bare-lf':
        return [rng.pick(['GET /v2/ HTTP/1.1\nHost: x\n\n', `GET /v2/ HTTP/1.1\r\n${host}X: y\n\r\n`])];
      case 'pipelined-garbage':
        return [
          rng.pick([
            `GET /v2/ HTTP/1.1\r\n${host}\r\n${garbage}\r\n\r\n`,
            `GET /v2/ HTTP/1.1\r\n${host}\r\nGET /v2/_catalog HTTP/1.1\r\n${host}\r\nGARBAGE GARBAGE\r\n\r\n`,
            `HEAD /v2/ HTTP/1.1\r\n${host}\r\n\u0000\u0001\u0002\r\n\r\n`,
          ]),
        ];
      case 'short-body-close': {
        const target = rng.pick([
          `PATCH ${uploadPath}`,
          'PUT /v2/fuzz/a/manifests/latest',
          `POST /v2/fuzz/a/blobs/uploads/?digest=${digestOf(BLOBS[6]!)}`,
          `PUT ${uploadPath}?digest=${digestOf(BLOBS[7]!)}`,
        ]);
        return [`${target} HTTP/1.1\r\n${host}Content-Length: 1000\r\n\r\n`, 'only-a-little'];
      }
      case 'long-body':
        return [
          `${rng.pick([`PATCH ${uploadPath}`, 'PUT /v2/fuzz/a/manifests/v1', 'GET /v2/'])} HTTP/1.1\r\n${host}Content-Length: 3\r\n\r\n`,
          `abc${garbage}\r\n\r\n`,
        ];
      case 'bad-content-length':
        return [
          `POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1\r\n${host}${rng.pick(['Content-Length: -1', 'Content-Length: abc', 'Content-Length: 1, 2', 'Content-Length: 3\r\nContent-Length: 4', 'Content-Length: 99999999999999999999999'])}\r\n\r\nabcd`,
        ];
      case 'cl-and-te':
        return [
          `PATCH ${uploadPath} HTTP/1.1\r\n${host}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
        ];
      case 'bad-chunked':
        return [
          `PATCH ${uploadPath} HTTP/1.1\r\n${host}Transfer-Encoding: ${rng.pick(['chunked', 'gzip', 'chunked, gzip', 'identity'])}\r\n\r\n`,
          rng.pick([
            'zz\r\nabc\r\n0\r\n\r\n',
            '3\r\nabcdef\r\n0\r\n\r\n',
            '3;ext="x\r\nabc\r\n0\r\n\r\n',
            'ffffffffffffffff\r\nabc',
          ]),
        ];
      case 'upgrade':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: ${rng.pick(['websocket', 'h2c', 'garbage'])}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ];
      case 'h2-preface':
        return ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'];
      case 'odd-host':
        return [
          `GET /v2/ HTTP/1.1\r\n${rng.pick(['', 'Host: a b\r\n', 'Host: 127.0.0.1:99999\r\n', 'Host:\r\n', 'Host: [::1\r\n', 'Host: x\r\nHost: y\r\n', 'Host: a/b\r\n'])}\r\n`,
        ];
      case 'expect':
        return [
          `PUT /v2/fuzz/a/manifests/v1 HTTP/1.1\r\n${host}Expect: ${rng.pick(['bogus', '100-continue-x', '200-ok'])}\r\nContent-Length: 2\r\n\r\n{}`,
        ];
      case 'asterisk':
        return [`${rng.pick(['OPTIONS', 'GET'])} * HTTP/1.1\r\n${host}\r\n`];
      case 'absolute-form':
        return [
          `GET ${rng.pick([`http://127.0.0.1:${port}/v2/`, `http://127.0.0.1:${port}/v2/fuzz/../t/alpha/tags/list`, `http://localhost:${port}/v2/`, `https://127.0.0.1:${port}/v2/`, 'ftp://127.0.0.1/v2/'])} HTTP/1.1\r\n${host}\r\n`,
        ];
      case 'raw-bytes-in-path':
        return [
          `GET /v2/fuzz/${rng.pick(['\u00e9', '\u00ff', '\u0000', '\u0001', '\u007f', ' x'])}/tags/list HTTP/1.1\r\n${host}\r\n`,
        ];
      case 'lone-cr':
        return ['GET /v2/ HTTP/1.1\rHost: x\r\r'];
      case 'slow-headers': {
        const text = `GET /v2/ HTTP/1.1\r\n${host}Connection: close\r\n\r\n`;
        return Array.from({ length: 8 }, (_, i) =>
          text.slice((i * text.length) / 8, ((i + 1) * text.length) / 8),
        );
      }
      default:
        return [`GET /v2/ HTTP/1.1\r\n${host}X-Folded: a\r\n b\r\n\r\n`];
    }
  })();
  return {
    label: `raw:${kind}`,
    parts: parts.map(b),
    session: slot && parts.some((part) => part.includes(slot.id)) ? slot.id : undefined,
    halfClose:
      ['short-body-close', 'http09', 'bad-chunked', 'bad-content-length'].includes(kind) || rng.chance(0.3),
  };
}

export async function performRaw(run: Run, rng: Rng): Promise<void> {
  const c = rawCase(run, rng, run.r.port);
  const raw = Buffer.concat(c.parts);
  const exchange: Exchange = { method: 'RAW', path: '(raw socket)', endpoint: 'raw', labels: [c.label], raw };
  // Mark the session busy, so HTTP requests overlapping this one are labelled as concurrent.
  const marker: Planned = { method: 'RAW', path: '', endpoint: 'raw', labels: [c.label] };
  if (c.session) sessionBusy(run, c.session, marker);
  const result = await sendRaw(run.r.port, c.parts, { halfClose: c.halfClose });
  if (c.session) {
    // The server may still be winding the request down after we stopped listening.
    await new Promise((resolve) => setTimeout(resolve, 200));
    sessionIdle(run, c.session, marker);
  }
  run.report.sent(exchange);
  const responses = parseResponses(result.bytes, raw.subarray(0, 5).toString('latin1') === 'HEAD ');
  const observed = `${responses.map((r) => r.status).join(',') || 'nothing'} (${result.ended}) ${JSON.stringify(
    result.bytes.subarray(0, 160).toString('latin1'),
  )}`;
  bump(run, `raw ${responses[0]?.status ?? 'none'}`);
  if (responses.length === 0) {
    run.report.add(
      result.ended === 'cap'
        ? 'raw: no answer at all (connection left open)'
        : 'raw: closed without writing a status line',
      exchange,
      observed,
    );
  }
  for (const res of responses) {
    if (res.status >= 500) run.report.add(`raw: ${res.status}`, exchange, observed);
    if (!res.complete) run.report.add('raw: incomplete response', exchange, observed);
    // Answers written by the registry itself (not Node's parser) must carry OCI error bodies.
    if (
      res.status >= 400 &&
      res.status < 500 &&
      res.headers['docker-distribution-api-version'] &&
      res.body.byteLength > 0
    ) {
      const problem = errorBodyProblem(res.headers, res.body);
      if (problem)
        run.report.add(`raw: ${res.status} without an OCI error body (${problem})`, exchange, observed);
    }
  }
  // Still healthy afterwards?
  const health = await run.client.send({
    method: 'GET',
    path: '/v2/',
    endpoint: 'health-after-raw',
    labels: [c.label],
  });
  const hx: Exchange = { method: 'GET', path: '/v2/', endpoint: 'health-after-raw', labels: [c.label] };
  run.report.sent(hx);
  if (health.status !== 200 || health.failure) {
    run.report.add(
      'unhealthy after a raw-socket request',
      hx,
      describeResponse(health.status, health.body, health.failure),
    );
  }
}
