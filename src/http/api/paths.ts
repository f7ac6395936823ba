// Repository names contain slashes, as at /v2/: a native path is parsed from the right, and the name
// is given to the router as one percent-encoded segment (the router decodes parameters). A repository
// whose last segment is a suffix below (`…/tags`, `…/imports`) is named with that slash encoded.
import { getPath } from 'hono/utils/url';

/** Where the native API is mounted. */
export const API_BASE = '/api/v1';

const PREFIX = `${API_BASE}/repositories/`;
/** What may follow a repository name, longest first. */
const SUFFIXES = [
  /\/packages\/[^/]+\/tier$/,
  /\/packages\/[^/]+$/,
  /\/packages$/,
  /\/tags\/[^/]+$/,
  /\/tags$/,
  /\/imports$/,
];

export function routingPath(request: Request): string {
  const path = getPath(request);
  if (!path.startsWith(PREFIX)) return path;
  const rest = path.slice(PREFIX.length);
  for (const suffix of SUFFIXES) {
    const match = suffix.exec(rest);
    if (match && match.index > 0) return PREFIX + encodeName(rest.slice(0, match.index)) + match[0];
  }
  return PREFIX + encodeName(rest);
}

function encodeName(name: string): string {
  return name.replaceAll('/', '%2F');
}
