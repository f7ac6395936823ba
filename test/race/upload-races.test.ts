// Bounded, randomized race test of the upload path. Hundreds of random interleavings of PATCH /
// PUT / DELETE / GET on shared upload sessions (shared-sessions.ts), and concurrent pushes of one
// blob to several repositories by every route (pushes.ts); then the after-the-fact checks: stored
// blobs, blob reads over keep-alive connections, and the event log's story (check-*.ts).
// Known defects are reproduced as named cases (a)-(d) at the end: they fail on code that has the
// defect and pass once it is fixed. Failures are reported grouped by kind, with counts and examples.
//
//   RACE_SEED=<n>      seed of the plans (decimal or 0x-hex; printed; default 0xc0ffee)
//   RACE_ROUNDS=<n>    random interleavings over both random scenarios (default 240: 2/3 shared
//                      sessions, 1/3 multi-repository pushes)
//   RACE_PARALLEL=<n>  rounds in flight at once (default 3)
// The plans (sizes, operations, delays) follow from the seed; the server-side interleaving does not.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Rng } from '../helpers/random.js';
import { digestOf, onS3, startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { checkBlobReads } from './check-blob-reads.js';
import { checkEventLog } from './check-event-log.js';
import { checkStoredBlobs } from './check-stored-blobs.js';
import { send } from './client.js';
import { runPool, sleep } from './pool.js';
import { pushRound } from './pushes.js';
import { assertNoViolations, captureServerErrors, Tally, Violations } from './report.js';
import { judge, KiB, MiB, newRun, type Run, uploadLocation, withDigest } from './run.js';
import { raceSettings } from './settings.js';
import { sharedRound } from './shared-sessions.js';

const settings = raceSettings();
const SHARED_ROUNDS = Math.ceil((settings.rounds * 2) / 3);
const PUSH_ROUNDS = settings.rounds - SHARED_ROUNDS;
console.log(
  `[upload-races] RACE_SEED=${settings.seed} (0x${settings.seed.toString(16)}) RACE_ROUNDS=${settings.rounds} ` +
    `(${SHARED_ROUNDS} shared-session + ${PUSH_ROUNDS} multi-repository push rounds) RACE_PARALLEL=${settings.parallel}`,
);

// -----------------------------------------------------------------------------------------------
// The randomized scenarios and the after-the-fact checks on their registry

describe('upload races: random interleavings', () => {
  let run: Run;
  let serverErrors: ReturnType<typeof captureServerErrors>;
  const started = performance.now();

  beforeAll(async () => {
    const r = await startTestRegistry({ LOG_LEVEL: 'error' });
    serverErrors = captureServerErrors(r);
    run = newRun(r);
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
      (round) => sharedRound(scenario, settings.seed, round),
    );
    assertNoViolations(scenario.v, 'shared upload sessions', `RACE_SEED=${settings.seed}`);
  });

  it(`the same blob pushed to several repositories at once: ${PUSH_ROUNDS} rounds, every push succeeds`, async () => {
    const scenario: Run = { ...run, v: new Violations() };
    await runPool(
      Array.from({ length: PUSH_ROUNDS }, (_, i) => i),
      settings.parallel,
      (round) => pushRound(scenario, settings.seed, round),
    );
    assertNoViolations(scenario.v, 'concurrent pushes of one blob', `RACE_SEED=${settings.seed}`);
  });

  it('afterwards: every stored blob hashes to its name and has its recorded size', async () => {
    const v = new Violations();
    const report = await checkStoredBlobs(
      run.r.dataDir,
      run.r.ctx.db,
      v,
      {},
      onS3 ? run.r.ctx.content : undefined,
    );
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
    r = await startTestRegistry({ LOG_LEVEL: 'error' });
    serverErrors = captureServerErrors(r);
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
    await checkStoredBlobs(r.dataDir, r.ctx.db, run.v, { only: shas }, onS3 ? r.ctx.content : undefined);
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
    const big = rng.mulberryBytes(64 * MiB);
    const digest = digestOf(big);
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
      const more = send(r.url, { method: 'PATCH', path: at.path, body: rng.mulberryBytes(MiB) });
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
      const bytes = rng.mulberryBytes(100 * KiB);
      const digest = digestOf(bytes);
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
          await send(r.url, { method: 'PATCH', path: at.path, body: rng.mulberryBytes(10 * KiB) }),
          repo,
        );
      const start = attempt > 0 ? 10 * KiB : 0;
      const patch = send(r.url, {
        method: 'PATCH',
        path: at.path,
        headers: { 'content-range': `${start}-${start + 20 * KiB - 1}` },
        body: rng.mulberryBytes(20 * KiB),
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
      const bytes = rng.mulberryBytes(50 * KiB);
      const digest = digestOf(bytes);
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
