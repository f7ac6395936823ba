// One repository: its counts and settings, its tags a page at a time (kind, digest, size, created),
// and, for an admin of holds, the legal holds in force on it.
import { apiPath } from '../api-client.js';
import { bytes, short, time } from '../format.js';
import { Head } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';
import type { HoldJson, RepositoryJson, TagJson } from '../types.js';

const PAGE = 100;
const KIND: Record<TagJson['kind'], string> = {
  image: 'OCI image',
  index: 'OCI index',
  artifact: 'OCI artifact',
  native: 'native package',
};

export async function repositoryPage(ui: Ui, name: string): Promise<PageResult> {
  const cursor = ui.c.req.query('cursor') || undefined;
  const [repo, tags] = await Promise.all([
    ui.api.get<RepositoryJson>(apiPath(['repositories', name])),
    ui.api.get<{ tags: TagJson[]; next?: string }>(
      apiPath(['repositories', name, 'tags'], { cursor, limit: PAGE }),
    ),
  ]);
  const holds = ui.access.isAdmin('holds')
    ? (await ui.api.get<{ holds: HoldJson[] }>(apiPath(['holds'], { repository: name, limit: 100 }))).holds
    : undefined;
  const base = `/ui/repo/${name}`;
  return {
    title: name,
    section: '/ui/repositories',
    body: (
      <>
        <p class="muted">
          <a href="/ui/repositories">Repositories</a> /
        </p>
        <h1>{name}</h1>
        <dl class="facts">
          <dt>Packages</dt>
          <dd>{repo.packages}</dd>
          <dt>Tags</dt>
          <dd>{repo.tags}</dd>
          <dt>Size</dt>
          <dd>{bytes(repo.size)}</dd>
          <dt>Last push</dt>
          <dd>{time(repo.last_push_at)}</dd>
          <dt>Tags are</dt>
          <dd>
            {repo.immutable_tags ? (
              <span class="badge warn">immutable: a tag, once set, never moves</span>
            ) : (
              'mutable'
            )}
          </dd>
          <dt>Legal holds</dt>
          <dd>
            {holds === undefined
              ? 'shown to admins of holds'
              : holds.length === 0
                ? 'none'
                : holds.map((h) => (
                    <div>
                      <span class="badge bad">hold</span>{' '}
                      {h.tag ? `tag ${h.tag}` : h.digest ? short(h.digest) : 'whole repository'}: {h.reason}{' '}
                      <span class="muted">({time(h.placed_at)})</span>
                    </div>
                  ))}
          </dd>
        </dl>
        <h2 id="tags">Tags</h2>
        <div class="scroll">
          <table>
            <Head columns={['Tag', 'Kind', 'Digest', ['Size', 'num'], 'Created']} />
            <tbody>
              {tags.tags.map((t) => (
                <tr>
                  <td>
                    <a href={`${base}/-/package/${encodeURIComponent(t.name)}`}>{t.name}</a>
                    {holds?.some((h) => h.tag === t.name || h.digest === t.digest) && (
                      <>
                        {' '}
                        <span class="badge bad">held</span>
                      </>
                    )}
                  </td>
                  <td>
                    {KIND[t.kind]}
                    {t.kind === 'artifact' && t.artifact_type && (
                      <div class="muted mono">{t.artifact_type}</div>
                    )}
                  </td>
                  <td>
                    <a class="mono" href={`${base}/-/package/${t.digest}`} title={t.digest}>
                      {short(t.digest)}
                    </a>
                  </td>
                  <td class="num">{bytes(t.size)}</td>
                  <td>{time(t.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {tags.tags.length === 0 && <p class="muted">No tags{cursor ? ' after this one' : ''}.</p>}
        <nav class="pager" aria-label="Pages of tags">
          {cursor && <a href={`${base}#tags`}>First page</a>}
          {tags.next && <a href={`${base}?cursor=${encodeURIComponent(tags.next)}#tags`}>Next page</a>}
        </nav>
      </>
    ),
  };
}
