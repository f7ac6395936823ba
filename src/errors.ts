// Domain errors: what went wrong, in the registry's own words. Every layer below HTTP throws these
// (never protocol errors); one module per protocol maps each code to its answer, so a new failure is
// added here and in that map, and nothing can escape as a 500 because one call site forgot.

export type DomainErrorCode =
  /** A repository name that does not match the grammar (or has `.`/`..` segments). */
  | 'name-invalid'
  /** A tag that does not match the grammar. */
  | 'tag-invalid'
  /** A digest that is malformed or of an unsupported algorithm. */
  | 'digest-invalid'
  /** Content that does not hash to the digest the client gave. */
  | 'digest-mismatch'
  | 'blob-unknown'
  /** The registry knows the blob but its bytes are missing or damaged in storage (logged). */
  | 'blob-unavailable'
  /** The blob's bytes are in a tier that must be restored before they are read or moved (A7). */
  | 'blob-archived'
  /** A blob that holds a manifest's or package's bytes, which are never tiered. */
  | 'blob-not-tierable'
  | 'manifest-unknown'
  /** The registry knows the manifest but its bytes are missing or damaged in storage (logged). */
  | 'manifest-unavailable'
  | 'manifest-invalid'
  /** A manifest names blobs or child manifests the repository does not have. */
  | 'manifest-references-unknown'
  | 'manifest-too-large'
  | 'upload-unknown'
  /** A chunk that does not start at the upload's offset (detail: repository, id, offset). */
  | 'upload-out-of-order'
  /** A malformed chunk range. */
  | 'upload-range-invalid'
  /** A body that carried more or fewer bytes than it announced. */
  | 'size-mismatch'
  /** The client stopped sending before the body was complete. */
  | 'body-interrupted'
  /** A `Range` no byte of the blob satisfies (detail: size). */
  | 'range-unsatisfiable'
  | 'pagination-invalid'
  | 'name-unknown'
  /** A request whose parameters or body do not have the documented shape (detail: issues). */
  | 'request-invalid'
  /** A native package that is not a valid canonical-CBOR (or JSON projection) manifest v1. */
  | 'package-invalid'
  /** Typed metadata that fails its registered schema (detail: errors with JSON pointers). */
  | 'metadata-invalid'
  /** Metadata naming a schema variant that is not registered. */
  | 'schema-unknown'
  /** A schema variant registered already with a different body (schemas are immutable). */
  | 'schema-conflict'
  /** A tag set with policy keep-existing that points elsewhere (detail: current digest). */
  | 'tag-conflict'
  /** A change to a tag of a repository whose tags are immutable. */
  | 'tag-immutable'
  /** A representation the resource does not have (e.g. CBOR of an OCI manifest). */
  | 'not-acceptable'
  /** A method the endpoint does not support. */
  | 'unsupported'
  /** A path that is no endpoint at all. */
  | 'endpoint-unknown'
  /** No credentials, or credentials that are wrong (detail-less; the answer carries a challenge). */
  | 'unauthenticated'
  /** Under legal hold: what would be deleted or overwritten is held (detail: hold, reason). */
  | 'held'
  /** A delete of what another manifest of the repository needs (detail: digest, needed_by). */
  | 'still-referenced'
  /** A release request that cannot be one (an image not pinned by digest). */
  | 'release-invalid'
  /** An application or release that does not exist. */
  | 'release-unknown'
  /** A legal hold that is not in force. */
  | 'hold-unknown'
  /** A retention policy that does not exist. */
  | 'retention-policy-unknown'
  /** An API token that does not exist (or is not the caller's to see). */
  | 'token-unknown'
  /** Authenticated, but the policy does not allow it. */
  | 'denied'
  /** Too many requests (or open sessions) for one identity: retry later. */
  | 'rate-limited';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** A refusal of access: the answer also carries a challenge (401) or a time to wait (429). */
export class AccessError extends DomainError {
  constructor(
    code: 'unauthenticated' | 'denied' | 'rate-limited',
    message: string,
    readonly answer: { challenge?: string; retryAfterSeconds?: number } = {},
  ) {
    super(code, message);
  }
}

export function isDomainError(error: unknown, code?: DomainErrorCode): error is DomainError {
  return error instanceof DomainError && (code === undefined || error.code === code);
}

/** The client went away in the middle of a body: a failure of the request, not of the server. */
export function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ECONNABORTED' ||
    (error as Error | undefined)?.message === 'aborted'
  );
}
