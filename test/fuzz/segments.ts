// Generators of the request target's segments: repository names, digests, references (tags or
// digests) and upload ids, valid and hostile, each labelled with its kind.
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import {
  BLOBS,
  blake3,
  POOL_MANIFESTS,
  SCRATCH,
  SEEDED,
  sha256,
  sha512,
  TRACKED,
  VALID_TAGS,
} from './fixtures.js';
import type { Planned, Run } from './run.js';

export interface Pick {
  text: string;
  label: string;
}

export function pickName(rng: Rng): Pick & { mustFail?: Planned['mustFail'] } {
  const tracked = rng.pick(TRACKED);
  const kind = rng.weighted<string>([
    [20, 'tracked'],
    [8, 'scratch'],
    [4, 'random-valid'],
    [2, 'pct-alnum'],
    [2, 'upper'],
    [2, 'lead-dash'],
    [2, 'double-slash'],
    [1, 'trailing-slash'],
    [1, 'long300'],
    [1, 'long256'],
    [4, 'dotdot'],
    [3, 'dotdot-pct'],
    [2, 'dot'],
    [1, 'dot-pct'],
    [1, 'dotdot-escape'],
    [2, 'backslash'],
    [3, 'nul'],
    [2, 'ctl'],
    [2, 'unicode'],
    [1, 'bad-pct'],
    [1, 'pct-slash'],
    [1, 'empty'],
    [1, 'punct'],
  ]);
  const [head, ...tail] = tracked.split('/');
  const text = ((): string => {
    switch (kind) {
      case 'tracked':
        return tracked;
      case 'scratch':
        return rng.pick(SCRATCH);
      case 'random-valid': {
        const part = () =>
          rng.pick(['a', 'b0', 'x-y', 'x--y', 'x.y', 'x_y', 'x__y', 'blobs', 'manifests', 'uploads']);
        return Array.from({ length: rng.int(1, 4) }, part).join('/');
      }
      case 'pct-alnum':
        return tracked.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
      case 'upper':
        return tracked.toUpperCase();
      case 'lead-dash':
        return `-${tracked}`;
      case 'double-slash':
        return tracked.replace('/', '//');
      case 'trailing-slash':
        return `${tracked}/`;
      case 'long300':
        return 'a'.repeat(300);
      case 'long256':
        return `${'ab/'.repeat(85)}a`;
      case 'dotdot':
        return rng.pick([`fuzz/../${tracked}`, `${head}/zz/../${tail.join('/')}`, `fuzz/a/../../${tracked}`]);
      case 'dotdot-pct':
        return rng.pick([`fuzz/%2e%2e/${tracked}`, `fuzz/%2E%2e/${tracked}`, `fuzz/.%2e/${tracked}`]);
      case 'dot':
        return `${head}/./${tail.join('/')}`;
      case 'dot-pct':
        return `${head}/%2e/${tail.join('/')}`;
      case 'dotdot-escape':
        return `../${tracked}`;
      case 'backslash':
        return rng.pick([`fuzz\\..\\${tracked}`, tracked.replace('/', '\\')]);
      case 'nul':
        return rng.pick([`${tracked}%00`, 'fuzz%00/a', '%00', `${tracked}/%00`]);
      case 'ctl':
        return `fuzz/a${rng.pick(['%01', '%0a', '%0d%0a', '%09', '%7f', '%1b', '%08'])}b`;
      case 'unicode':
        return rng.pick(['fuzz/%C3%BC', 'fuzz/a%E2%80%AEb', '%F0%9F%90%B3/a', 'fuzz/%EF%BC%8E%EF%BC%8E']);
      case 'bad-pct':
        return rng.pick(['fuzz/%zz', 'fuzz/%', 'fuzz/%e0%80', 'fuzz/%ed%a0%80', `%c0%ae%c0%ae/${tracked}`]);
      case 'pct-slash':
        return tracked.replace('/', '%2F');
      case 'empty':
        return '';
      default:
        return rng.pick([
          'fuzz/a:b',
          'fuzz/a@b',
          'fuzz/a;b',
          'fuzz/a,b',
          'fuzz/a=b',
          'fuzz/a+b',
          'fuzz/a~b',
          'fuzz/a%20b',
        ]);
    }
  })();
  const valid = ['tracked', 'scratch', 'random-valid', 'pct-alnum'].includes(kind);
  return {
    text,
    label: `name:${kind}`,
    mustFail: valid ? undefined : { kind: '2xx for an invalid repository name', cause: `name:${kind}` },
  };
}

export function pickDigest(rng: Rng): Pick {
  const kind = rng.weighted<string>([
    [14, 'pool'],
    [4, 'pool-manifest'],
    [6, 'unknown'],
    [2, 'sha512-pool'],
    [1, 'blake3-pool'],
    [1, 'sha512'],
    [2, 'short'],
    [2, 'long'],
    [2, 'upper-hex'],
    [1, 'upper-alg'],
    [2, 'unknown-alg'],
    [1, 'blake3'],
    [3, 'nul'],
    [2, 'empty'],
    [1, 'no-hex'],
    [1, 'no-alg'],
    [1, 'proto'],
    [1, 'pct-colon'],
    [1, 'non-hex'],
    [1, 'huge'],
    [1, 'ctl'],
    [1, 'unicode'],
  ]);
  const hex = rng.hex(64);
  const text = ((): string => {
    switch (kind) {
      case 'pool':
        return digestOf(rng.pick(BLOBS));
      case 'pool-manifest':
        return digestOf(rng.pick(POOL_MANIFESTS));
      case 'unknown':
        return `sha256:${hex}`;
      case 'sha512-pool':
        return `sha512:${sha512(rng.pick(BLOBS))}`;
      case 'blake3-pool':
        return `blake3:${blake3(rng.pick(BLOBS))}`;
      case 'sha512':
        return `sha512:${rng.hex(128)}`;
      case 'short':
        return `sha256:${hex.slice(1)}`;
      case 'long':
        return `sha256:${hex}0`;
      case 'upper-hex':
        return `sha256:${sha256(rng.pick(BLOBS)).toUpperCase()}`;
      case 'upper-alg':
        return `SHA256:${hex}`;
      case 'unknown-alg':
        return rng.pick([`md5:${hex.slice(0, 32)}`, `sha1:${hex.slice(0, 40)}`, `sha384:${rng.hex(96)}`]);
      case 'blake3':
        return `blake3:${hex}`;
      case 'nul':
        return rng.pick([`sha256:%00${hex.slice(1)}`, `sha256:${hex}%00`, '%00', `sha256%00:${hex}`]);
      case 'empty':
        return '';
      case 'no-hex':
        return 'sha256:';
      case 'no-alg':
        return rng.pick([`:${hex}`, 'sha256', hex]);
      case 'proto':
        return rng.pick([`__proto__:${hex}`, `constructor:${hex}`, `toString:${hex}`]);
      case 'pct-colon':
        return `sha256%3A${hex}`;
      case 'non-hex':
        return `sha256:${'g'.repeat(64)}`;
      case 'huge':
        return `sha256:${'a'.repeat(rng.pick([1000, 10_000]))}`;
      case 'ctl':
        return `sha256:${hex.slice(2)}${rng.pick(['%0a', '%0d%0a', '%09', '%7f'])}`;
      default:
        return `sha256:${hex.slice(2)}%C3%A9`;
    }
  })();
  return { text, label: `dig:${kind}` };
}

const VALID_DIGEST_KINDS = [
  'dig:pool',
  'dig:pool-manifest',
  'dig:unknown',
  'dig:sha512-pool',
  'dig:blake3-pool',
  'dig:sha512',
];

/** A malformed digest (cheap for the registry to refuse: used where valid ones would cost a transaction). */
export function pickBadDigest(rng: Rng): Pick {
  for (;;) {
    const d = pickDigest(rng);
    if (!VALID_DIGEST_KINDS.includes(d.label)) return d;
  }
}

export function pickReference(rng: Rng): Pick {
  if (rng.chance(0.45)) {
    const d = pickDigest(rng);
    return { text: d.text, label: `ref-${d.label}` };
  }
  const kind = rng.weighted<string>([
    [10, 'valid'],
    [2, 'long129'],
    [2, 'lead-dash'],
    [1, 'lead-dot'],
    [3, 'nul'],
    [1, 'unicode'],
    [1, 'ctl'],
    [1, 'dotdot'],
    [1, 'pct-slash'],
  ]);
  const text = ((): string => {
    switch (kind) {
      case 'valid':
        return rng.pick(VALID_TAGS);
      case 'long129':
        return 'x'.repeat(129);
      case 'lead-dash':
        return '-v1';
      case 'lead-dot':
        return '.v1';
      case 'nul':
        return rng.pick(['%00', 'v1%00', 'v%00x']);
      case 'unicode':
        return rng.pick(['%C3%BC', 'v%E2%80%AE1']);
      case 'ctl':
        return rng.pick(['v%0a1', 'v%091', 'v%7f']);
      case 'dotdot':
        return rng.pick(['..', '%2e%2e', '.']);
      default:
        return 'v1%2Fx';
    }
  })();
  return { text, label: `tag:${kind}` };
}

export const SESSION_TOKEN = '{session}';

export function pickUploadId(run: Run, rng: Rng): Pick & { repo?: string; slot?: number } {
  const kind = rng.weighted<string>([
    [30, 'real'],
    [4, 'other-repo'],
    [6, 'finished'],
    [6, 'unknown-uuid'],
    [3, 'garbage'],
    [6, 'nul'],
    [2, 'long'],
    [2, 'upper-uuid'],
    [2, 'dotdot'],
    [1, 'unicode'],
    [1, 'ctl'],
  ]);
  const slotIndex = rng.int(0, run.sessions.length - 1);
  const slot = run.sessions[slotIndex];
  const finished = run.finished.length > 0 ? run.finished[rng.int(0, run.finished.length - 1)] : undefined;
  const uuid = rng.uuid();
  switch (kind) {
    case 'real':
      if (!slot && finished && rng.chance(0.5))
        return { text: finished.id, label: 'id:finished', repo: finished.repo };
      // An empty slot gets a fresh session just before the request goes out.
      return {
        text: slot?.id ?? SESSION_TOKEN,
        label: 'id:real',
        repo: slot?.repo ?? SEEDED[slotIndex % SEEDED.length],
        slot: slotIndex,
      };
    case 'other-repo':
      return slot ? { text: slot.id, label: 'id:other-repo' } : { text: uuid, label: 'id:unknown-uuid' };
    case 'finished':
      return finished
        ? { text: finished.id, label: 'id:finished', repo: finished.repo }
        : { text: uuid, label: 'id:unknown-uuid' };
    case 'unknown-uuid':
      return { text: uuid, label: 'id:unknown-uuid' };
    case 'garbage':
      return { text: rng.pick(['abc', '0', '-', 'null', '{}', '%20']), label: 'id:garbage' };
    case 'nul':
      return {
        text: rng.pick(['%00', `${slot?.id ?? uuid}%00`, `%00${uuid.slice(1)}`]),
        label: 'id:nul',
        repo: slot?.repo,
      };
    case 'long':
      return { text: 'a'.repeat(rng.pick([300, 5000])), label: 'id:long' };
    case 'upper-uuid':
      return { text: (slot?.id ?? uuid).toUpperCase(), label: 'id:upper-uuid', repo: slot?.repo };
    case 'dotdot':
      return { text: rng.pick(['..', '%2e%2e', '.']), label: 'id:dotdot' };
    case 'unicode':
      return { text: `${uuid.slice(0, 35)}%C3%BC`, label: 'id:unicode' };
    default:
      return { text: `${uuid.slice(0, 35)}${rng.pick(['%0a', '%09', '%7f', '%1b'])}`, label: 'id:ctl' };
  }
}
