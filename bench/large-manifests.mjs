// @ts-check
// Large manifests: OCI image manifests of several MB each (config `{}`, no layers, one annotation
// holding the bulk as text), PUT all at once on separate connections, then HEAD by digest one after
// the other, each digest for the first time ("cold").
import http from 'node:http';
import { pushSmallBlob } from './blobs.mjs';
import { pseudoRandomText, smallBlob } from './content.mjs';
import { check, expectStatus, header, request } from './http.mjs';
import { ACCEPT, OCI_CONFIG, OCI_MANIFEST, putManifest } from './manifests.mjs';

/** @import { SmallBlob } from './content.mjs' */
/** @import { Client } from './http.mjs' */
/** @import { TargetKind } from './settings.mjs' */

/** Manifests PUT at the same time in the measured phase. */
export const LARGE_PUTS = 8;
/** Cold HEADs measured afterwards: the LARGE_PUTS manifests and as many more, pushed unmeasured. */
export const LARGE_HEADS = 20;

/**
 * Characters of annotation text per manifest: 7.8 MB under our 8 MiB limit (MAX_MANIFEST_BYTES,
 * which the benchmark leaves at its default), 3.9 MB under distribution's fixed 4 MiB and zot's
 * (ZOT_MAX_MANIFEST_BYTES, also 4 MiB).
 * @param {TargetKind} kind
 */
export function largeManifestTextLength(kind) {
  return kind === 'ours' ? 7_800_000 : 3_900_000;
}

/** The config blob every large manifest refers to. */
export const EMPTY_CONFIG = smallBlob(Buffer.from('{}'));

/**
 * Large manifest number `index`: different for every index, the same in every run.
 * @param {number} index
 * @param {number} textLength characters of the annotation's value
 * @returns {SmallBlob}
 */
export function largeManifest(index, textLength) {
  return smallBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size },
        layers: [],
        annotations: {
          'org.opencontainers.image.description': pseudoRandomText(textLength, `large manifest ${index}`),
        },
      }),
    ),
  );
}

/** @param {number} index */
export const largeTag = (index) => `large-${index}`;

/**
 * Pushes the config blob the large manifests refer to.
 * @param {Client} t
 * @param {string} repo
 */
export function pushLargeManifestConfig(t, repo) {
  return pushSmallBlob(t, repo, EMPTY_CONFIG);
}

/**
 * PUTs every manifest at once (manifest i under tag large-i), each on its own connection; every one
 * must be answered 201 with its digest.
 * @param {string} base
 * @param {string} repo
 * @param {readonly SmallBlob[]} manifests
 */
export async function putConcurrently(base, repo, manifests) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: manifests.length });
  try {
    const outcomes = await Promise.allSettled(
      manifests.map((m, i) => putManifest({ base, agent }, repo, largeTag(i), m, `large manifest PUT ${i}`)),
    );
    const failed = outcomes.flatMap((o) =>
      o.status === 'rejected' ? [o.reason instanceof Error ? o.reason.message : String(o.reason)] : [],
    );
    check(
      failed.length === 0,
      `${failed.length} of ${manifests.length} concurrent large manifest PUTs failed; ${failed.join('; ')}`,
    );
  } finally {
    agent.destroy();
  }
}

/**
 * HEAD /v2/<repo>/manifests/<digest> of each manifest in turn; each must be 200 with its digest and
 * size. Returns the latencies in ms.
 * @param {Client} t
 * @param {string} repo
 * @param {readonly { digest: string, size: number }[]} manifests
 * @returns {Promise<number[]>}
 */
export async function headEach(t, repo, manifests) {
  /** @type {number[]} */
  const latencies = [];
  for (const m of manifests) {
    const t0 = performance.now();
    const r = await request(t.agent, `${t.base}/v2/${repo}/manifests/${m.digest}`, {
      method: 'HEAD',
      headers: { Accept: ACCEPT },
    });
    latencies.push(performance.now() - t0);
    const what = `large manifest HEAD ${m.digest}`;
    expectStatus(r, 200, what);
    const digest = header(r.headers, 'docker-content-digest');
    check(digest === m.digest, `${what}: Docker-Content-Digest ${digest}`);
    const length = header(r.headers, 'content-length');
    check(Number(length) === m.size, `${what}: Content-Length ${length}, expected ${m.size}`);
  }
  return latencies;
}
