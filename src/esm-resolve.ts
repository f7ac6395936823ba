// A shortcut for Node's ESM resolver, for start-up time (issue 10).
//
// For every module it loads, Node 24's resolver looks up the package's scope and, in doing so, parses
// the whole package.json again, "exports" map included (package_json_reader's `read` spreads an object
// whose getters JSON.parse it). drizzle-orm's package.json is 179 KB and ~120 of its files load at
// start: 190 ms of a 440 ms import of the server (CPU profile, Node 24.21). Node 20 caches it.
//
// The shortcut answers only what needs no resolver: a relative `.js` specifier from a module inside
// node_modules, in a package whose package.json says "type": "module" — that file, as an ES module
// (what Node answers too: relative specifiers ignore "exports", and "type" decides a .js file's
// format). Everything else goes to Node's resolver. Each package.json is read once.

import { readFileSync } from 'node:fs';
import module from 'node:module';

/** Directory (ending in /) -> whether the package.json found from it says "type": "module". */
const esmScopes = new Map<string, boolean>();

function inEsmPackage(directory: string): boolean {
  const known = esmScopes.get(directory);
  if (known !== undefined) return known;
  let type: unknown;
  let found = false;
  try {
    type = (JSON.parse(readFileSync(`${directory}package.json`, 'utf8')) as { type?: unknown }).type;
    found = true;
  } catch {}
  const parent = directory.slice(0, directory.lastIndexOf('/', directory.length - 2) + 1);
  const esm = found ? type === 'module' : parent !== '' && parent !== directory && inEsmPackage(parent);
  esmScopes.set(directory, esm);
  return esm;
}

/** The resolution of `specifier` from `parentURL` when the shortcut applies, else undefined. */
export function resolveInEsmPackage(
  specifier: string,
  parentURL: string | undefined,
): { url: string; format: 'module' } | undefined {
  if (!parentURL?.startsWith('file:') || !parentURL.includes('/node_modules/')) return undefined;
  if (!(specifier.startsWith('./') || specifier.startsWith('../')) || !specifier.endsWith('.js'))
    return undefined;
  const url = new URL(specifier, parentURL);
  if (url.search || url.hash) return undefined;
  const path = decodeURIComponent(url.pathname);
  if (!inEsmPackage(path.slice(0, path.lastIndexOf('/') + 1))) return undefined;
  return { url: url.href, format: 'module' };
}

type ResolveHook = (
  specifier: string,
  context: { parentURL?: string },
  next: (specifier: string, context: { parentURL?: string }) => unknown,
) => unknown;

/** Installs the shortcut where Node has synchronous module hooks (22.15, 23.5 and later). */
export function installEsmResolveShortcut(): void {
  const register = (module as { registerHooks?: (hooks: { resolve: ResolveHook }) => unknown }).registerHooks;
  register?.({
    resolve: (specifier, context, next) => {
      const shortcut = resolveInEsmPackage(specifier, context.parentURL);
      return shortcut ? { ...shortcut, shortCircuit: true } : next(specifier, context);
    },
  });
}
