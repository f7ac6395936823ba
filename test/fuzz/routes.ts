// Where a request target lands: routed from the right after URL normalisation and percent-decoding,
// as the registry sees it.

export interface Route {
  kind: 'base' | 'catalog' | 'tags' | 'manifest' | 'uploads' | 'upload' | 'blob' | 'referrers';
  name?: string;
  ref?: string;
}

/** Routes a decoded path the way the registry does: from the right. */
function routeOf(path: string): Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice(4);
  if (rest === '_catalog') return { kind: 'catalog' };
  const patterns: [RegExp, Route['kind']][] = [
    [/^(.+)\/tags\/list$/, 'tags'],
    [/^(.+)\/manifests\/([^/]+)$/, 'manifest'],
    [/^(.+)\/blobs\/uploads\/?$/, 'uploads'],
    [/^(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
    [/^(.+)\/blobs\/([^/]+)$/, 'blob'],
    [/^(.+)\/referrers\/([^/]+)$/, 'referrers'],
  ];
  for (const [pattern, kind] of patterns) {
    const m = pattern.exec(rest);
    if (m) return { kind, name: m[1], ref: m[2] };
  }
  return undefined;
}

function tryDecode(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
      try {
        return decodeURI(m);
      } catch {
        return m;
      }
    });
  }
}

/** Where a request lands after URL normalisation (`..`, `%2e%2e`) and percent-decoding, as the server sees it. */
export function landing(path: string): { route: Route; query: URLSearchParams } | undefined {
  if (path.includes('\\')) return undefined; // refused before routing
  let url: URL;
  try {
    url = new URL(path, 'http://127.0.0.1');
  } catch {
    return undefined;
  }
  const route = routeOf(tryDecode(url.pathname));
  return route ? { route, query: url.searchParams } : undefined;
}
