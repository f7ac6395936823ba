// The OCI error oracle: a 4xx answer must carry `{"errors":[{"code":<OCI code>,"message":…}]}`.

export const OCI_ERROR_CODES: ReadonlySet<string> = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'TAG_INVALID',
  'RANGE_INVALID',
  'PAGINATION_NUMBER_INVALID',
]);

export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a 4xx answer is not `{"errors":[{"code":<OCI code>,"message":<string>,…}]}` as application/json. */
export function errorBodyProblem(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): string | undefined {
  const type = headerText(headers['content-type']);
  if (type === undefined) return `no Content-Type (body ${body.byteLength} bytes)`;
  if (type.split(';')[0]!.trim().toLowerCase() !== 'application/json') return `Content-Type is ${type}`;
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (!isObject(doc) || !Array.isArray(doc.errors) || doc.errors.length === 0) {
    return 'body has no non-empty "errors" array';
  }
  for (const entry of doc.errors as unknown[]) {
    if (!isObject(entry)) return 'an "errors" entry is not an object';
    if (typeof entry.code !== 'string' || !OCI_ERROR_CODES.has(entry.code)) {
      return `error code ${JSON.stringify(entry.code)} is not an OCI code`;
    }
    if (typeof entry.message !== 'string') return 'error "message" is not a string';
  }
  return undefined;
}
