// OCI Distribution error codes. Domain code throws OciError; the HTTP layer turns it into the
// `{"errors":[…]}` body with the status the spec (and CNCF distribution) uses for the code.

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
  | 'PAGINATION_NUMBER_INVALID';

export class OciError extends Error {
  constructor(
    readonly code: OciErrorCode,
    message: string,
    readonly detail?: unknown,
    /** Overrides the code's usual status where the spec asks for another (e.g. 416, 413). */
    readonly status?: number,
    /** Extra response headers (e.g. the upload's Range on a 416). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
