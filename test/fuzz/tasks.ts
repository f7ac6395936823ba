// The run's tasks: which kind task i is (drawn from its own PRNG stream), how many requests it plans,
// and running it.
import { mixSeed, Rng } from '../helpers/random.js';
import { MT, poolManifest, SCRATCH } from './fixtures.js';
import { validOperation } from './operations.js';
import { performRaw } from './raw.js';
import { fuzzRequest, performFuzz } from './request.js';
import { bump, perform, type Run } from './run.js';
import { SEED } from './settings.js';
import { uploadRace } from './upload-race.js';

/** A handful of manifests over the 8 MiB limit: declared, streamed without a length, and just over. */
async function oversizeManifest(run: Run, rng: Rng, variant: number): Promise<void> {
  const limit = 8 * 1024 * 1024;
  const filler = 'x'.repeat(limit + rng.int(1, 1024 * 1024));
  const body = Buffer.from(
    JSON.stringify({ ...poolManifest(0), annotations: { 'org.example.filler': filler } }),
  );
  const repo = rng.pick(SCRATCH);
  await perform(run, {
    method: 'PUT',
    path: `/v2/${repo}/manifests/big${variant}`,
    body,
    chunked: variant % 2 === 1,
    headers: { 'Content-Type': MT.manifest },
    endpoint: 'manifest',
    labels: [variant % 2 === 1 ? 'mf:oversize-chunked' : 'mf:oversize'],
    mustFail: {
      kind: 'manifest over 8 MiB accepted',
      cause: variant % 2 === 1 ? 'mf:oversize-chunked' : 'mf:oversize',
    },
  });
}

export type TaskKind = 'fuzz' | 'valid' | 'raw' | 'race' | 'oversize';

export function taskKind(index: number, rng: Rng): TaskKind {
  if (index % 6000 === 3000) return 'oversize';
  return rng.weighted<TaskKind>([
    [983, 'fuzz'],
    [4, 'valid'],
    [11, 'raw'],
    [2, 'race'],
  ]);
}

/** Requests a task sends (known before it runs, so the run stops at a deterministic task). */
export const TASK_REQUESTS: Record<TaskKind, number> = { fuzz: 1, valid: 2, raw: 2, race: 7, oversize: 1 };

export async function runTask(run: Run, index: number): Promise<void> {
  const rng = new Rng(mixSeed(SEED, 2, index));
  const kind = taskKind(index, rng);
  bump(run, `task ${kind}`);
  switch (kind) {
    case 'fuzz':
      return performFuzz(run, fuzzRequest(run, rng));
    case 'valid':
      return validOperation(run, rng);
    case 'raw':
      return performRaw(run, rng);
    case 'race':
      return uploadRace(run, rng);
    default:
      return oversizeManifest(run, rng, Math.floor(index / 6000));
  }
}
