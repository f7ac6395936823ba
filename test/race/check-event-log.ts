// After-the-fact check: the event log tells one consistent story (upload, commit and link events
// agree with each other and with what the client saw), its hash chain verifies, and rebuilding the
// views from it gives the live views.
import type { Database } from '../../src/control-plane/db.js';
import { readEvents, rebuildViews, verifyEventLog } from '../../src/control-plane/event-log.js';
import { snapshotViews } from '../helpers/registry.js';
import type { Violations } from './report.js';

/** What the client saw of its upload sessions. */
export interface ClientUploads {
  /** ids the client got from a 202 Location */
  started: Set<string>;
  /** ids the client saw answer 201 to a PUT */
  completed: Set<string>;
  /** ids the client saw answer 204 to a DELETE */
  cancelled: Set<string>;
}

export function newClientUploads(): ClientUploads {
  return { started: new Set(), completed: new Set(), cancelled: new Set() };
}

export interface LogScope {
  /** Only look at events of these repositories (upload and link events; commits of blobs they link). */
  repository?: (name: string) => boolean;
}

export interface LogEntry {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
}

/** The whole event log, paged through readEvents. */
export async function readAllEvents(db: Database): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let after = 0;
  for (;;) {
    const batch = await readEvents(db, after, 1000);
    if (batch.length === 0) break;
    for (const e of batch) {
      const { type, ...payload } = e.event as { type: string } & Record<string, unknown>;
      all.push({ seq: e.seq, type, payload });
      after = e.seq;
    }
  }
  return all;
}

const isTerminal = (type: string) =>
  type === 'upload.completed' || type === 'upload.cancelled' || type.startsWith('upload.expired');

/**
 * Upload, commit and link events: one upload.started per id and at most one terminal event
 * (completed / cancelled / expired) with nothing after it; blob.committed at most once per sha256;
 * no double blob.linked; what the client saw (201, 204) is in the log.
 */
export function checkEventStory(
  events: readonly LogEntry[],
  client: ClientUploads,
  v: Violations,
  scope: LogScope = {},
): void {
  const inScope = (repository: unknown) =>
    !scope.repository || (typeof repository === 'string' && scope.repository(repository));
  const uploads = new Map<string, LogEntry[]>();
  const committed = new Map<string, number[]>();
  const linked = new Map<string, boolean>();
  const scopedShas = new Set<string>();
  for (const e of events) {
    const p = e.payload;
    if (e.type.startsWith('upload.')) {
      if (!inScope(p.repository)) continue;
      const id = String(p.id);
      const list = uploads.get(id) ?? [];
      list.push(e);
      uploads.set(id, list);
    } else if (e.type === 'blob.committed') {
      const list = committed.get(String(p.sha256)) ?? [];
      list.push(e.seq);
      committed.set(String(p.sha256), list);
    } else if (e.type === 'blob.linked' || e.type === 'blob.unlinked') {
      if (!inScope(p.repository)) continue;
      scopedShas.add(String(p.sha256));
      const key = `${p.repository} ${String(p.sha256).slice(0, 16)}…`;
      const isLinked = linked.get(key) ?? false;
      if (e.type === 'blob.linked' && isLinked)
        v.add('blob.linked twice without blob.unlinked in between', `${key} (second at seq ${e.seq})`);
      if (e.type === 'blob.unlinked' && !isLinked)
        v.add('blob.unlinked without a link', `${key} (seq ${e.seq})`);
      linked.set(key, e.type === 'blob.linked');
    }
  }
  for (const [sha256, seqs] of committed) {
    if (scope.repository && !scopedShas.has(sha256)) continue;
    if (seqs.length > 1) v.add('blob.committed more than once', `${sha256} at seqs ${seqs.join(', ')}`);
  }
  for (const [id, list] of uploads) {
    const describe = () => list.map((e) => `${e.type.slice('upload.'.length)}@${e.seq}`).join(' ');
    const started = list.filter((e) => e.type === 'upload.started');
    if (started.length !== 1) v.add('upload.started not exactly once', `${id}: ${describe()}`);
    else if (list[0]?.type !== 'upload.started')
      v.add('upload event before upload.started', `${id}: ${describe()}`);
    const terminals = list.filter((e) => isTerminal(e.type));
    if (terminals.length > 1) v.add('more than one terminal event for an upload', `${id}: ${describe()}`);
    const firstTerminal = list.findIndex((e) => isTerminal(e.type));
    if (firstTerminal >= 0 && list.slice(firstTerminal + 1).some((e) => !isTerminal(e.type)))
      v.add('upload event after the terminal event', `${id}: ${describe()}`);
  }
  const types = (id: string) => new Set((uploads.get(id) ?? []).map((e) => e.type));
  for (const id of client.started) {
    if (!types(id).has('upload.started')) v.add('upload the client started has no upload.started', id);
  }
  for (const id of client.completed) {
    if (!types(id).has('upload.completed'))
      v.add('client saw 201 but the log has no upload.completed', `${id}: ${[...types(id)].join(' ')}`);
  }
  for (const id of client.cancelled) {
    if (!types(id).has('upload.cancelled'))
      v.add(
        'client saw 204 (cancel) but the log has no upload.cancelled',
        `${id}: ${[...types(id)].join(' ')}`,
      );
  }
}

/** verifyEventLog: the hash chain is intact. */
export async function checkHashChain(db: Database, v: Violations): Promise<void> {
  const broken = await verifyEventLog(db);
  if (broken !== undefined) v.add('event log hash chain broken', `first bad seq ${broken}`);
}

/** Rebuilding the views from the log gives the rows of the live views (leaves the rebuilt views in place). */
export async function checkRebuiltViews(db: Database, v: Violations): Promise<void> {
  const live = await snapshotViews(db);
  try {
    await rebuildViews(db);
  } catch (error) {
    v.add('rebuildViews failed', (error as Error).message.split('\n')[0] ?? String(error));
    return;
  }
  const rebuilt = await snapshotViews(db);
  for (const table of new Set([...Object.keys(live), ...Object.keys(rebuilt)])) {
    const a = new Set(live[table] ?? []);
    const b = new Set(rebuilt[table] ?? []);
    const onlyLive = [...a].filter((row) => !b.has(row));
    const onlyRebuilt = [...b].filter((row) => !a.has(row));
    if (onlyLive.length + onlyRebuilt.length > 0) {
      v.add(
        'rebuilt views differ from the live views',
        `${table}: ${onlyLive.length} row(s) only live (e.g. ${onlyLive[0] ?? '-'}), ` +
          `${onlyRebuilt.length} only rebuilt (e.g. ${onlyRebuilt[0] ?? '-'})`,
      );
    }
  }
}

/** Check 5 in full: the story, the hash chain and the rebuilt views. */
export async function checkEventLog(
  db: Database,
  client: ClientUploads,
  v: Violations,
  scope: LogScope = {},
): Promise<number> {
  const events = await readAllEvents(db);
  checkEventStory(events, client, v, scope);
  await checkHashChain(db, v);
  await checkRebuiltViews(db, v);
  return events.length;
}
