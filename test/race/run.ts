// What the scenarios share: the state one registry's traffic builds up (violations, tallies, what the
// client saw, the blobs it believes exist), the judge that tallies, and small request helpers.
import type { Rng } from '../helpers/random.js';
import type { TestRegistry } from '../helpers/registry.js';
import type { ExpectedBlob } from './check-blob-reads.js';
import { type ClientUploads, newClientUploads } from './check-event-log.js';
import type { RaceResponse } from './client.js';
import { type Judged, judgeAnswer, type UploadOp } from './judge.js';
import { Tally, Violations } from './report.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** What one registry's traffic taught the test. */
export interface Run {
  r: TestRegistry;
  v: Violations;
  tally: Tally;
  client: ClientUploads;
  expected: ExpectedBlob[];
}

export function newRun(r: TestRegistry): Run {
  return { r, v: new Violations(), tally: new Tally(), client: newClientUploads(), expected: [] };
}

/** Judges an answer (see judge.ts) and tallies its label. */
export function judge(run: Run, op: UploadOp, res: RaceResponse, where: string): Judged {
  const judged = judgeAnswer(op, res, run.v, where);
  run.tally.add(`${op.padEnd(11)} → ${judged.label}`);
  return judged;
}

/** The path of a Location header (relative or absolute) and the upload id in it. */
export function uploadLocation(res: RaceResponse): { path: string; id: string } | undefined {
  const location = res.headers.location;
  if (typeof location !== 'string') return undefined;
  const url = new URL(location, 'http://127.0.0.1');
  const id = url.pathname.split('/').pop() ?? '';
  return { path: url.pathname + url.search, id };
}

export function withDigest(path: string, digest: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}digest=${digest}`;
}

/** With chance p, pauses (2-9 of 3-25 ms) to trickle a request body with; else none. */
export function pauses(rng: Rng, p: number): number[] | undefined {
  return rng.chance(p) ? Array.from({ length: rng.int(2, 9) }, () => rng.int(3, 25)) : undefined;
}
