// Each endpoint's requirement, stated beside the routes (ADR-0010): checked before any handler reads
// data, so an answer never depends on whether something exists. Data-dependent checks (a mount's
// source, listings, a blob by digest, upload ownership) are the registry's, on the same caller.
import type { Requirement } from '../auth/requirements.js';
import { API_BASE, routingPath } from './api/paths.js';
import { parseV2Path } from './v2/routes.js';

const READ = new Set(['GET', 'HEAD']);

/** The requirement of a /v2/ request. */
export function v2Requirement(
  method: string,
  path: string,
  query: (name: string) => string | undefined,
): Requirement {
  const route = parseV2Path(path);
  if (!route) return { kind: 'known' };
  const read = READ.has(method);
  const repository = (name: string, actions: ('pull' | 'push' | 'delete')[]): Requirement => ({
    kind: 'repository',
    name,
    actions,
  });
  switch (route.kind) {
    case 'base':
      return { kind: 'authenticated' };
    case 'catalog':
      return { kind: 'catalog' };
    case 'tags':
    case 'referrers':
      return repository(route.name, ['pull']);
    case 'manifest':
    case 'blob':
      if (read) return repository(route.name, ['pull']);
      if (method === 'DELETE') return repository(route.name, ['delete']);
      return repository(route.name, ['pull', 'push']);
    case 'uploads': {
      // A mount's source is asked for in the challenge, as distribution does (oras takes both scopes
      // from it); without pull on it the mount becomes a plain upload.
      const from = query('from');
      const optional =
        query('mount') !== undefined && from
          ? [{ type: 'repository', name: from, actions: ['pull'] }]
          : undefined;
      return { ...repository(route.name, ['pull', 'push']), ...(optional ? { optional } : {}) };
    }
    case 'upload':
      return repository(route.name, ['pull', 'push']);
  }
}

type NativeRule = [method: string | RegExp, path: RegExp, requirement: (name: string) => Requirement];

const pull = (name: string): Requirement => ({ kind: 'repository', name, actions: ['pull'] });
const push = (name: string): Requirement => ({ kind: 'repository', name, actions: ['pull', 'push'] });
const remove = (name: string): Requirement => ({ kind: 'repository', name, actions: ['delete'] });
const known = (): Requirement => ({ kind: 'known' });
const authenticated = (): Requirement => ({ kind: 'authenticated' });

/** Native routes, first match wins; the repository name is the first group (percent-encoded). */
const NATIVE: NativeRule[] = [
  ['GET', /^\/repositories$/, known],
  ['PATCH', /^\/repositories\/([^/]+)$/, () => ({ kind: 'admin', action: 'retention' })],
  [/^(GET|HEAD)$/, /^\/repositories\/([^/]+)(\/tags(\/[^/]+)?|\/packages(\/[^/]+)?)?$/, pull],
  ['PUT', /^\/repositories\/([^/]+)\/packages\/[^/]+\/tier$/, () => ({ kind: 'admin', action: 'tiering' })],
  [/^(PUT|POST)$/, /^\/repositories\/([^/]+)\/(tags\/[^/]+|packages(\/[^/]+)?)$/, push],
  ['DELETE', /^\/repositories\/([^/]+)\/(tags|packages)\/[^/]+$/, remove],
  ['POST', /^\/repositories\/([^/]+)\/imports$/, push],
  ['PUT', /^\/blobs\/[^/]+\/tier$/, () => ({ kind: 'admin', action: 'tiering' })],
  ['PUT', /^\/schemas\/[^/]+$/, () => ({ kind: 'admin', action: 'schemas' })],
  [/.*/, /^\/uploads(\/.*)?$/, () => ({ kind: 'pusher' })],
  [/.*/, /^\/tokens(\/.*)?$/, authenticated],
  [/.*/, /^\/holds(\/.*)?$/, () => ({ kind: 'admin', action: 'holds' })],
  [/.*/, /^\/gc$/, () => ({ kind: 'admin', action: 'gc' })],
  ['GET', /^\/events\/verify$/, () => ({ kind: 'admin', action: 'events' })],
  [/.*/, /^\/retention-policies(\/[^/]+)?$/, () => ({ kind: 'admin', action: 'retention' })],
  [/^(POST|PUT)$/, /^\/apps\/[^/]+\/(releases|current)$/, () => ({ kind: 'admin', action: 'releases' })],
];

/** The requirement of a native API request (`path` below /api/v1). */
export function nativeRequirement(method: string, request: Request): Requirement {
  // A HEAD runs the GET handler (the router answers it with GET's routes, without the body), so it
  // needs what the GET needs.
  if (method === 'HEAD') method = 'GET';
  const path = routingPath(request).slice(API_BASE.length);
  for (const [methods, pattern, requirement] of NATIVE) {
    if (typeof methods === 'string' ? methods !== method : !methods.test(method)) continue;
    const match = pattern.exec(path);
    if (!match) continue;
    let name = match[1] ?? '';
    try {
      name = decodeURIComponent(name);
    } catch {
      // Not a name: the handler refuses it; the requirement still applies to the text.
    }
    return requirement(name);
  }
  return { kind: 'known' };
}
