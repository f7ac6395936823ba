// Bounded, randomized race test of the upload path. Hundreds of random interleavings of PATCH /
// PUT / DELETE / GET on shared upload sessions, and concurrent pushes of one blob to several
// repositories by every route (monolithic, POST+PUT, chunked, mount); then the after-the-fact
// checks: stored blobs, blob reads over keep-alive connections, and the event log's story.
// Known defects are reproduced as named cases (a)-(d) at the end: they fail on code that has the
// defect and pass once it is fixed. Failures are reported grouped by kind, with counts and examples.
//
//   RACE_SEED=<n>      seed of the plans (decimal or 0x-hex; printed; default 0xc0ffee)
//   RACE_ROUNDS=<n>    random interleavings over both random scenarios (default 240: 2/3 shared
//                      sessions, 1/3 multi-repository pushes)
//   RACE_PARALLEL=<n>  rounds in flight at once (default 3)
// The plans (sizes, operations, delays) follow from the seed; the server-side interleaving does not.
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  assertNoViolations,
  type ClientUploads,
  captureServerErrors,
  checkBlobReads,
  checkEventLog,
  checkStoredBlobs,
  type ExpectedBlob,
  type Judged,
  judgeAnswer,
  newClientUploads,
  type RaceResponse,
  Rng,
  raceSettings,
  runPool,
  send,
  sha256Digest,
  sleep,
  Tally,
  type UploadOp,
  Violations,
} from '../helpers/race.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

const settings = raceSettings();
const SHARED_ROUNDS = Math.ceil((settings.rounds * 2) / 3);
const PUSH_ROUNDS = settings.rounds - SHARED_ROUNDS;
console.log(
  `[upload-races] RACE_SEED=${settings.seed} (0x${settings.seed.toString(16)}) RACE_ROUNDS=${settings.rounds} ` +
    `(${SHARED_ROUNDS} shared-session + ${PUSH_ROUNDS} multi-repository push rounds) RACE_PARALLEL=${settings.parallel}`,
);

const KiB = 1024;
const MiB = 1024 * KiB;

/** What one registry's traffic taught the test. */
interface Run {
  r: TestRegistry;
  v: Violations;
  tally: Tally;
  client: ClientUploads;
  expected: ExpectedBlob[];
}

function newRun(r: TestRegistry): Run {
  return { r, v: new Violations(), tally: new Tally(), client: newClientUploads(), expected: [] };
}

function judge(run: Run, op: UploadOp, res: RaceResponse, where: string): Judged {
  const judged = judgeAnswer(op, res, run.v, where);
  run.tally.add(`${op.padEnd(11)} → ${judged.label}`);
  return judged;
}

/** The path of a Location header (relative or absolute) and the upload id in it. */
function uploadLocation(res: RaceResponse): { path: string; id: string } | undefined {
  const location = res.headers.location;
  if (typeof location !== 'string') return undefined;
  const url = new URL(location, 'http://127.0.0.1');
  const id = url.pathname.split('/').pop() ?? '';
  return { path: url.pathname + url.search, id };
}

function withDigest(path: string, digest: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}digest=${digest}`;
}

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

// -----------------------------------------------------------------------------------------------
// Scenario 1: shared upload sessions

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

function learn(s: SharedSession, offset: number | undefined): void {
  if (offset === undefined) return;
  if (!s.offsets.includes(offset)) s.offsets.push(offset);
  s.known = Math.max(s.known, Math.min(offset, s.content.byteLength));
}

function pauses(rng: Rng, p: number): number[] | undefined {
  return rng.chance(p) ? rng.pauses(rng.int(2, 9), 3, 25) : undefined;
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
  s.ops.push({
    op: 'patch',
    actor,
    sentAt: res.sentAt,
    doneAt: res.doneAt,
    label: j.label,
    success: j.success,
    detail,
  });
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
    mode === 'wrongDigest' ? sha256Digest(rng.bytes(8)) : sha256Digest(s.content.subarray(0, length));
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
  s.ops.push({
    op: 'put',
    actor,
    sentAt: res.sentAt,
    doneAt: res.doneAt,
    label: j.label,
    success: j.success,
    detail,
    digest,
  });
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
  s.ops.push({
    op: 'delete',
    actor,
    sentAt: res.sentAt,
    doneAt: res.doneAt,
    label: j.label,
    success: j.success,
    detail: '',
  });
  if (j.success) run.client.cancelled.add(s.id);
}

async function sharedStatus(run: Run, s: SharedSession, actor: number, where: string): Promise<void> {
  const res = await send(run.r.url, { method: 'GET', path: s.path });
  const j = judge(run, 'status', res, `${where} ${s.id}`);
  s.ops.push({
    op: 'status',
    actor,
    sentAt: res.sentAt,
    doneAt: res.doneAt,
    label: j.label,
    success: j.success,
    detail: '',
  });
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

async function sharedRound(run: Run, round: number): Promise<void> {
  const rng = new Rng(settings.seed).fork(round);
  const where = `shared round ${round}`;
  const sessions: SharedSession[] = [];
  const count = rng.chance(0.3) ? 2 : 1;
  for (let k = 0; k < count; k++) {
    const repo = `race/shared/${rng.int(0, 7)}`;
    const first = sessions[0];
    const content = first && rng.chance(0.5) ? first.content : rng.bytes(contentSize(rng));
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

// -----------------------------------------------------------------------------------------------
// Scenario 2: the same blob pushed concurrently to several repositories

interface Push {
  run: Run;
  repo: string;
  bytes: Buffer;
  digest: string;
  rng: Rng;
  where: string;
}

/** Any answer but success on a session only this client uses is a failure. */
function mustSucceed(p: Push, op: UploadOp, step: string, res: RaceResponse): Judged {
  const j = judge(p.run, op, res, `${p.where} ${step}`);
  if (!j.success) p.run.v.add('a push on a private session failed', `${p.where} ${step} → ${j.label}`);
  return j;
}

function completedPush(p: Push, res: RaceResponse, id?: string): void {
  if (res.headers['docker-content-digest'] !== p.digest)
    p.run.v.add(
      '201 Docker-Content-Digest differs from the digest pushed',
      `${p.where}: ${res.headers['docker-content-digest']}`,
    );
  if (id) p.run.client.completed.add(id);
  p.run.expected.push({ repository: p.repo, digest: p.digest, size: p.bytes.byteLength });
}

async function pushMonolithic(p: Push): Promise<void> {
  const res = await send(p.run.r.url, {
    method: 'POST',
    path: `/v2/${p.repo}/blobs/uploads/?digest=${p.digest}`,
    body: p.bytes,
    pauses: pauses(p.rng, 0.3),
    chunked: p.rng.chance(0.2),
  });
  const j = mustSucceed(p, 'post-digest', 'monolithic POST ?digest=', res);
  if (j.status === 201) return completedPush(p, res);
  // 202: the registry chose not to take the body in the POST; finish with a PUT.
  const location = uploadLocation(res);
  if (j.success && location) await finishUpload(p, location, 'whole');
}

/** Sends the blob into an open session: one PUT with the body, or PATCHes then a PUT. */
async function finishUpload(
  p: Push,
  at: { path: string; id: string },
  how: 'whole' | 'chunked',
): Promise<void> {
  const { rng, bytes } = p;
  p.run.client.started.add(at.id);
  let sent = 0;
  if (how === 'chunked' && bytes.byteLength > 0) {
    const cuts = Array.from({ length: rng.int(0, 3) }, () => rng.int(1, bytes.byteLength))
      .concat(bytes.byteLength)
      .sort((a, b) => a - b);
    const lastInPut = rng.chance(0.3) && cuts.length > 1;
    for (const end of lastInPut ? cuts.slice(0, -1) : cuts) {
      if (end <= sent) continue;
      const streamed = rng.chance(0.3);
      const res = await send(p.run.r.url, {
        method: 'PATCH',
        path: at.path,
        headers: streamed ? {} : { 'content-range': `${sent}-${end - 1}` },
        body: bytes.subarray(sent, end),
        pauses: pauses(rng, 0.3),
        chunked: rng.chance(0.2),
      });
      if (!mustSucceed(p, 'patch', `PATCH ${sent}-${end - 1}${streamed ? ' (streamed)' : ''}`, res).success)
        return;
      if (res.headers.range !== `0-${end - 1}`)
        p.run.v.add(
          'PATCH 202 Range does not end where the chunk ended',
          `${p.where} ${sent}-${end - 1} → ${res.headers.range}`,
        );
      sent = end;
    }
  }
  const rest = bytes.subarray(sent);
  const res = await send(p.run.r.url, {
    method: 'PUT',
    path: withDigest(at.path, p.digest),
    headers:
      rest.byteLength > 0 && rng.chance(0.5) ? { 'content-range': `${sent}-${bytes.byteLength - 1}` } : {},
    body: rest.byteLength > 0 ? rest : undefined,
    pauses: rest.byteLength > 0 ? pauses(rng, 0.3) : undefined,
  });
  if (mustSucceed(p, 'put', `PUT ?digest= with ${rest.byteLength}B`, res).success)
    completedPush(p, res, at.id);
}

async function pushSession(p: Push, how: 'whole' | 'chunked'): Promise<void> {
  const res = await send(p.run.r.url, { method: 'POST', path: `/v2/${p.repo}/blobs/uploads/` });
  const location = mustSucceed(p, 'post', 'POST uploads/', res).success ? uploadLocation(res) : undefined;
  if (location) await finishUpload(p, location, how);
}

async function pushMount(p: Push, from: string): Promise<void> {
  const res = await send(p.run.r.url, {
    method: 'POST',
    path: `/v2/${p.repo}/blobs/uploads/?mount=${p.digest}&from=${from}`,
  });
  const j = mustSucceed(p, 'mount', `mount from ${from}`, res);
  if (j.status === 201) return completedPush(p, res);
  const location = uploadLocation(res);
  if (!j.success || !location) return;
  if (p.rng.chance(0.5)) {
    // What skopeo does with a 202 to a mount: cancel that session, then upload normally.
    p.run.client.started.add(location.id);
    const del = await send(p.run.r.url, { method: 'DELETE', path: location.path });
    if (mustSucceed(p, 'delete', 'DELETE the session a mount opened', del).success)
      p.run.client.cancelled.add(location.id);
    return pushMonolithic(p);
  }
  return finishUpload(p, location, p.rng.chance(0.5) ? 'whole' : 'chunked');
}

async function pushRound(run: Run, round: number): Promise<void> {
  const rng = new Rng(settings.seed ^ 0x5055_5348).fork(round);
  let size: number;
  switch (rng.weighted({ empty: 5, tiny: 25, medium: 55, large: 15 })) {
    case 'empty':
      size = 0;
      break;
    case 'tiny':
      size = rng.int(1, KiB);
      break;
    case 'medium':
      size = rng.int(KiB, 256 * KiB);
      break;
    default:
      size = rng.int(256 * KiB, 2 * MiB);
  }
  const bytes = rng.bytes(size);
  const digest = sha256Digest(bytes);
  const plans = Array.from({ length: rng.int(2, 5) }, (_, i) => {
    const prng = rng.fork(i);
    const repo = `race/push/${rng.int(0, 11)}`;
    return { repo, prng, method: prng.weighted({ monolithic: 25, postPut: 25, chunked: 30, mount: 20 }) };
  });
  const finished = plans.map(() => {
    let resolve = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    return { promise, resolve };
  });
  await Promise.all(
    plans.map(async ({ repo, prng, method }, i) => {
      const p: Push = {
        run,
        repo,
        bytes,
        digest,
        rng: prng,
        where: `push round ${round} ${method} → ${repo}`,
      };
      try {
        if (method !== 'mount') {
          await sleep(prng.int(0, 30));
          if (method === 'monolithic') await pushMonolithic(p);
          else await pushSession(p, method === 'postPut' ? 'whole' : 'chunked');
          return;
        }
        // Mount from another pusher's repository: mostly once that push is done (201 expected),
        // sometimes while it is still in flight (201 or 202); now and then from an unrelated one.
        const sources = plans.flatMap((q, j) => (q.method !== 'mount' && q.repo !== repo ? [j] : []));
        let from = `race/push/${prng.int(0, 11)}`;
        if (sources.length > 0 && prng.chance(0.85)) {
          const j = prng.pick(sources);
          from = plans[j]!.repo;
          if (prng.chance(0.6)) await finished[j]!.promise;
        }
        await sleep(prng.int(0, 20));
        await pushMount(p, from);
      } finally {
        finished[i]!.resolve();
      }
    }),
  );
}

// -----------------------------------------------------------------------------------------------
// The randomized scenarios and the after-the-fact checks on their registry

describe('upload races: random interleavings', () => {
  let run: Run;
  let serverErrors: ReturnType<typeof captureServerErrors>;
  const started = performance.now();

  beforeAll(async () => {
    serverErrors = captureServerErrors();
    run = newRun(await startTestRegistry());
  });

  afterAll(async () => {
    const errors = serverErrors.stop();
    console.log(`[upload-races] answers (seed ${settings.seed}):\n${run?.tally.format()}`);
    if (errors.size > 0) {
      console.log(
        `[upload-races] server-side unexpected errors:\n${[...errors].map(([m, n]) => `  ${String(n).padStart(6)}  ${m}`).join('\n')}`,
      );
    }
    console.log(`[upload-races] random scenarios took ${Math.round(performance.now() - started)} ms`);
    await run?.r.close();
  });

  it(`shared sessions: ${SHARED_ROUNDS} rounds of racing PATCH / PUT / DELETE / GET answer only spec answers`, async () => {
    const scenario: Run = { ...run, v: new Violations() };
    await runPool(
      Array.from({ length: SHARED_ROUNDS }, (_, i) => i),
      settings.parallel,
      (round) => sharedRound(scenario, round),
    );
    assertNoViolations(scenario.v, 'shared upload sessions', `RACE_SEED=${settings.seed}`);
  });

  it(`the same blob pushed to several repositories at once: ${PUSH_ROUNDS} rounds, every push succeeds`, async () => {
    const scenario: Run = { ...run, v: new Violations() };
    await runPool(
      Array.from({ length: PUSH_ROUNDS }, (_, i) => i),
      settings.parallel,
      (round) => pushRound(scenario, round),
    );
    assertNoViolations(scenario.v, 'concurrent pushes of one blob', `RACE_SEED=${settings.seed}`);
  });

  it('afterwards: every stored blob hashes to its name and has its recorded size', async () => {
    const v = new Violations();
    const report = await checkStoredBlobs(run.r.dataDir, run.r.ctx.db, v);
    console.log(`[upload-races] stored blobs: ${report.files} files, ${report.bytes} bytes`);
    assertNoViolations(v, 'stored blobs', `RACE_SEED=${settings.seed}`);
  });

  it('afterwards: HEAD and GET of every blob believed to exist serve exactly the bytes sent', async () => {
    const v = new Violations();
    const checked = await checkBlobReads(run.r.url, run.expected, v, 8);
    console.log(`[upload-races] blob reads checked: ${checked}`);
    assertNoViolations(v, 'blob reads', `RACE_SEED=${settings.seed}`);
  });

  it('afterwards: the event log tells one consistent story', async () => {
    const v = new Violations();
    const events = await checkEventLog(run.r.ctx.db, run.client, v);
    console.log(`[upload-races] events checked: ${events}`);
    assertNoViolations(v, 'event log', `RACE_SEED=${settings.seed}`);
  });
});

// -----------------------------------------------------------------------------------------------
// Known defects, reproduced deliberately. Each case fails on the code that has the defect and
// passes once it is fixed; each checks its own repositories only.

describe('upload races: known defects', () => {
  let r: TestRegistry;
  let serverErrors: ReturnType<typeof captureServerErrors>;

  beforeAll(async () => {
    serverErrors = captureServerErrors();
    r = await startTestRegistry();
  });

  afterAll(async () => {
    const errors = serverErrors.stop();
    if (errors.size > 0) {
      console.log(
        `[upload-races] known-defect cases, server-side unexpected errors:\n${[...errors].map(([m, n]) => `  ${String(n).padStart(6)}  ${m}`).join('\n')}`,
      );
    }
    await r?.close();
  });

  /** Checks 3, 4 and 5 restricted to one case's repositories and blobs. */
  async function checkCase(run: Run, prefix: string, shas: Set<string>): Promise<void> {
    await checkStoredBlobs(r.dataDir, r.ctx.db, run.v, { only: shas });
    await checkBlobReads(r.url, run.expected, run.v);
    await checkEventLog(r.ctx.db, run.client, run.v, { repository: (name) => name.startsWith(prefix) });
  }

  async function open(run: Run, repo: string): Promise<{ path: string; id: string }> {
    const res = await send(r.url, { method: 'POST', path: `/v2/${repo}/blobs/uploads/` });
    const location = judge(run, 'post', res, repo).success ? uploadLocation(res) : undefined;
    if (!location) throw new Error(`could not open an upload in ${repo}: ${res.status}`);
    run.client.started.add(location.id);
    return location;
  }

  it('(a) a PATCH racing PUT ?digest= on a 64 MiB spool must not grow the blob past its digest', async () => {
    const run = newRun(r);
    const rng = new Rng(settings.seed).fork(0xa);
    const big = rng.bytes(64 * MiB);
    const digest = sha256Digest(big);
    const tail = 64 * KiB;
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const repo = `defect-a/${attempt}`;
      const at = await open(run, repo);
      const head = await send(r.url, {
        method: 'PATCH',
        path: at.path,
        body: big.subarray(0, big.byteLength - tail),
      });
      judge(run, 'patch', head, `${repo} spool`);
      // The spool's last 64 KiB trickle in for ~400 ms; the PUT of the whole 64 MiB's digest is sent
      // 80 ms into it, and a PATCH of 1 MiB more 80 ms after that.
      const trickled = send(r.url, {
        method: 'PATCH',
        path: at.path,
        headers: { 'content-range': `${big.byteLength - tail}-${big.byteLength - 1}` },
        body: big.subarray(big.byteLength - tail),
        pauses: Array(15).fill(25),
      });
      await sleep(80);
      const put = send(r.url, { method: 'PUT', path: withDigest(at.path, digest) });
      await sleep(80);
      const more = send(r.url, { method: 'PATCH', path: at.path, body: rng.bytes(MiB) });
      const [t, p, m] = await Promise.all([trickled, put, more]);
      const jt = judge(run, 'patch', t, `${repo} trickled tail`);
      const jp = judge(run, 'put', p, `${repo} PUT`);
      const jm = judge(run, 'patch', m, `${repo} PATCH +1 MiB`);
      outcomes.push(`attempt ${attempt}: tail PATCH ${jt.label}, PUT ${jp.label}, PATCH +1MiB ${jm.label}`);
      if (jp.success) {
        run.client.completed.add(at.id);
        run.expected.push({ repository: repo, digest, size: big.byteLength });
      }
      if (jp.success && jm.success)
        run.v.add('the PUT answered 201 and the PATCH racing it 202', `${repo} ${at.id}: ${outcomes.at(-1)}`);
    }
    await checkCase(run, 'defect-a/', new Set([digest.slice(7)]));
    assertNoViolations(run.v, '(a) PATCH racing PUT on a 64 MiB spool', outcomes.join('; '));
  });

  it('(b) two concurrent PUT completions of one session: one 201, the other 404 BLOB_UPLOAD_UNKNOWN (or both 201)', async () => {
    const run = newRun(r);
    const rng = new Rng(settings.seed).fork(0xb);
    const outcomes: string[] = [];
    const shas = new Set<string>();
    for (let attempt = 0; attempt < 4; attempt++) {
      const repo = `defect-b/${attempt}`;
      const bytes = rng.bytes(100 * KiB);
      const digest = sha256Digest(bytes);
      shas.add(digest.slice(7));
      const at = await open(run, repo);
      // Attempts 0-1: both PUTs at once. Attempts 2-3: both sent while a trickled PATCH holds the session.
      const split = attempt < 2 ? bytes.byteLength : 60 * KiB;
      judge(
        run,
        'patch',
        await send(r.url, { method: 'PATCH', path: at.path, body: bytes.subarray(0, split) }),
        repo,
      );
      const trickle =
        split < bytes.byteLength
          ? send(r.url, {
              method: 'PATCH',
              path: at.path,
              headers: { 'content-range': `${split}-${bytes.byteLength - 1}` },
              body: bytes.subarray(split),
              pauses: Array(9).fill(20),
            })
          : undefined;
      if (trickle) await sleep(40);
      const [a, b] = await Promise.all([
        send(r.url, { method: 'PUT', path: withDigest(at.path, digest) }),
        send(r.url, { method: 'PUT', path: withDigest(at.path, digest) }),
      ]);
      if (trickle) judge(run, 'patch', await trickle, `${repo} trickled PATCH`);
      const labels = [judge(run, 'put', a, `${repo} PUT 1`), judge(run, 'put', b, `${repo} PUT 2`)]
        .map((j) => j.label)
        .sort();
      outcomes.push(`attempt ${attempt}: ${labels.join(' + ')}`);
      const ok =
        (labels[0] === '201' && labels[1] === '201') ||
        (labels[0] === '201' && labels[1] === '404 BLOB_UPLOAD_UNKNOWN');
      if (!ok)
        run.v.add(
          'concurrent completions: not 201 + 404 BLOB_UPLOAD_UNKNOWN (nor 201 + 201)',
          `${repo} ${at.id}: ${labels.join(' + ')}`,
        );
      if (labels.includes('201')) {
        run.client.completed.add(at.id);
        run.expected.push({ repository: repo, digest, size: bytes.byteLength });
      }
    }
    await checkCase(run, 'defect-b/', shas);
    assertNoViolations(run.v, '(b) two concurrent PUT completions', outcomes.join('; '));
  });

  it('(c) DELETE during a slowly trickling PATCH: no 5xx, a consistent log', async () => {
    const run = newRun(r);
    const rng = new Rng(settings.seed).fork(0xc);
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const repo = `defect-c/${attempt}`;
      const at = await open(run, repo);
      if (attempt > 0)
        judge(
          run,
          'patch',
          await send(r.url, { method: 'PATCH', path: at.path, body: rng.bytes(10 * KiB) }),
          repo,
        );
      const start = attempt > 0 ? 10 * KiB : 0;
      const patch = send(r.url, {
        method: 'PATCH',
        path: at.path,
        headers: { 'content-range': `${start}-${start + 20 * KiB - 1}` },
        body: rng.bytes(20 * KiB),
        pauses: Array(9).fill(20),
      });
      await sleep(60);
      const del = await send(r.url, { method: 'DELETE', path: at.path });
      const jd = judge(run, 'delete', del, `${repo} DELETE`);
      const jp = judge(run, 'patch', await patch, `${repo} trickled PATCH`);
      if (jd.success) run.client.cancelled.add(at.id);
      const after = judge(
        run,
        'status',
        await send(r.url, { method: 'GET', path: at.path }),
        `${repo} status after`,
      );
      outcomes.push(`attempt ${attempt}: DELETE ${jd.label}, PATCH ${jp.label}, then status ${after.label}`);
      if (jd.success && after.success)
        run.v.add('upload still open after its cancel answered 204', `${repo} ${at.id}: ${outcomes.at(-1)}`);
    }
    await checkCase(run, 'defect-c/', new Set());
    assertNoViolations(run.v, '(c) DELETE during a trickling PATCH', outcomes.join('; '));
  });

  it('(d) a cancel racing a completion: exactly one terminal event, never both 201 and 204', async () => {
    const run = newRun(r);
    const rng = new Rng(settings.seed).fork(0xd);
    const combos = new Tally();
    const shas = new Set<string>();
    // Sweep the DELETE's delay after the PUT over 0-24 ms (twice) so some land in the window
    // between the blob's publication and the completion's event, whatever the machine's speed.
    for (let attempt = 0; attempt < 50; attempt++) {
      const delay = attempt % 25;
      const repo = `defect-d/${attempt % 5}`;
      const bytes = rng.bytes(50 * KiB);
      const digest = sha256Digest(bytes);
      shas.add(digest.slice(7));
      const at = await open(run, repo);
      judge(run, 'patch', await send(r.url, { method: 'PATCH', path: at.path, body: bytes }), repo);
      const put = send(r.url, { method: 'PUT', path: withDigest(at.path, digest) });
      await sleep(delay);
      const [p, d] = await Promise.all([put, send(r.url, { method: 'DELETE', path: at.path })]);
      const jp = judge(run, 'put', p, `${repo} PUT (DELETE +${delay} ms)`);
      const jd = judge(run, 'delete', d, `${repo} DELETE +${delay} ms`);
      combos.add(`PUT ${jp.label} / DELETE ${jd.label}`);
      if (jp.success) {
        run.client.completed.add(at.id);
        run.expected.push({ repository: repo, digest, size: bytes.byteLength });
      }
      if (jd.success) run.client.cancelled.add(at.id);
      if (jp.success && jd.success)
        run.v.add(
          'PUT answered 201 and DELETE 204 for one upload',
          `${repo} ${at.id} (DELETE sent ${delay} ms after the PUT)`,
        );
    }
    await checkCase(run, 'defect-d/', shas);
    assertNoViolations(
      run.v,
      '(d) cancel racing completion',
      `outcomes over 50 attempts:\n${combos.format()}`,
    );
  });
});
