// Scenario 1: shared upload sessions. Several actors race PATCH / PUT / DELETE / GET on one or two
// sessions; every answer must be a spec answer, and what the client saw must tell one story.
import { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { type RaceResponse, send } from './client.js';
import type { Judged, UploadOp } from './judge.js';
import { sleep } from './pool.js';
import { judge, KiB, MiB, pauses, type Run, uploadLocation, withDigest } from './run.js';

function contentSize(rng: Rng): number {
  switch (rng.weighted({ tiny: 10, small: 45, medium: 40, large: 5 })) {
    case 'tiny':
      return rng.int(1, 64);
    case 'small':
      return rng.int(1 * KiB, 64 * KiB);
    case 'medium':
      return rng.int(64 * KiB, 512 * KiB);
    default:
      return rng.int(1 * MiB, 2 * MiB);
  }
}

interface SessionOp {
  op: UploadOp;
  actor: number;
  sentAt: number;
  doneAt: number;
  label: string;
  success: boolean;
  detail: string;
  /** digest a PUT claimed */
  digest?: string;
}

interface SharedSession {
  repo: string;
  id: string;
  path: string;
  content: Buffer;
  /** Offsets learnt from Range headers (0 included). */
  offsets: number[];
  /** The largest offset learnt. */
  known: number;
  ops: SessionOp[];
}

/** Adds one answered request to the session's history. */
function record(
  s: SharedSession,
  res: RaceResponse,
  j: Judged,
  request: Pick<SessionOp, 'op' | 'actor' | 'detail' | 'digest'>,
): void {
  s.ops.push({ ...request, sentAt: res.sentAt, doneAt: res.doneAt, label: j.label, success: j.success });
}

function learn(s: SharedSession, offset: number | undefined): void {
  if (offset === undefined) return;
  if (!s.offsets.includes(offset)) s.offsets.push(offset);
  s.known = Math.max(s.known, Math.min(offset, s.content.byteLength));
}

async function sharedPatch(
  run: Run,
  s: SharedSession,
  rng: Rng,
  actor: number,
  where: string,
): Promise<void> {
  const mode = rng.weighted({ current: 60, stale: 12, gap: 5, streamed: 23 });
  let start = s.known;
  if (mode === 'stale') start = rng.pick(s.offsets);
  if (mode === 'gap') start = s.known + rng.int(1, 100);
  if (start >= s.content.byteLength) return sharedStatus(run, s, actor, where);
  const length = rng.int(1, Math.min(rng.pick([4 * KiB, 64 * KiB, 256 * KiB]), s.content.byteLength - start));
  let body = s.content.subarray(start, start + length);
  const short = mode !== 'streamed' && length > 1 && rng.chance(0.04);
  if (short) body = body.subarray(0, length - 1);
  const range = `${start}-${start + length - 1}`;
  const res = await send(run.r.url, {
    method: 'PATCH',
    path: s.path,
    headers: mode === 'streamed' ? {} : { 'content-range': range },
    body,
    pauses: pauses(rng, 0.35),
    chunked: rng.chance(0.25),
  });
  const detail = `${mode === 'streamed' ? `streamed ${length}B` : `Content-Range ${range}`}${short ? ' (1 byte short)' : ''}`;
  const j = judge(run, 'patch', res, `${where} ${s.id} ${detail}`);
  record(s, res, j, { op: 'patch', actor, detail });
  learn(s, j.offset);
  if (!j.success) return;
  if (short)
    run.v.add('PATCH with a body shorter than its Content-Range accepted', `${where} ${s.id} ${detail}`);
  if (mode !== 'streamed' && res.headers.range !== `0-${start + length - 1}`) {
    run.v.add(
      'PATCH 202 Range does not end where the chunk ended',
      `${where} ${s.id} ${detail} → Range ${res.headers.range}`,
    );
  }
}

async function sharedPut(run: Run, s: SharedSession, rng: Rng, actor: number, where: string): Promise<void> {
  const mode = rng.weighted({ atKnown: 40, finalChunk: 30, stale: 13, streamedFinal: 7, wrongDigest: 5 });
  const size = s.content.byteLength;
  let length = s.known;
  let body: Buffer | undefined;
  const headers: Record<string, string> = {};
  if ((mode === 'finalChunk' || mode === 'streamedFinal') && s.known < size) {
    body = s.content.subarray(s.known);
    length = size;
    if (mode === 'finalChunk') headers['content-range'] = `${s.known}-${size - 1}`;
  }
  if (mode === 'stale') length = rng.chance(0.5) ? rng.pick(s.offsets) : rng.int(0, size);
  const digest =
    mode === 'wrongDigest' ? digestOf(rng.mulberryBytes(8)) : digestOf(s.content.subarray(0, length));
  const res = await send(run.r.url, {
    method: 'PUT',
    path: withDigest(s.path, digest),
    headers,
    body,
    pauses: body ? pauses(rng, 0.3) : undefined,
    chunked: body !== undefined && rng.chance(0.2),
  });
  const detail = `${mode} digest of ${length}B${body ? ` with a ${body.byteLength}B body` : ''}`;
  const j = judge(run, 'put', res, `${where} ${s.id} ${detail}`);
  record(s, res, j, { op: 'put', actor, detail, digest });
  if (!j.success) return;
  if (mode === 'wrongDigest') run.v.add('PUT with a wrong digest answered 201', `${where} ${s.id}`);
  if (res.headers['docker-content-digest'] !== digest)
    run.v.add('PUT 201 Docker-Content-Digest differs from the digest sent', `${where} ${s.id}`);
  if (res.headers.location !== `/v2/${s.repo}/blobs/${digest}`)
    run.v.add('PUT 201 Location is not the blob', `${where} ${s.id}: ${res.headers.location}`);
  run.client.completed.add(s.id);
  if (mode !== 'wrongDigest') run.expected.push({ repository: s.repo, digest, size: length });
}

async function sharedDelete(run: Run, s: SharedSession, actor: number, where: string): Promise<void> {
  const res = await send(run.r.url, { method: 'DELETE', path: s.path });
  const j = judge(run, 'delete', res, `${where} ${s.id}`);
  record(s, res, j, { op: 'delete', actor, detail: '' });
  if (j.success) run.client.cancelled.add(s.id);
}

async function sharedStatus(run: Run, s: SharedSession, actor: number, where: string): Promise<void> {
  const res = await send(run.r.url, { method: 'GET', path: s.path });
  const j = judge(run, 'status', res, `${where} ${s.id}`);
  record(s, res, j, { op: 'status', actor, detail: '' });
  learn(s, j.offset);
}

function timeline(s: SharedSession): string {
  const t0 = Math.min(...s.ops.map((o) => o.sentAt));
  return [...s.ops]
    .sort((a, b) => a.sentAt - b.sentAt)
    .map(
      (o) =>
        `#${o.actor} ${o.op}${o.detail ? `(${o.detail})` : ''} ${Math.round(o.sentAt - t0)}–${Math.round(o.doneAt - t0)}ms → ${o.label}`,
    )
    .join(' | ');
}

/** What the client can tell about one session from the answers it got. */
async function closeSession(run: Run, s: SharedSession, where: string): Promise<void> {
  const completed = s.ops.filter((o) => o.op === 'put' && o.success);
  const cancelled = s.ops.filter((o) => o.op === 'delete' && o.success);
  if (completed.length > 0 && cancelled.length > 0) {
    run.v.add('one upload both completed (201) and cancelled (204)', `${where} ${s.id}: ${timeline(s)}`);
  }
  if (new Set(completed.map((o) => o.digest)).size > 1) {
    run.v.add('one upload completed (201) with two different digests', `${where} ${s.id}: ${timeline(s)}`);
  }
  const terminal = [...completed, ...cancelled].sort((a, b) => a.doneAt - b.doneAt)[0];
  if (terminal) {
    // Sent after the client already had the terminal answer: the session is gone (a repeated PUT
    // of the same digest may be treated as idempotent).
    const late = s.ops.filter(
      (o) =>
        o.sentAt > terminal.doneAt &&
        o.success &&
        !(o.op === 'put' && terminal.op === 'put' && o.digest === terminal.digest),
    );
    if (late.length > 0) {
      run.v.add(
        'upload answered 2xx to a request sent after it was completed or cancelled',
        `${where} ${s.id}: ${timeline(s)}`,
      );
    }
  }
  const res = await send(run.r.url, { method: 'GET', path: s.path });
  const j = judge(run, 'status', res, `${where} ${s.id} (final status)`);
  if (j.success && terminal) {
    run.v.add('upload still open after it was completed or cancelled', `${where} ${s.id}: ${timeline(s)}`);
  }
  if (j.success) {
    const del = await send(run.r.url, { method: 'DELETE', path: s.path });
    if (judge(run, 'delete', del, `${where} ${s.id} (clean-up)`).success) run.client.cancelled.add(s.id);
  }
}

/** One round: opens one or two sessions, lets 3-6 actors race on them, then closes them. */
export async function sharedRound(run: Run, seed: number, round: number): Promise<void> {
  const rng = new Rng(seed).fork(round);
  const where = `shared round ${round}`;
  const sessions: SharedSession[] = [];
  const count = rng.chance(0.3) ? 2 : 1;
  for (let k = 0; k < count; k++) {
    const repo = `race/shared/${rng.int(0, 7)}`;
    const first = sessions[0];
    const content = first && rng.chance(0.5) ? first.content : rng.mulberryBytes(contentSize(rng));
    const res = await send(run.r.url, { method: 'POST', path: `/v2/${repo}/blobs/uploads/` });
    const location = judge(run, 'post', res, where).success ? uploadLocation(res) : undefined;
    if (!location) continue;
    run.client.started.add(location.id);
    sessions.push({ repo, id: location.id, path: location.path, content, offsets: [0], known: 0, ops: [] });
  }
  // Half the sessions get a head start, so completions race over bytes already spooled.
  for (const s of sessions) {
    if (rng.chance(0.5)) await sharedPatch(run, s, rng, 0, where);
  }
  const actors = rng.int(3, 6);
  await Promise.all(
    Array.from({ length: actors }, async (_, index) => {
      const a = rng.fork(index);
      await sleep(a.int(0, 30));
      const ops = a.int(1, 3);
      for (let i = 0; i < ops; i++) {
        const s = a.pick(sessions);
        const actor = index + 1;
        switch (a.weighted({ patch: 45, put: 25, status: 22, delete: 8 })) {
          case 'patch':
            await sharedPatch(run, s, a, actor, where);
            break;
          case 'put':
            await sharedPut(run, s, a, actor, where);
            break;
          case 'status':
            await sharedStatus(run, s, actor, where);
            break;
          case 'delete':
            await sharedDelete(run, s, actor, where);
            break;
        }
        await sleep(a.int(0, 15));
      }
    }),
  );
  for (const s of sessions) await closeSession(run, s, where);
}
