// Scenario 2: the same blob pushed concurrently to several repositories by every route (monolithic,
// POST+PUT, chunked, mount); every push must succeed.
import { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { type RaceResponse, send } from './client.js';
import type { Judged, UploadOp } from './judge.js';
import { sleep } from './pool.js';
import { judge, KiB, MiB, pauses, type Run, uploadLocation, withDigest } from './run.js';

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

/** One round: one blob, pushed to 2-5 repositories at once by random routes. */
export async function pushRound(run: Run, seed: number, round: number): Promise<void> {
  const rng = new Rng(seed ^ 0x5055_5348).fork(round);
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
  const bytes = rng.mulberryBytes(size);
  const digest = digestOf(bytes);
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
