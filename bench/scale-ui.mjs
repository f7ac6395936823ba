// @ts-check
// The web UI's pages on the scale benchmark's registry (ours only, authentication off): the pages over
// 10,000 repositories and 100,000 tags, first and deep, a name search, the package page of the manifest
// with 1,000 referrers, and the events page; each answer checked for what it must show, and its size.
import { check, describeResponse, request } from './http.mjs';
import { measure } from './scale-measure.mjs';
import { tagCount } from './scale-populate.mjs';
import { repoName, TAG_REPO, tagName } from './scale-settings.mjs';

/** @import { ScaleClient, ScaleResult, ScaleSettings } from './scale-settings.mjs' */

/**
 * One page: 200, HTML holding every one of `shows`; its size goes into `sizes`.
 * @param {ScaleClient} t
 * @param {string} path
 * @param {string[]} shows
 * @param {Map<string, number>} sizes
 */
async function page(t, path, shows, sizes) {
  const r = await request(t.agent, `${t.base}${path}`);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  const html = r.body.toString('utf8');
  for (const text of shows) check(html.includes(text), `${t.kind}: GET ${path}: does not show ${text}`);
  sizes.set(path, r.body.length);
  return { requests: 1, entries: 1 };
}

/**
 * @param {ScaleClient} t
 * @param {ScaleSettings} s
 * @param {ScaleResult} result
 */
export async function measureUi(t, s, result) {
  const reps = s.reps;
  /** @type {Map<string, number>} */
  const sizes = new Map();
  const nTags = tagCount(t, s);
  const deepTag = Math.min(Math.floor(nTags * 0.9), nTags - 102);
  const deepRepo = Math.min(Math.floor(s.repos * 0.9), s.repos - 101);
  const searched = repoName(deepRepo);
  /** @type {[string, string, string[]][]} */
  const pages = [
    ['UI repositories (first page)', '/ui/repositories', [`/ui/repo/${repoName(0)}"`]],
    [
      'UI repositories (page at 90 %)',
      `/ui/repositories?cursor=${repoName(deepRepo)}`,
      [`/ui/repo/${repoName(deepRepo + 1)}"`],
    ],
    ['UI repositories, name search', `/ui/repositories?q=${searched}`, [`/ui/repo/${searched}"`]],
    ['UI repository: tags (first page)', `/ui/repo/${TAG_REPO}`, ['>subject<', `>${tagName(0)}<`]],
    [
      'UI repository: tags (page at 90 %)',
      `/ui/repo/${TAG_REPO}?cursor=${tagName(deepTag)}`,
      [`>${tagName(deepTag + 1)}<`],
    ],
    ['UI package with 1,000 referrers', `/ui/repo/${TAG_REPO}/-/package/subject`, ['The first 50 referrers']],
    ['UI events (the last 50)', '/ui/events', ['id="live-events"']],
  ];
  for (const [label, path, shows] of pages) {
    const figure = await measure(t, label, reps, () => page(t, path, shows, sizes));
    result.figures.push(figure);
    result.notes.push(`${label}: ${Math.round((sizes.get(path) ?? 0) / 1024)} KiB of HTML`);
  }
}
