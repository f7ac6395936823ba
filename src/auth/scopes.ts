// Docker token-spec scopes (`type:name:actions`) as registry clients send them to the token endpoint,
// and the `access` claim they turn into. Clients repeat and reorder scopes (crane asks `pull,push` and
// `push,pull` in one request, regctl space-joins several into one value), so everything is merged per
// resource here and the token service only has to intersect with the policy.

export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

/** More resources than any client asks for at once (a copy asks two); caps the work per request. */
export const MAX_RESOURCES = 64;

/**
 * Parses `scope` values as clients send them: each value may hold several scopes joined by spaces
 * (regctl's POST); a scope is `type:name:actions` where name lies between the FIRST and LAST colon
 * (`repository:localhost:5000/x:pull`), actions comma-separated. Scopes for the same (type, name) are
 * merged, actions deduplicated in order of first appearance; malformed entries (fewer than 3 parts,
 * empty type, name or actions) are dropped; at most 64 resources are kept.
 */
export function parseScopes(values: readonly string[]): ResourceAccess[] {
  const merger = new AccessMerger();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    for (const scope of value.split(/\s+/)) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) continue; // no type, or fewer than 3 parts
      merger.add(scope.slice(0, first), scope.slice(first + 1, last), scope.slice(last + 1).split(','));
    }
  }
  return merger.result();
}

/** `repository:name:pull,push` */
export function formatScope(access: ResourceAccess): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/**
 * The `access` claim of a token (ours or an external issuer's) as a clean list: entries that are not
 * `{type: string, name: string, actions: string[]}` are dropped, as are non-string or empty actions;
 * duplicates are merged and at most 64 resources kept, as in {@link parseScopes}.
 */
export function normalizeAccess(claim: unknown): ResourceAccess[] {
  const merger = new AccessMerger();
  if (!Array.isArray(claim)) return [];
  for (const entry of claim) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    merger.add(
      type,
      name,
      actions.filter((a): a is string => typeof a === 'string'),
    );
  }
  return merger.result();
}

/** Merges actions per (type, name), keeping the order in which resources and actions first appear. */
class AccessMerger {
  // Keyed by type and name joined with NUL, which neither can hold when it comes from a URL or JSON
  // string that also passed the checks below.
  readonly #resources = new Map<string, { type: string; name: string; actions: Set<string> }>();

  add(type: string, name: string, actions: readonly string[]): void {
    if (type === '' || name === '' || type.includes('\0') || name.includes('\0')) return;
    const wanted = actions.filter((action) => action !== '');
    if (wanted.length === 0) return;
    const key = `${type}\0${name}`;
    let resource = this.#resources.get(key);
    if (!resource) {
      if (this.#resources.size >= MAX_RESOURCES) return;
      resource = { type, name, actions: new Set() };
      this.#resources.set(key, resource);
    }
    for (const action of wanted) resource.actions.add(action);
  }

  result(): ResourceAccess[] {
    return [...this.#resources.values()].map(({ type, name, actions }) => ({
      type,
      name,
      actions: [...actions],
    }));
  }
}
