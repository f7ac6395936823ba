// @ts-check
// Populating a registry for the scale benchmark over HTTP, fast: one small manifest PUT under many tag
// names, a repository per manifest PUT (its one blob mounted from the first repository), and artifact
// manifests whose subject is the first manifest; all over keep-alive connections at
// BENCH_SCALE_CONCURRENCY.
import { check, describeResponse, header, request } from './http.mjs';
import { log } from './log.mjs';
import {
  artifactManifest,
  EMPTY,
  EMPTY_DIGEST,
  MANIFEST_TYPE,
  repoName,
  TAG_REPO,
  TYPE_A,
  TYPE_B,
  tagName,
} from './scale-settings.mjs';

/** @import { ScaleClient, ScaleResult, ScaleSettings } from './scale-settings.mjs' */

/** @param {ScaleClient} t @param {ScaleSettings} s */
export function tagCount(t, s) {
  return t.kind === 'zot' ? Math.min(s.tags, s.zotTags) : s.tags;
}

/**
 * Runs `count` operations at `concurrency`, in index order per worker; resolves with the seconds taken.
 * @param {number} count
 * @param {number} concurrency
 * @param {(i: number) => Promise<void>} op
 */
async function runConcurrently(count, concurrency, op) {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

/**
 * @param {ScaleClient} t
 * @param {string} repo
 * @param {string} reference
 * @param {Buffer} bytes
 */
async function putManifest(t, repo, reference, bytes) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': MANIFEST_TYPE, 'Content-Length': bytes.length },
    body: bytes,
  });
  check(r.status === 201, `${t.kind}: PUT manifest ${repo}:${reference}: ${describeResponse(r)}`);
}

/** @param {ScaleClient} t @param {string} repo */
async function pushEmptyBlob(t, repo) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/uploads/?digest=${EMPTY_DIGEST}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': EMPTY.length },
    body: EMPTY,
  });
  if (r.status === 201) return;
  // A registry without monolithic POST: open a session, then PUT the bytes.
  check(r.status === 202, `${t.kind}: POST upload: ${describeResponse(r)}`);
  const location = new URL(header(r.headers, 'location') ?? '', t.base);
  location.searchParams.set('digest', EMPTY_DIGEST);
  const put = await request(t.agent, location.href, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': EMPTY.length },
    body: EMPTY,
  });
  check(put.status === 201, `${t.kind}: PUT upload: ${describeResponse(put)}`);
}

/**
 * @param {ScaleClient} t
 * @param {ScaleSettings} s
 * @param {ScaleResult} result
 */
export async function populate(t, s, result) {
  const tags = tagCount(t, s);
  await pushEmptyBlob(t, TAG_REPO);
  const subject = artifactManifest({});
  await putManifest(t, TAG_REPO, 'subject', subject.bytes);
  log(`${t.kind}: PUT of one manifest under ${tags} tags`);
  result.populateS.tags = await runConcurrently(tags, s.concurrency, (i) =>
    putManifest(t, TAG_REPO, tagName(i), subject.bytes),
  );
  log(`${t.kind}: ${tags} tags in ${result.populateS.tags.toFixed(1)} s`);
  result.tags = tags;
  log(`${t.kind}: ${s.repos} repositories (mount + manifest PUT each)`);
  result.populateS.repos = await runConcurrently(s.repos, s.concurrency, async (i) => {
    const repo = repoName(i);
    const r = await request(
      t.agent,
      `${t.base}/v2/${repo}/blobs/uploads/?mount=${EMPTY_DIGEST}&from=${TAG_REPO}`,
      { method: 'POST', headers: { 'Content-Length': 0 } },
    );
    if (r.status !== 201) await pushEmptyBlob(t, repo);
    await putManifest(t, repo, 'latest', artifactManifest({ annotations: { n: String(i) } }).bytes);
  });
  log(`${t.kind}: ${s.repos} repositories in ${result.populateS.repos.toFixed(1)} s`);
  if (t.kind === 'distribution') {
    result.notes.push('distribution v3.1.1 has no referrers API: referrers n/a');
    return subject.digest;
  }
  const descriptor = { mediaType: MANIFEST_TYPE, digest: subject.digest, size: subject.bytes.length };
  result.populateS.referrers = await runConcurrently(s.referrers, s.concurrency, async (i) => {
    const m = artifactManifest({
      artifactType: i % 2 === 0 ? TYPE_A : TYPE_B,
      subject: descriptor,
      annotations: { 'org.example.n': String(i) },
    });
    await putManifest(t, TAG_REPO, m.digest, m.bytes);
  });
  log(`${t.kind}: ${s.referrers} referrers in ${result.populateS.referrers.toFixed(1)} s`);
  return subject.digest;
}

/**
 * What populate() leaves, for a data dir an earlier run populated: the subject's digest.
 * @param {ScaleSettings} s
 * @param {ScaleResult} result
 */
export function populated(s, result) {
  result.notes.push(`populated by an earlier run (${s.oursDataDir})`);
  result.tags = s.tags;
  return artifactManifest({}).digest;
}
