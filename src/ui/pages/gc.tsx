// Garbage collection runs, from the event log (each run is a gc.started and a gc.finished event with
// what it freed), and — for an admin of gc — a run now.
import { apiPath } from '../api-client.js';
import { bytes, time } from '../format.js';
import { ActionForm, Head, Notice } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';
import type { EventJson, GcCountsJson, GcReportJson, HeadJson } from '../types.js';

const WINDOW = 100_000;

export async function gcPage(ui: Ui, notice?: unknown): Promise<PageResult> {
  if (!ui.access.isAdmin('events')) {
    return {
      title: 'Garbage collection',
      section: '/ui/gc',
      body: (
        <>
          <h1>Garbage collection</h1>
          <Notice>Runs are read from the event log, shown to admins of events.</Notice>
        </>
      ),
    };
  }
  const head = await ui.api.get<HeadJson>(apiPath(['events', 'head']));
  const { events } = await ui.api.get<{ events: EventJson[] }>(
    apiPath(['events'], { after: Math.max(0, head.seq - WINDOW), limit: 1000, type: 'gc.*' }),
  );
  const runs = new Map<string, { started?: EventJson; finished?: EventJson }>();
  for (const e of events) {
    const id = String(e.payload.run);
    const run = runs.get(id) ?? {};
    if (e.type === 'gc.started') run.started = e;
    else run.finished = e;
    runs.set(id, run);
  }
  const rows = [...runs.entries()].reverse();
  return {
    title: 'Garbage collection',
    section: '/ui/gc',
    body: (
      <>
        <h1>Garbage collection</h1>
        {notice}
        {ui.access.isAdmin('gc') && (
          <div class="actions">
            <ActionForm action="/ui/gc/run" csrf={ui.user.csrf} label="run garbage collection">
              <button type="submit">Run now</button>
            </ActionForm>
          </div>
        )}
        {rows.length === 0 ? (
          <p class="muted">No runs recorded.</p>
        ) : (
          <div class="scroll">
            <table>
              <Head
                columns={[
                  'Run',
                  'Started',
                  'Finished',
                  ['Tags', 'num'],
                  ['Manifests', 'num'],
                  ['Blobs', 'num'],
                  ['Freed', 'num'],
                ]}
              />
              <tbody>
                {rows.map(([id, run]) => {
                  const freed = run.finished?.payload.freed as GcCountsJson | undefined;
                  return (
                    <tr>
                      <td class="mono">{id.slice(0, 8)}</td>
                      <td>{time(run.started?.at)}</td>
                      <td>{run.finished ? time(run.finished.at) : 'not finished'}</td>
                      <td class="num">{freed?.tags ?? '—'}</td>
                      <td class="num">{freed?.manifests ?? '—'}</td>
                      <td class="num">{freed?.blobs ?? '—'}</td>
                      <td class="num">{freed ? bytes(freed.bytes) : '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </>
    ),
  };
}

export async function gcRunAction(ui: Ui): Promise<PageResult> {
  const report = await ui.api.json<GcReportJson>('POST', apiPath(['gc']));
  return gcPage(
    ui,
    <Notice kind="ok">{`Run ${report.run.slice(0, 8)} removed ${counted(report.freed.tags, 'tag')}, ${counted(report.freed.manifests, 'manifest')} and ${counted(report.freed.blobs, 'blob')}, freeing ${bytes(report.freed.bytes)}.`}</Notice>,
  );
}

const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
