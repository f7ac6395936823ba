// Building /v2/ responses: OCI JSON errors, JSON bodies without a charset parameter, and the
// headers every answer carries.
import type { OciError, OciErrorCode } from '../../oci/errors.js';

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/** HTTP status for each error code (as CNCF distribution registers them). */
const STATUS: Record<OciErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
};

export function errorResponse(error: OciError): Response {
  const status = error.status ?? STATUS[error.code];
  const body = { errors: [{ code: error.code, message: error.message, detail: error.detail ?? {} }] };
  return json(body, status, error.headers);
}

/** An error for a failure that is ours, not the client's. */
export function internalErrorResponse(): Response {
  return json({ errors: [{ code: 'UNKNOWN', message: 'internal server error', detail: {} }] }, 500);
}

export function json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): Response {
  const bytes = Buffer.from(JSON.stringify(body));
  return new Response(bytes, {
    status,
    headers: { ...headers, 'Content-Type': contentType, 'Content-Length': String(bytes.byteLength) },
  });
}

export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers: { ...headers, 'Content-Length': '0' } });
}
