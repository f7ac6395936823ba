// What a race run reports: violations grouped by kind (with notes that are not failures), tallies of
// labelled outcomes, and the server's unexpected errors, captured and grouped.

/** Violations grouped by kind, with examples; notes are shown alongside but are not failures. */
export class Violations {
  private readonly byKind = new Map<string, string[]>();
  private readonly notesByKind = new Map<string, string[]>();

  add(kind: string, example: string): void {
    const list = this.byKind.get(kind) ?? [];
    list.push(example);
    this.byKind.set(kind, list);
  }

  /** Something worth showing that is not a failure (e.g. orphan files). */
  note(kind: string, example: string): void {
    const list = this.notesByKind.get(kind) ?? [];
    list.push(example);
    this.notesByKind.set(kind, list);
  }

  get count(): number {
    let n = 0;
    for (const list of this.byKind.values()) n += list.length;
    return n;
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }

  has(kind: string): boolean {
    return this.byKind.has(kind);
  }

  summary(examples = 4): string {
    const lines: string[] = [];
    const section = (map: Map<string, string[]>, title: string) => {
      if (map.size === 0) return;
      lines.push(title);
      const sorted = [...map.entries()].sort((a, b) => b[1].length - a[1].length);
      for (const [kind, list] of sorted) {
        lines.push(`  [${list.length}×] ${kind}`);
        for (const example of list.slice(0, examples)) lines.push(`      - ${example}`);
        if (list.length > examples) lines.push(`      … and ${list.length - examples} more`);
      }
    };
    section(this.byKind, `${this.count} violation(s) in ${this.byKind.size} kind(s):`);
    section(this.notesByKind, 'notes (not failures):');
    return lines.join('\n');
  }
}

/** Throws one error carrying the grouped summary (instead of many assertion failures). */
export function assertNoViolations(v: Violations, title: string, context = ''): void {
  if (v.count === 0) return;
  throw new Error(`${title}${context ? ` (${context})` : ''}\n${v.summary()}`);
}

/** Counts labelled outcomes (e.g. "PATCH → 404 BLOB_UPLOAD_UNKNOWN") for the run's printout. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }

  format(): string {
    return [...this.counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, n]) => `  ${String(n).padStart(6)}  ${label}`)
      .join('\n');
  }
}

/**
 * The server logs unexpected errors at level error (JSON lines, collected by the test server when it
 * runs with LOG_LEVEL=error). Groups those written from now on by message, with ids and paths masked,
 * so the run's output stays readable.
 */
export function captureServerErrors(server: { logs(): string[] }): { stop(): Map<string, number> } {
  const from = server.logs().length;
  return {
    stop() {
      const seen = new Map<string, number>();
      for (const line of server.logs().slice(from)) {
        let entry: { level?: string; msg?: string; err?: { type?: string; message?: string } };
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.level !== 'error') continue;
        const text = (
          entry.err ? `${entry.err.type ?? 'Error'}: ${entry.err.message ?? ''}` : (entry.msg ?? '')
        )
          .split('\n')[0]!
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
          .replace(/[0-9a-f]{64}/g, '<hex>')
          .replace(/'\/[^']*artifact-store-test-[^/']*/g, "'<dataDir>");
        seen.set(text, (seen.get(text) ?? 0) + 1);
      }
      return seen;
    },
  };
}
