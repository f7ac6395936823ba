// The event log: the latest events (filtered by type and repository), new ones appearing live over
// SSE, the chain head, and — for an admin of events — a check of the whole hash chain.
import type { Context } from 'hono';
import type { Env } from '../../http/request.js';
import { type ApiClient, apiPath } from '../api-client.js';
import { time } from '../format.js';
import { ActionForm, Head, Notice } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';
import type { EventJson, HeadJson } from '../types.js';

const SHOWN = 50;
/** How far back the latest events are looked for (the API pages forwards from a sequence number). */
const WINDOW = 1000;

interface Filters {
  type?: string;
  repository?: string;
}

function filtersOf(c: Context<Env>): Filters {
  const type = c.req.query('type')?.trim() || undefined;
  const repository = c.req.query('repository')?.trim() || undefined;
  return { ...(type ? { type } : {}), ...(repository ? { repository } : {}) };
}

export async function eventsPage(ui: Ui, verified?: unknown): Promise<PageResult> {
  const filters = filtersOf(ui.c);
  const before = Number(ui.c.req.query('before') ?? '') || undefined;
  const head = await ui.api.get<HeadJson>(apiPath(['events', 'head']));
  const end = Math.min(before ? before - 1 : head.seq, head.seq);
  // Unfiltered, the last events are exactly the SHOWN before `end`; filtered, they are looked for in
  // the WINDOW before it.
  const filtered = Object.keys(filters).length > 0;
  const after = Math.max(0, end - (filtered ? WINDOW : SHOWN));
  const page = await ui.api.get<{ events: EventJson[] }>(
    apiPath(['events'], { after, limit: filtered ? WINDOW : SHOWN, ...filters }),
  );
  // Oldest first, as a log reads; live events are added at the end.
  const events = page.events.filter((e) => e.seq <= end).slice(-SHOWN);
  const stream = `/ui/events/stream?${new URLSearchParams({ ...filters })}`;
  const oldest = events[0]?.seq;
  return {
    title: 'Events',
    section: '/ui/events',
    body: (
      <>
        <h1>Events</h1>
        {verified}
        <div class="panel" id="chain-head">
          <dl class="facts">
            <dt>Chain head</dt>
            <dd>
              sequence <strong data-seq="">{head.seq}</strong>, hash <code data-hash="">{head.hash}</code>
            </dd>
          </dl>
          {ui.access.isAdmin('events') && (
            <div class="actions">
              <ActionForm action="/ui/events/verify" csrf={ui.user.csrf} label="verify the chain">
                <button type="submit">Verify chain</button>
              </ActionForm>{' '}
              <span class="muted">recomputes every event's hash from the one before it</span>
            </div>
          )}
        </div>
        <search>
          <form method="get" action="/ui/events" class="inline">
            <label>
              Type (e.g. tag.*)
              <input name="type" value={filters.type ?? ''} />
            </label>
            <label>
              Repository
              <input name="repository" value={filters.repository ?? ''} />
            </label>
            <button type="submit">Filter</button>
          </form>
        </search>
        <p id="live-status" class="status muted" aria-live="polite">
          {before ? 'Older events: live updates are on the first page.' : 'Connecting for live updates…'}
        </p>
        <div class="log">
          <table class="events">
            <Head columns={[['Seq', 'num'], 'Type', 'Repository', 'Actor', 'At', 'Hash']} />
            <tbody id="live-events" data-stream={before ? undefined : stream}>
              {events.map((e) => (
                <tr id={`event-${e.seq}`}>
                  <td class="num">{e.seq}</td>
                  <td>{e.type}</td>
                  <td>{e.repository ?? '—'}</td>
                  <td>{actorOf(e)}</td>
                  <td>{time(e.at)}</td>
                  <td>
                    <code>{`${e.hash.slice(0, 16)}…`}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {events.length === 0 && (
          <p class="muted">No events{Object.keys(filters).length ? ' match' : ''} here.</p>
        )}
        <nav class="pager" aria-label="Pages of events">
          {before && <a href={`/ui/events?${new URLSearchParams({ ...filters })}`}>Latest</a>}
          {oldest !== undefined && oldest > 1 && (
            <a href={`/ui/events?${new URLSearchParams({ ...filters, before: String(oldest) })}`}>Older</a>
          )}
        </nav>
      </>
    ),
  };
}

function actorOf(e: EventJson): string {
  const actor = e.payload.actor as { kind?: string; name?: string } | undefined;
  return actor?.name ?? actor?.kind ?? '—';
}

/** POST /ui/events/verify: the chain check's result above the events. */
export async function verifyAction(ui: Ui): Promise<PageResult> {
  const result = await ui.api.get<{ intact: boolean; head: HeadJson; broken_at: number | null; ms: number }>(
    apiPath(['events', 'verify']),
  );
  const notice = result.intact ? (
    <Notice kind="ok">
      <span data-testid="verify-result">
        Hash chain intact: {result.head.seq} events checked up to hash{' '}
        <code>{result.head.hash.slice(0, 16)}…</code> in {result.ms} ms.
      </span>
    </Notice>
  ) : (
    <Notice kind="bad">
      <span data-testid="verify-result">The hash chain breaks at sequence {result.broken_at}.</span>
    </Notice>
  );
  return eventsPage(ui, notice);
}

/**
 * GET /ui/events/stream: the API's event stream as the page's session sees it, each event sent as a
 * plain SSE message (the page need not know every type's name). Last-Event-ID passes through, so a
 * reconnecting browser loses nothing.
 */
export async function eventStream(api: ApiClient, c: Context<Env>): Promise<Response> {
  const filters = filtersOf(c);
  const lastEventId = c.req.header('last-event-id');
  const upstream = await api.call(
    'GET',
    apiPath(['events', 'stream'], { ...filters }),
    undefined,
    lastEventId && /^\d{1,15}$/.test(lastEventId) ? { 'Last-Event-ID': lastEventId } : {},
  );
  if (!upstream.ok || !upstream.body) return new Response(await upstream.text(), { status: upstream.status });
  let carry = '';
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const plain = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const lines = (carry + decoder.decode(chunk, { stream: true })).split('\n');
      carry = lines.pop() ?? '';
      const kept = lines.filter((line) => !line.startsWith('event:'));
      if (kept.length > 0) controller.enqueue(encoder.encode(`${kept.join('\n')}\n`));
    },
  });
  return new Response(upstream.body.pipeThrough(plain), {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    },
  });
}
