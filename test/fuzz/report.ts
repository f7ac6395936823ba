// Collects the fuzz's violations and groups them into classes (kind and likely cause), reported
// with a few minimal examples each.
import { headerText } from './oracle.js';

/** What is kept of one exchange for the report. */
export interface Exchange {
  method: string;
  path: string;
  /** Endpoint the generator aimed at (base, catalog, tags, manifest, blob, uploads, upload, …). */
  endpoint: string;
  /** Features of the request (e.g. `id:nul`, `q.last:nul`), used to name the likely cause. */
  labels: readonly string[];
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** For raw-socket exchanges: the bytes written. */
  raw?: Buffer;
  /** Context shown with an example (e.g. the other requests of a race). */
  note?: string;
}

interface Violation {
  kind: string;
  exchange: Exchange;
  observed: string;
  /** The label known to cause it (e.g. the name class of a name that must be refused). */
  cause?: string;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/** Printable form of bytes: JSON-escaped text, control characters and non-ASCII visible. */
export function preview(bytes: Buffer | undefined, max = 64): string {
  if (!bytes || bytes.byteLength === 0) return '';
  let text = '';
  for (const byte of bytes.subarray(0, max)) {
    if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else if (byte === 0x0d) text += '\\r';
    else if (byte === 0x0a) text += '\\n';
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return bytes.byteLength > max ? `"${text}"…(${bytes.byteLength} B)` : `"${text}"`;
}

export function describeResponse(status: number, body: Buffer, failure?: string): string {
  const parts = [status === 0 ? 'no status' : String(status)];
  if (failure) parts.push(`[${failure}]`);
  if (body.byteLength > 0) parts.push(clip(body.toString('utf8'), 200));
  return parts.join(' ');
}

/** Labels naming a hostile value (NUL, lone surrogate, control characters, races…): preferred as a cause. */
const HOSTILE_LABEL = /nul|surrogate|ctl|concurrent|bad-utf8|bad-pct|dotdot|backslash|deep|method:FUZZ/;
/** Labels that describe a request's shape rather than a suspicious value: last resort as a cause. */
const GENERIC_LABEL =
  /^(body:|ct:natural|te:|conn:|valid$|race$|race-move:|ref:|q\.tag:valid|from:|name:(tracked|scratch|session-repo|random-valid)$|mf:(image|index|artifact|oci-artifact|docker|docker-list|none)$|(ref-)?dig:(pool|pool-manifest|unknown)$|id:real$|tag:valid$)/;

/**
 * Collects violations and groups them into classes: the kind of violation plus its likely cause —
 * the request label whose requests most often end in this violation (smoothed precision; labels
 * naming a hostile value count for more, labels that only describe a request's shape for less).
 */
export class FuzzReport {
  private readonly violations: Violation[] = [];
  private readonly labelTotals = new Map<string, number>();
  requests = 0;

  /** Counts a request that was sent (for attributing violations to labels). */
  sent(exchange: Exchange): void {
    this.requests += 1;
    for (const label of new Set(exchange.labels))
      this.labelTotals.set(label, (this.labelTotals.get(label) ?? 0) + 1);
  }

  add(kind: string, exchange: Exchange, observed: string, cause?: string): void {
    this.violations.push({ kind, exchange, observed, cause });
  }

  get size(): number {
    return this.violations.length;
  }

  format(title: string): string {
    if (this.violations.length === 0) return `${title}: no violations`;
    const perKindLabel = new Map<string, number>();
    for (const v of this.violations) {
      for (const label of new Set(v.exchange.labels)) {
        const key = `${v.kind}\u0000${label}`;
        perKindLabel.set(key, (perKindLabel.get(key) ?? 0) + 1);
      }
    }
    const cause = (v: Violation): string => {
      if (v.cause) return v.cause;
      let best: string | undefined;
      let bestScore = -1;
      for (const label of [...new Set(v.exchange.labels)].sort()) {
        const hits = perKindLabel.get(`${v.kind}\u0000${label}`) ?? 0;
        const total = Math.max(this.labelTotals.get(label) ?? hits, hits);
        const weight = HOSTILE_LABEL.test(label) ? 4 : GENERIC_LABEL.test(label) ? 0.1 : 1;
        const score = (hits / (total + 2)) * weight;
        if (score > bestScore) {
          best = label;
          bestScore = score;
        }
      }
      return best ?? '-';
    };
    const groups = new Map<string, Violation[]>();
    for (const v of this.violations) {
      const key = `${v.kind} [${cause(v)}]`;
      const list = groups.get(key) ?? [];
      list.push(v);
      groups.set(key, list);
    }
    const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    const lines = [
      `${title}: ${this.violations.length} violations in ${sorted.length} classes (${this.requests} requests)`,
    ];
    for (const [i, [key, list]] of sorted.entries()) {
      const where = new Map<string, number>();
      for (const v of list) {
        const at = `${v.exchange.method} ${v.exchange.endpoint}`;
        where.set(at, (where.get(at) ?? 0) + 1);
      }
      const places = [...where.entries()]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([at, n]) => `${at} ${n}`)
        .join(', ');
      lines.push('', `[${i + 1}] ${key} — ${list.length}× (${places})`);
      const common = list[0]!.exchange.labels.filter((l) => list.every((v) => v.exchange.labels.includes(l)));
      if (common.length > 0) lines.push(`    in every case: ${common.join(', ')}`);
      const size = (v: Violation) =>
        v.exchange.labels.length * 1000 +
        (v.exchange.body?.byteLength ?? v.exchange.raw?.byteLength ?? 0) / 100 +
        v.exchange.path.length;
      // The smallest examples, from different endpoints where there are several.
      const examples: Violation[] = [];
      for (const v of [...list].sort((a, b) => size(a) - size(b))) {
        if (examples.length === 3) break;
        const at = `${v.exchange.method} ${v.exchange.endpoint}`;
        if (
          examples.some((e) => `${e.exchange.method} ${e.exchange.endpoint}` === at) &&
          where.size > examples.length
        ) {
          continue;
        }
        examples.push(v);
      }
      for (const v of examples) lines.push(...formatExample(v));
    }
    return lines.join('\n');
  }
}

function formatExample(v: Violation): string[] {
  const e = v.exchange;
  const lines: string[] = [];
  if (e.raw) {
    lines.push(`    - raw ${preview(e.raw, 160)}`);
  } else {
    const headers = Object.entries(e.headers ?? {})
      .map(([k, val]) => `${k}: ${clip(headerText(val) ?? '', 80)}`)
      .join('; ');
    lines.push(`    - ${e.method} ${clip(e.path, 240)}`);
    if (headers) lines.push(`      headers: ${headers}`);
    if (e.body && e.body.byteLength > 0) lines.push(`      body: ${preview(e.body)}`);
  }
  if (e.note) lines.push(`      note: ${e.note}`);
  lines.push(`      labels: ${e.labels.join(', ') || '-'}`);
  lines.push(`      → ${clip(v.observed, 300)}`);
  return lines;
}
