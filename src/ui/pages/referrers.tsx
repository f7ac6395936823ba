// The referrers of a manifest as a tree: grouped by artifact type (signatures, SBOMs, attestations),
// each with its own referrers, a few levels deep, within a bounded number of API calls.
import { apiPath } from '../api-client.js';
import { short, time } from '../format.js';
import type { Ui } from '../routes.js';
import type { PackageJson } from '../types.js';

/** Referrers are followed this deep (a signature of an SBOM of an image is depth 2). */
const TREE_DEPTH = 3;
/** Referrers listed per manifest, and lookups of referrers in all (see referrerTree). */
const REFERRERS_SHOWN = 50;
const REFERRER_LOOKUPS = 20;

interface TreeNode {
  artifactType: string;
  items: { pkg: PackageJson; children: Referrers }[];
}

export interface Referrers {
  groups: TreeNode[];
  /** More referrers than one page shows (the API lists them all). */
  more: boolean;
}

/**
 * The referrers of `digest`, grouped by artifact type, each with its own referrers, TREE_DEPTH deep:
 * a page of REFERRERS_SHOWN per manifest, and at most REFERRER_LOOKUPS lookups in all, so a subject with
 * a thousand signatures costs what one with twenty does.
 */
export function referrerTree(ui: Ui, repository: string, digest: string): Promise<Referrers> {
  return referrersOf(ui, repository, digest, TREE_DEPTH, { lookups: REFERRER_LOOKUPS });
}

async function referrersOf(
  ui: Ui,
  repository: string,
  digest: string,
  depth: number,
  budget: { lookups: number },
): Promise<Referrers> {
  if (depth === 0 || budget.lookups <= 0) return { groups: [], more: false };
  budget.lookups--;
  const { packages, next } = await ui.api.get<{ packages: PackageJson[]; next?: string }>(
    apiPath(['repositories', repository, 'packages'], {
      subject: digest,
      limit: REFERRERS_SHOWN,
      tags_limit: 1,
    }),
  );
  const groups = new Map<string, TreeNode>();
  for (const pkg of packages) {
    const type = pkg.artifact_type ?? pkg.media_type;
    let group = groups.get(type);
    if (!group) {
      group = { artifactType: type, items: [] };
      groups.set(type, group);
    }
    group.items.push({ pkg, children: await referrersOf(ui, repository, pkg.digest, depth - 1, budget) });
  }
  return {
    groups: [...groups.values()].sort((a, b) => a.artifactType.localeCompare(b.artifactType)),
    more: next !== undefined,
  };
}

export function Tree(props: { referrers: Referrers; repoUrl: string }) {
  return (
    <ul class="tree" data-testid="referrers">
      {props.referrers.groups.map((group) => (
        <li>
          <strong>{describeType(group.artifactType)}</strong>{' '}
          <span class="muted mono">{group.artifactType}</span>
          <ul class="tree">
            {group.items.map(({ pkg, children }) => (
              <li>
                <a class="mono" href={`${props.repoUrl}/-/package/${pkg.digest}`}>
                  {short(pkg.digest, 16)}
                </a>{' '}
                <span class="muted">
                  {time(pkg.created_at)}, {pkg.files.length} file{pkg.files.length === 1 ? '' : 's'}
                </span>
                {children.groups.length > 0 && <Tree referrers={children} repoUrl={props.repoUrl} />}
              </li>
            ))}
          </ul>
        </li>
      ))}
      {props.referrers.more && (
        <li class="muted">
          {`The first ${REFERRERS_SHOWN} referrers are shown; /v2/…/referrers/ and the native package list give them all.`}
        </li>
      )}
    </ul>
  );
}

/** What a referrer is, read from its artifact type. */
function describeType(type: string): string {
  if (/cosign|sigstore|signature|notary/i.test(type)) return 'Signature';
  if (/spdx|cyclonedx|sbom|syft/i.test(type)) return 'SBOM';
  if (/in-toto|attestation|provenance|slsa|vuln/i.test(type)) return 'Attestation';
  return 'Artifact';
}
