// How the web UI reads and changes the registry: through the public APIs only (the native API, and
// /v2/ where OCI says it), called in-process on the same Hono app. Each call carries the principal of
// the page's session, which the auth gate judges exactly as it judges a request's credentials, so the
// UI can show nothing a script with the same identity could not get.
import type { Principal } from '../auth/principal.js';
import type { Env } from '../http/request.js';

export type AppFetch = (request: Request, env: Env['Bindings']) => Response | Promise<Response>;

/** A refusal or failure of an API call, with the API's own code. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The origin in-process requests are made against (never resolved: no socket is involved). */
const ORIGIN = 'http://artifact-store.internal';

export class ApiClient {
  constructor(
    private readonly fetch: AppFetch,
    private readonly principal: Principal | undefined,
    /** Aborts calls whose page request went away (the event stream). */
    private readonly signal?: AbortSignal,
  ) {}

  /** The raw answer of `method path` (2xx or not). */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { Accept: 'application/json', ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    }
    if (this.signal) init.signal = this.signal;
    const env: Env['Bindings'] = this.principal ? { uiPrincipal: this.principal } : {};
    return this.fetch(new Request(`${ORIGIN}${path}`, init), env);
  }

  /** The JSON of a 2xx answer; an ApiError otherwise. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, body);
    const text = await res.text();
    if (!res.ok) throw errorOf(res.status, text);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }
}

function errorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string };
      errors?: { code?: string; message?: string }[];
    };
    const e = body.error ?? body.errors?.[0];
    if (e?.code) return new ApiError(status, e.code, e.message ?? e.code);
  } catch {
    // not JSON: described by its status below
  }
  return new ApiError(status, `http-${status}`, `the API answered ${status}`);
}

/** `/api/v1/...` with each path segment encoded, and the query's defined values. */
export function apiPath(
  segments: (string | number)[],
  query: Record<string, string | number | undefined> = {},
): string {
  const path = `/api/v1/${segments.map((s) => encodeSegment(String(s))).join('/')}`;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

/** A repository name keeps its slashes in API paths (`team/app`), every other character is encoded. */
function encodeSegment(segment: string): string {
  return segment.split('/').map(encodeURIComponent).join('/');
}
