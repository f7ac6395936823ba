// The one place where failures become native API answers: `{"error": {"code", "message", "details"}}`
// with the domain error's own code. Each domain code has its status here (the compiler checks that
// every code has one); validation failures are request-invalid; anything else is a logged 500.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { type DomainErrorCode, isClientAbort, isDomainError } from '../../errors.js';
import { accessHeaders, type ErrorReporter } from '../v2/error-map.js';

const STATUS: Record<DomainErrorCode, number> = {
  'name-invalid': 400,
  'tag-invalid': 400,
  'digest-invalid': 400,
  'digest-mismatch': 400,
  'blob-unknown': 404,
  'blob-unavailable': 503,
  // The bytes are archived: restore them first (details: retrieval_tier, restore_status).
  'blob-archived': 409,
  'blob-not-tierable': 409,
  'manifest-unknown': 404,
  'manifest-unavailable': 503,
  'manifest-invalid': 400,
  'manifest-references-unknown': 400,
  'manifest-too-large': 413,
  'upload-unknown': 404,
  // The native API says where the upload really is (details.offset) and lets the client resume.
  'upload-out-of-order': 409,
  'upload-range-invalid': 400,
  'size-mismatch': 400,
  'body-interrupted': 400,
  'range-unsatisfiable': 416,
  'pagination-invalid': 400,
  'name-unknown': 404,
  'request-invalid': 400,
  'package-invalid': 400,
  'metadata-invalid': 422,
  'schema-unknown': 422,
  'schema-conflict': 409,
  'tag-conflict': 409,
  'tag-immutable': 409,
  'not-acceptable': 406,
  unsupported: 405,
  'endpoint-unknown': 404,
  'token-unknown': 404,
  held: 409,
  'retention-policy-unknown': 404,
  'still-referenced': 409,
  'hold-unknown': 404,
  'release-invalid': 400,
  'release-unknown': 404,
  unauthenticated: 401,
  denied: 403,
  'rate-limited': 429,
};

/** Statuses that report a server-side fault answered otherwise (logged). */
const LOGGED: ReadonlySet<DomainErrorCode> = new Set(['blob-unavailable', 'manifest-unavailable']);

export function apiError(
  code: string,
  message: string,
  details: Record<string, unknown>,
  status: number,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ error: { code, message, details } }), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** The native answer to a failure of the request at `path`. */
export function apiErrorResponse(error: unknown, path: string, reporter: ErrorReporter): Response {
  if (isDomainError(error)) {
    if (LOGGED.has(error.code)) reporter.warn(`${path}: ${error.message}`);
    const headers: Record<string, string> = {};
    if (error.code === 'range-unsatisfiable') headers['Content-Range'] = `bytes */${error.detail.size}`;
    Object.assign(headers, accessHeaders(error));
    if (error.code === 'upload-out-of-order' && typeof error.detail.offset === 'number') {
      headers['Upload-Offset'] = String(error.detail.offset);
    }
    return apiError(error.code, error.message, error.detail, STATUS[error.code], headers);
  }
  if (error instanceof HTTPException) {
    // Raised by the validation layer: malformed JSON (400), an undeclared media type (415).
    const code = error.status === 415 ? 'unsupported-media-type' : 'request-invalid';
    return apiError(code, error.message, {}, error.status);
  }
  if (isClientAbort(error)) {
    return apiError(
      'body-interrupted',
      'the request body ended before it was complete; nothing was kept',
      {},
      400,
    );
  }
  reporter.error(error);
  return apiError('internal', 'internal server error', {}, 500);
}

interface ValidationResult {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
  target?: string;
}

/** Answers a request whose parameters, query or body fail their schema: each issue with its place. */
export function validationHook(result: ValidationResult, _c: Context): Response | undefined {
  if (result.success) return undefined;
  const issues = (result.error?.issues ?? []).map((issue) => ({
    in: result.target,
    path: `/${issue.path.map(String).join('/')}`,
    message: issue.message,
  }));
  return apiError('request-invalid', 'the request does not have the documented shape', { issues }, 400);
}
