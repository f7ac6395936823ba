// @ts-check
// The scale benchmark's measured requests against one populated registry: pages and full lists of
// tags and repositories (/v2/ and, for ours, the native API) and referrers, each answer checked.
import { check, describeResponse, header, request } from './http.mjs';
import { log } from './log.mjs';
import { serverCpu } from './proc.mjs';
import { tagCount } from './scale-populate.mjs';
import { repoName, TAG_REPO, TYPE_A, tagName } from './scale-settings.mjs';
import { percentile } from './stats.mjs';

/** @import { Response } from './http.mjs' */
/** @import { Figure, ScaleClient, ScaleResult, ScaleSettings } from './scale-settings.mjs' */

/**
 * @param {ScaleClient} t
 * @param {string} path
 */
async function get(t, path) {
  return request(t.agent, `${t.base}${path}`);
}

/** @param {Response} r */
function jsonOf(r) {
  return JSON.parse(r.body.toString('utf8'));
}

/**
 * The next page's path from a Link header, or undefined.
 * @param {Response} r
 */
function nextLink(r) {
  const link = header(r.headers, 'link');
  const match = link && /<([^>]+)>;\s*rel="?next"?/.exec(link);
  return match ? match[1] : undefined;
}

/**
 * Median and max of `reps` sequential runs of `run` (after one unmeasured run); `run` checks the
 * answers and returns how many requests and entries it made and got.
 * @param {ScaleClient} t
 * @param {string} label
 * @param {number} reps
 * @param {() => Promise<{ requests: number, entries: number }>} run
 * @returns {Promise<Figure>}
 */
export async function measure(t, label, reps, run) {
  await run();
  /** @type {number[]} */
  const times = [];
  let last = { requests: 0, entries: 0 };
  const cpu0 = serverCpu([t.pid]);
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = await run();
    times.push(performance.now() - t0);
  }
  const cpu1 = serverCpu([t.pid]);
  times.sort((a, b) => a - b);
  const figure = {
    label,
    medianMs: percentile(times, 0.5),
    maxMs: times.at(-1) ?? Number.NaN,
    requests: last.requests,
    entries: last.entries,
    cpuMs: ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) * 1000) / reps,
  };
  log(
    `${t.kind}: ${label}: median ${figure.medianMs.toFixed(2)} ms, max ${figure.maxMs.toFixed(2)} ms, ` +
      `${figure.requests} requests, ${figure.entries} entries, server CPU ${figure.cpuMs.toFixed(1)} ms`,
  );
  return figure;
}

/**
 * One page of a /v2/ list: status 200, `expected` entries starting with `first`, and a Link when
 * more follow.
 * @param {ScaleClient} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 * @param {string} first
 * @param {boolean} more
 */
async function v2Page(t, path, key, expected, first, more) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  const items = jsonOf(r)[key] ?? [];
  check(items.length === expected, `${t.kind}: GET ${path}: ${items.length} ${key}, expected ${expected}`);
  check(items[0] === first, `${t.kind}: GET ${path}: first is ${items[0]}, expected ${first}`);
  check(
    more === (nextLink(r) !== undefined),
    `${t.kind}: GET ${path}: Link header ${more ? 'missing' : 'unexpected'}`,
  );
  return { requests: 1, entries: items.length };
}

/**
 * A whole /v2/ list: no `n`, then every Link; `expected` entries in all, strictly ascending.
 * @param {ScaleClient} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 */
async function v2Full(t, path, key, expected) {
  /** @type {string | undefined} */
  let next = path;
  let requests = 0;
  let entries = 0;
  /** @type {string | undefined} */
  let previous;
  while (next !== undefined) {
    const r = await get(t, next);
    requests++;
    check(r.status === 200, `${t.kind}: GET ${next}: ${describeResponse(r)}`);
    /** @type {string[]} */
    const items = jsonOf(r)[key] ?? [];
    for (const item of items) {
      check(previous === undefined || item > previous, `${t.kind}: ${path}: ${item} after ${previous}`);
      previous = item;
    }
    entries += items.length;
    next = nextLink(r);
    check(requests < 10_000, `${t.kind}: ${path}: more than 10000 pages`);
  }
  check(entries === expected, `${t.kind}: GET ${path} (all pages): ${entries} ${key}, expected ${expected}`);
  return { requests, entries };
}

/**
 * A native page: `expected` entries starting with `first`, a `next` cursor when more follow.
 * @param {ScaleClient} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 * @param {string} first
 * @param {boolean} [more]
 */
async function nativePage(t, path, key, expected, first, more = true) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  const body = jsonOf(r);
  /** @type {{ name: string }[]} */
  const items = body[key] ?? [];
  check(items.length === expected, `${t.kind}: GET ${path}: ${items.length} ${key}, expected ${expected}`);
  check(items[0]?.name === first, `${t.kind}: GET ${path}: first is ${items[0]?.name}, expected ${first}`);
  check(
    more === (typeof body.next === 'string'),
    `${t.kind}: GET ${path}: next cursor ${more ? 'missing' : 'unexpected'}`,
  );
  return { requests: 1, entries: items.length };
}

/**
 * @param {ScaleClient} t
 * @param {string} path
 * @param {number} expected
 */
async function referrers(t, path, expected) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  /** @type {{ annotations?: Record<string, string> }[]} */
  const manifests = jsonOf(r).manifests ?? [];
  check(
    manifests.length === expected,
    `${t.kind}: GET ${path}: ${manifests.length} referrers, expected ${expected}`,
  );
  check(
    manifests.every((m) => m.annotations?.['org.example.n'] !== undefined),
    `${t.kind}: GET ${path}: a referrer without its annotations`,
  );
  return { requests: 1, entries: manifests.length };
}

/**
 * @param {ScaleClient} t
 * @param {ScaleSettings} s
 * @param {string} subject
 * @param {ScaleResult} result
 */
export async function measureAll(t, s, subject, result) {
  const nTags = tagCount(t, s);
  const reps = s.reps;
  const fullReps = Math.max(3, Math.ceil(reps / 4));
  // Deep in the list, with more than a page after it.
  const deep = Math.min(Math.floor(nTags * 0.9), nTags - 102);
  const tags = `/v2/${TAG_REPO}/tags/list`;
  const figures = result.figures;
  figures.push(
    await measure(t, 'tags/list?n=100 (first page)', reps, () =>
      v2Page(t, `${tags}?n=100`, 'tags', 100, 'subject', true),
    ),
    await measure(t, 'tags/list?n=100&last= (page at 90 %)', reps, () =>
      v2Page(t, `${tags}?n=100&last=${tagName(deep)}`, 'tags', 100, tagName(deep + 1), true),
    ),
    await measure(t, 'tags/list, full (following Link)', fullReps, () => v2Full(t, tags, 'tags', nTags + 1)),
  );
  if (t.kind === 'ours') {
    const native = `/api/v1/repositories/${TAG_REPO}/tags`;
    figures.push(
      await measure(t, 'native tags?limit=100 (first page)', reps, () =>
        nativePage(t, `${native}?limit=100`, 'tags', 100, 'subject'),
      ),
      await measure(t, 'native tags?limit=100&cursor= (page at 90 %)', reps, () =>
        nativePage(t, `${native}?limit=100&cursor=${tagName(deep)}`, 'tags', 100, tagName(deep + 1)),
      ),
    );
  }
  const deepRepo = Math.min(Math.floor(s.repos * 0.9), s.repos - 101);
  figures.push(
    await measure(t, '_catalog?n=100 (first page)', reps, () =>
      v2Page(t, '/v2/_catalog?n=100', 'repositories', 100, repoName(0), true),
    ),
    await measure(t, '_catalog?n=100&last= (page at 90 %)', reps, () =>
      v2Page(
        t,
        `/v2/_catalog?n=100&last=${repoName(deepRepo)}`,
        'repositories',
        100,
        repoName(deepRepo + 1),
        true,
      ),
    ),
    await measure(t, '_catalog, full (following Link)', fullReps, () =>
      v2Full(t, '/v2/_catalog', 'repositories', s.repos + 1),
    ),
  );
  if (t.kind === 'ours') {
    figures.push(
      await measure(t, 'native repositories?limit=100 (first page)', reps, () =>
        nativePage(t, '/api/v1/repositories?limit=100', 'repositories', 100, repoName(0)),
      ),
      await measure(t, 'native repositories?limit=100&cursor= (page at 90 %)', reps, () =>
        nativePage(
          t,
          `/api/v1/repositories?limit=100&cursor=${repoName(deepRepo)}`,
          'repositories',
          100,
          repoName(deepRepo + 1),
        ),
      ),
      await measure(t, 'native repositories: the page holding the repository of all the tags', reps, () =>
        nativePage(
          t,
          `/api/v1/repositories?limit=100&cursor=${repoName(s.repos - 1)}`,
          'repositories',
          1,
          TAG_REPO,
          false,
        ),
      ),
    );
  }
  if (t.kind !== 'distribution') {
    const path = `/v2/${TAG_REPO}/referrers/${subject}`;
    figures.push(
      await measure(t, 'referrers (all)', reps, () => referrers(t, path, s.referrers)),
      await measure(t, 'referrers?artifactType= (half)', reps, () =>
        referrers(t, `${path}?artifactType=${encodeURIComponent(TYPE_A)}`, Math.ceil(s.referrers / 2)),
      ),
    );
  }
}
