// Applications and their releases: the current one, every release, the history of what was current
// (from the event log: each rollback is an event), and — for an admin of releases — a rollback.
import { apiPath } from '../api-client.js';
import { time } from '../format.js';
import { ActionForm, Head, Notice } from '../layout.js';
import { type PageResult, type Ui, UiNotFound, uiForm } from '../routes.js';
import type { AppJson, EventJson, HeadJson, ReleaseJson } from '../types.js';

export async function releasesPage(ui: Ui): Promise<PageResult> {
  const cursor = ui.c.req.query('cursor') || undefined;
  const { apps, next } = await ui.api.get<{ apps: AppJson[]; next?: string }>(
    apiPath(['apps'], { cursor, limit: 100 }),
  );
  return {
    title: 'Releases',
    section: '/ui/releases',
    body: (
      <>
        <h1>Releases</h1>
        {apps.length === 0 ? (
          <p class="muted">No applications yet.</p>
        ) : (
          <div class="scroll">
            <table>
              <Head columns={['Application', 'Current release', 'Image', 'Created']} />
              <tbody>
                {apps.map((a) => (
                  <tr>
                    <td>
                      <a href={`/ui/releases/${a.name}`}>{a.name}</a>
                    </td>
                    <td>{a.current ? `#${a.current.number}` : '—'}</td>
                    <td class="mono">{a.current?.image ?? '—'}</td>
                    <td>{time(a.current?.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {next && (
          <nav class="pager" aria-label="Pages">
            <a href={`/ui/releases?cursor=${encodeURIComponent(next)}`}>Next page</a>
          </nav>
        )}
      </>
    ),
  };
}

export async function appPage(ui: Ui, name: string, notice?: unknown): Promise<PageResult> {
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name)) throw new UiNotFound();
  const [app, { releases }] = await Promise.all([
    ui.api.get<AppJson>(apiPath(['apps', name])),
    ui.api.get<{ releases: ReleaseJson[] }>(apiPath(['apps', name, 'releases'], { limit: 100 })),
  ]);
  const history = ui.access.isAdmin('events') ? await currentHistory(ui, name) : undefined;
  const admin = ui.access.isAdmin('releases');
  return {
    title: `${name} releases`,
    section: '/ui/releases',
    body: (
      <>
        <p class="muted">
          <a href="/ui/releases">Releases</a> /
        </p>
        <h1>{name}</h1>
        {notice}
        <p>
          Current release:{' '}
          <strong data-testid="current">{app.current ? `#${app.current.number}` : 'none'}</strong>
        </p>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col" class="num">
                  Release
                </th>
                <th scope="col">Image</th>
                <th scope="col">Platform manifest</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="muted">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {releases.map((r) => {
                const current = app.current?.number === r.number;
                const [repo, digest] = r.image.split('@');
                return (
                  <tr>
                    <td class="num">
                      #{r.number} {current && <span class="badge ok">current</span>}
                    </td>
                    <td class="mono">
                      <a href={`/ui/repo/${repo}/-/package/${digest}`}>{r.image}</a>
                    </td>
                    <td class="mono">
                      {r.platform.schema}
                      <div class="muted">{r.platform.address}</div>
                    </td>
                    <td>{time(r.created_at)}</td>
                    <td>
                      {admin && !current && (
                        <ActionForm
                          action={`/ui/releases/${name}/current`}
                          csrf={ui.user.csrf}
                          label={`make #${r.number} current`}
                        >
                          <input type="hidden" name="release" value={String(r.number)} />
                          <label>
                            Reason
                            <input name="reason" required maxLength={500} />
                          </label>
                          <button type="submit">
                            {app.current && r.number < app.current.number ? 'Roll back' : 'Make current'}
                          </button>
                        </ActionForm>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <h2>What was current, and when</h2>
        {history === undefined ? (
          <p class="muted">The history comes from the event log, shown to admins of events.</p>
        ) : history.length === 0 ? (
          <p class="muted">No changes recorded.</p>
        ) : (
          <ol reversed>
            {history.map((e) => (
              <li>
                {time(e.at)}: #{String(e.payload.number)}
                {e.payload.previous !== undefined && ` (was #${String(e.payload.previous)})`}
                {e.payload.reason !== undefined && ` — ${String(e.payload.reason)}`}
                <span class="muted">
                  {' '}
                  by{' '}
                  {String(
                    (e.payload.actor as { name?: string; kind?: string })?.name ??
                      (e.payload.actor as { kind?: string })?.kind,
                  )}
                </span>
              </li>
            ))}
          </ol>
        )}
      </>
    ),
  };
}

/** The `release.current-set` events of `app`, newest first, from the last 10,000 events of that type. */
async function currentHistory(ui: Ui, app: string): Promise<EventJson[]> {
  const head = await ui.api.get<HeadJson>(apiPath(['events', 'head']));
  const found: EventJson[] = [];
  let after = Math.max(0, head.seq - 100_000);
  for (let pages = 0; pages < 10; pages++) {
    const { events } = await ui.api.get<{ events: EventJson[] }>(
      apiPath(['events'], { after, limit: 1000, type: 'release.current-set' }),
    );
    found.push(...events.filter((e) => e.payload.app === app));
    if (events.length < 1000) break;
    after = events.at(-1)!.seq;
  }
  return found.reverse();
}

/** POST /ui/releases/:app/current — a rollback (admin `releases`), recorded with its reason. */
export async function rollbackAction(ui: Ui, name: string): Promise<PageResult> {
  const form = await uiForm(ui.c);
  const release = Number(form.get('release'));
  const reason = form.get('reason')?.trim() ?? '';
  if (!Number.isInteger(release) || release < 1) throw new UiNotFound();
  await ui.api.json('PUT', apiPath(['apps', name, 'current']), { release, ...(reason ? { reason } : {}) });
  return appPage(ui, name, <Notice kind="ok">{`Release #${release} is current now.`}</Notice>);
}
