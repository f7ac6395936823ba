// Repositories the caller may pull: a name search, counts, size and last push, a page at a time
// (the API's keyset cursor, so the 100th page costs what the first does).
import { apiPath } from '../api-client.js';
import { bytes, time } from '../format.js';
import { Head } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';
import type { RepositoryJson } from '../types.js';

const PAGE = 50;

export async function repositoriesPage(ui: Ui): Promise<PageResult> {
  const q = ui.c.req.query('q')?.trim() || undefined;
  const cursor = ui.c.req.query('cursor') || undefined;
  const page = await ui.api.get<{ repositories: RepositoryJson[]; next?: string }>(
    apiPath(['repositories'], { q, cursor, limit: PAGE }),
  );
  const more = (next: string) =>
    `/ui/repositories?${new URLSearchParams({ ...(q ? { q } : {}), cursor: next })}`;
  return {
    title: 'Repositories',
    section: '/ui/repositories',
    body: (
      <>
        <h1>Repositories</h1>
        <search>
          <form method="get" action="/ui/repositories" class="inline">
            <label>
              Name contains
              <input type="search" name="q" value={q ?? ''} />
            </label>
            <button type="submit">Search</button>
          </form>
        </search>
        <div class="scroll">
          <table>
            <caption>
              {page.repositories.length === 0
                ? q
                  ? `No repository name contains “${q}”.`
                  : 'No repositories yet.'
                : `${page.repositories.length} shown${page.next ? ', more on the next page' : ''}${cursor ? ` (after ${cursor})` : ''}`}
            </caption>
            <Head
              columns={[
                'Name',
                ['Packages', 'num'],
                ['Tags', 'num'],
                ['Size', 'num'],
                'Last push',
                'Tags are',
              ]}
            />
            <tbody>
              {page.repositories.map((r) => (
                <tr>
                  <td>
                    <a href={`/ui/repo/${r.name}`}>{r.name}</a>
                  </td>
                  <td class="num">{r.packages}</td>
                  <td class="num">{r.tags}</td>
                  <td class="num">{bytes(r.size)}</td>
                  <td>{time(r.last_push_at)}</td>
                  <td>{r.immutable_tags ? <span class="badge warn">immutable</span> : 'mutable'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Pages">
          {cursor && <a href={`/ui/repositories${q ? `?q=${encodeURIComponent(q)}` : ''}`}>First page</a>}
          {page.next && <a href={more(page.next)}>Next page</a>}
        </nav>
      </>
    ),
  };
}
