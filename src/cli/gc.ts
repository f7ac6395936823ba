// `artifact-store gc [--dry-run]`: asks a running registry to collect garbage now (POST /api/v1/gc),
// draws its progress on a terminal (one line per step of the answer's JSON lines), and prints what
// was (or, dry, would be) freed.
import type { GcCounts } from '../control-plane/events.js';
import { apiFetch, parseArgs, requireOk, serverUrl, UsageError } from './client.js';

export const GC_HELP = `gc [--dry-run] [--url URL]
                        collect garbage now on a running registry: tags retention policies let go,
                        untagged manifests nothing keeps, unused blobs and their bytes, expired
                        uploads, stray bytes (all older than the server's GC_DELAY); --dry-run
                        reports what would be freed and deletes nothing`;

type Counts = GcCounts;

interface Report {
  run: string;
  dry_run: boolean;
  cutoff_seq: number;
  freed: Counts;
  skipped: string[];
  retired: { policy: string; repository: string; tag: string; digest: string }[];
}

type Line =
  | { phase: string; freed: Counts }
  | { report: Report }
  | { error: { code: string; message: string } };

const PHASES = ['references', 'retention', 'manifests', 'links', 'blobs', 'leftovers', 'done'];

export async function gc(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { url: 'value', 'dry-run': 'flag' });
  if (positional.length > 0) throw new UsageError(`gc: unexpected argument "${positional[0]}"`);
  const dryRun = flags['dry-run'] === true;
  const url = `${serverUrl(flags.url as string | undefined)}/api/v1/gc?dry_run=${dryRun}`;
  const res = await requireOk(
    await apiFetch(url, { method: 'POST', headers: { Accept: 'application/x-ndjson' } }),
  );
  const report = await follow(res);
  process.stdout.write(summary(report));
  return 0;
}

/** Reads the answer's lines, drawing each step; returns the report (or throws the run's error). */
async function follow(res: Response): Promise<Report> {
  const tty = process.stderr.isTTY === true;
  let pending = '';
  let report: Report | undefined;
  const decoder = new TextDecoder();
  const handle = (text: string) => {
    if (text.trim() === '') return;
    const line = JSON.parse(text) as Line;
    if ('error' in line) throw new Error(`the run failed: ${line.error.code}: ${line.error.message}`);
    if ('report' in line) report = line.report;
    else if (tty) process.stderr.write(`\r${bar(line.phase, line.freed)}`);
  };
  for await (const chunk of res.body ?? []) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) handle(text);
  }
  handle(pending);
  if (tty) process.stderr.write('\n');
  if (!report) throw new Error('the server ended the answer without a report (did it stop?)');
  return report;
}

function bar(phase: string, freed: Counts): string {
  const width = 20;
  const filled = Math.round(((PHASES.indexOf(phase) + 1) / PHASES.length) * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${phase.padEnd(10)} ${freed.manifests} manifests, ${freed.blobs} blobs, ${mib(freed.bytes)}`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** What was (or would be) freed, one line per kind, and what was left alone. */
export function summary(report: Report): string {
  const verb = report.dry_run ? 'would free' : 'freed';
  const f = report.freed;
  const lines = [
    `gc ${report.dry_run ? 'dry run' : 'run'} ${report.run} (events up to #${report.cutoff_seq} considered): ${verb} ${mib(f.bytes)} (${f.bytes} bytes)`,
    `  tags       ${f.tags} (retention policies)`,
    `  manifests  ${f.manifests}`,
    `  links      ${f.links}`,
    `  blobs      ${f.blobs}`,
    `  uploads    ${f.uploads}`,
    `  strays     ${f.strays}`,
  ];
  for (const t of report.retired) {
    lines.push(
      `  retention ${t.policy}: ${report.dry_run ? 'would delete' : 'deleted'} ${t.repository}:${t.tag} (${t.digest})`,
    );
  }
  if (report.skipped.length > 0) {
    lines.push(`  left alone (a manifest's bytes could not be read): ${report.skipped.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
