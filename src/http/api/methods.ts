// A method a path does not declare is 405 with an Allow header (RFC 9110 §15.5.6), not the 404 of a
// path that is no endpoint. Each route module calls this after its routes: the fallback is the last
// handler of each of its paths, reached only by the methods no route of that path answers.
import type { Api } from './app.js';
import { apiError } from './errors.js';

interface Declared {
  method: string;
  path: string;
}

export function refuseOtherMethods(api: Api, routes: Declared[]): void {
  const allowed = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method.toUpperCase());
    // Hono answers HEAD with the GET handler.
    if (method.toLowerCase() === 'get') methods.add('HEAD');
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].sort();
    api.all(path.replaceAll(/\/{(.+?)}/g, '/:$1'), (c) =>
      apiError(
        'unsupported',
        `${c.req.method.slice(0, 20)} is not supported on this endpoint`,
        { allow },
        405,
        { Allow: allow.join(', ') },
      ),
    );
  }
}
