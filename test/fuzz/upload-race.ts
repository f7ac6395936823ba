// Upload races: several requests at one fresh upload session at once, then a byte-exact read of
// what the registry serves under the digests the race may have completed.
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { RACE } from './fixtures.js';
import { judge } from './judge.js';
import { parseResponses, sendRaw } from './raw-socket.js';
import { type Exchange, preview } from './report.js';
import { locationOf, type Planned, perform, type Run } from './run.js';

/** Fires several requests at one fresh upload session at the same time (completion, cancel, append). */
export async function uploadRace(run: Run, rng: Rng): Promise<void> {
  const repo = rng.pick(RACE);
  const post = await perform(run, {
    method: 'POST',
    path: `/v2/${repo}/blobs/uploads/`,
    endpoint: 'uploads',
    labels: ['race:setup'],
  });
  const location = locationOf(post, `/v2/${repo}/blobs/uploads/${rng.uuid()}`);
  const first = Buffer.from('abc');
  await perform(run, {
    method: 'PATCH',
    path: location,
    body: first,
    headers: { 'Content-Range': '0-2' },
    endpoint: 'upload',
    labels: ['race:setup'],
  });
  const moves: Record<string, () => Planned> = {
    'put-empty': () => ({
      method: 'PUT',
      path: `${location}?digest=${digestOf(first)}`,
      endpoint: 'upload',
      labels: [],
    }),
    'put-body': () => ({
      method: 'PUT',
      path: `${location}?digest=${digestOf(Buffer.from('abcdef'))}`,
      body: Buffer.from('def'),
      endpoint: 'upload',
      labels: [],
    }),
    'put-wrong': () => ({
      method: 'PUT',
      path: `${location}?digest=sha256:${'0'.repeat(64)}`,
      endpoint: 'upload',
      labels: [],
    }),
    patch: () => ({
      method: 'PATCH',
      path: location,
      body: rng.bytes(rng.int(1, 200_000)),
      endpoint: 'upload',
      labels: [],
    }),
    'patch-range': () => ({
      method: 'PATCH',
      path: location,
      body: Buffer.from('def'),
      headers: { 'Content-Range': '3-5' },
      endpoint: 'upload',
      labels: [],
    }),
    delete: () => ({ method: 'DELETE', path: location, endpoint: 'upload', labels: [] }),
    get: () => ({ method: 'GET', path: location, endpoint: 'upload', labels: [] }),
  };
  const names = Array.from({ length: rng.int(2, 4) }, () => rng.pick(Object.keys(moves)));
  const note = `sent at the same time on one session holding 3 bytes: ${names.join(', ')}`;
  await Promise.all(
    names.map((n) => {
      const p = moves[n]!();
      p.labels.push('race', `race-move:${n}`, 'upload:concurrent');
      p.note = note;
      return perform(run, p);
    }),
  );
  // Whatever won, what the registry now serves under these digests must be exactly that content,
  // framed exactly: read over a raw socket, so bytes beyond Content-Length cannot go unnoticed.
  for (const content of ['abc', 'abcdef']) {
    const path = `/v2/${repo}/blobs/${digestOf(Buffer.from(content))}`;
    const raw = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const exchange: Exchange = {
      method: 'GET',
      path,
      endpoint: 'blob',
      labels: ['race', 'race-move:get-after'],
      note,
    };
    const result = await sendRaw(run.r.port, [raw], { idleMs: 1_000 });
    run.report.sent(exchange);
    const head = result.bytes.indexOf('\r\n\r\n');
    const [res] = parseResponses(result.bytes);
    if (!res || head === -1) {
      run.report.add(
        'incomplete exchange: no response',
        exchange,
        `${result.ended}: ${preview(result.bytes, 120)}`,
      );
      continue;
    }
    const onWire = result.bytes.byteLength - head - 4;
    if (res.headers['content-length'] !== undefined && onWire > res.body.byteLength) {
      run.report.add(
        'response carries more bytes than its Content-Length',
        exchange,
        `${res.status}, Content-Length ${res.headers['content-length']}, ${onWire} body bytes on the wire`,
      );
    }
    judge(run.report, exchange, {
      status: res.status,
      headers: res.headers,
      body: res.body,
      failure: res.complete ? undefined : 'response ended before it was complete',
    });
  }
  run.finished[rng.int(0, 15)] = { repo, id: location.slice(location.lastIndexOf('/') + 1) };
}
