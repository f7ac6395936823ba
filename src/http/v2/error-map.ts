// The one place where failures become /v2/ answers: each domain error code has its OCI error code
// and status here (the compiler checks that every code has one), client aborts are the client's
// failure, and anything else is a logged 500. Bodies are `{"errors":[…]}` as the spec shows.
import { AccessError, type DomainErrorCode, isClientAbort, isDomainError } from '../../errors.js';
import { json } from './responses.js';

export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

interface Mapping {
  code: OciErrorCode;
  status: number;
  /** A server-side fault answered as absence: logged. */
  log?: true;
}

/** Statuses as CNCF distribution registers the codes, except where the spec asks for another. */
const MAP: Record<DomainErrorCode, Mapping> = {
  'name-invalid': { code: 'NAME_INVALID', status: 400 },
  'tag-invalid': { code: 'TAG_INVALID', status: 400 },
  'digest-invalid': { code: 'DIGEST_INVALID', status: 400 },
  'digest-mismatch': { code: 'DIGEST_INVALID', status: 400 },
  'blob-unknown': { code: 'BLOB_UNKNOWN', status: 404 },
  'blob-unavailable': { code: 'BLOB_UNKNOWN', status: 404, log: true },
  // The blob exists (HEAD says so) but its bytes wait for a restore that takes hours: 409, which no
  // client retries (a 503 would be retried for minutes), with how to restore in the message
  // (docs/adr/0009).
  'blob-archived': { code: 'DENIED', status: 409 },
  'blob-not-tierable': { code: 'DENIED', status: 409 },
  'manifest-unknown': { code: 'MANIFEST_UNKNOWN', status: 404 },
  'manifest-unavailable': { code: 'MANIFEST_UNKNOWN', status: 404, log: true },
  'manifest-invalid': { code: 'MANIFEST_INVALID', status: 400 },
  'manifest-references-unknown': { code: 'MANIFEST_BLOB_UNKNOWN', status: 400 },
  'manifest-too-large': { code: 'SIZE_INVALID', status: 413 },
  'upload-unknown': { code: 'BLOB_UPLOAD_UNKNOWN', status: 404 },
  'upload-out-of-order': { code: 'BLOB_UPLOAD_INVALID', status: 416 },
  'upload-range-invalid': { code: 'BLOB_UPLOAD_INVALID', status: 416 },
  'size-mismatch': { code: 'SIZE_INVALID', status: 400 },
  'body-interrupted': { code: 'BLOB_UPLOAD_INVALID', status: 400 },
  'range-unsatisfiable': { code: 'RANGE_INVALID', status: 416 },
  'pagination-invalid': { code: 'PAGINATION_NUMBER_INVALID', status: 400 },
  'name-unknown': { code: 'NAME_UNKNOWN', status: 404 },
  'request-invalid': { code: 'UNSUPPORTED', status: 400 },
  'package-invalid': { code: 'MANIFEST_INVALID', status: 400 },
  'metadata-invalid': { code: 'MANIFEST_INVALID', status: 400 },
  'schema-unknown': { code: 'MANIFEST_INVALID', status: 400 },
  'schema-conflict': { code: 'DENIED', status: 409 },
  'tag-conflict': { code: 'DENIED', status: 409 },
  'tag-immutable': { code: 'DENIED', status: 403 },
  'not-acceptable': { code: 'UNSUPPORTED', status: 406 },
  unsupported: { code: 'UNSUPPORTED', status: 405 },
  'endpoint-unknown': { code: 'UNSUPPORTED', status: 404 },
  'token-unknown': { code: 'UNSUPPORTED', status: 404 },
  // As a tag-immutable refusal: the registry forbids it, whoever asks.
  held: { code: 'DENIED', status: 403 },
  'retention-policy-unknown': { code: 'NAME_UNKNOWN', status: 404 },
  // As zot: 405 (which the conformance suite accepts for any delete) with DENIED and the reason.
  'still-referenced': { code: 'DENIED', status: 405 },
  'hold-unknown': { code: 'UNSUPPORTED', status: 404 },
  'release-invalid': { code: 'UNSUPPORTED', status: 400 },
  'release-unknown': { code: 'UNSUPPORTED', status: 404 },
  unauthenticated: { code: 'UNAUTHORIZED', status: 401 },
  denied: { code: 'DENIED', status: 403 },
  'rate-limited': { code: 'TOOMANYREQUESTS', status: 429 },
};

export interface ErrorReporter {
  /** An unexpected failure (answered 500). */
  error(error: unknown): void;
  /** A server-side fault answered otherwise (e.g. stored bytes that went missing). */
  warn(message: string): void;
}

/** The /v2/ answer to a failure of the request at `path` (the path names the upload, when there is one). */
export function errorResponse(error: unknown, path: string, reporter: ErrorReporter): Response {
  if (isDomainError(error)) {
    const mapping = MAP[error.code];
    if (mapping.log) reporter.warn(`${path}: ${error.message}`);
    const headers: Record<string, string> = {};
    if (error.code === 'upload-out-of-order' && typeof error.detail.offset === 'number') {
      // Tell the client where the upload really is, as a status query would.
      headers.Location = path;
      headers.Range = `0-${Math.max(error.detail.offset - 1, 0)}`;
      headers['Docker-Upload-UUID'] = String(error.detail.id ?? '');
    }
    if (error.code === 'range-unsatisfiable') headers['Content-Range'] = `bytes */${error.detail.size}`;
    Object.assign(headers, accessHeaders(error));
    if (error.code === 'manifest-references-unknown' && Array.isArray(error.detail.missing)) {
      // "one or more MANIFEST_BLOB_UNKNOWN errors": one per missing reference.
      const errors = (error.detail.missing as string[]).map((digest) => ({
        code: mapping.code,
        message: 'manifest references a blob or manifest unknown to the repository',
        detail: { digest },
      }));
      return json({ errors }, mapping.status, headers);
    }
    return body(mapping.code, error.message, error.detail, mapping.status, headers);
  }
  if (isClientAbort(error)) {
    return body(
      'BLOB_UPLOAD_INVALID',
      'the request body ended before it was complete; nothing was kept',
      {},
      400,
    );
  }
  reporter.error(error);
  return body('UNKNOWN', 'internal server error', {}, 500);
}

function body(
  code: OciErrorCode,
  message: string,
  detail: unknown,
  status: number,
  headers: Record<string, string> = {},
): Response {
  return json({ errors: [{ code, message, detail }] }, status, headers);
}

/** WWW-Authenticate and Retry-After of a refusal of access (both APIs answer with them). */
export function accessHeaders(error: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error instanceof AccessError) {
    if (error.answer.challenge) headers['WWW-Authenticate'] = error.answer.challenge;
    if (error.answer.retryAfterSeconds !== undefined)
      headers['Retry-After'] = String(error.answer.retryAfterSeconds);
  }
  const limit = (error as { detail?: { limit?: unknown } }).detail?.limit;
  if (isDomainError(error, 'rate-limited') && !(error instanceof AccessError) && typeof limit === 'number') {
    headers['Retry-After'] = '60';
  }
  return headers;
}
