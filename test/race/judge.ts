// Judging one answer of the upload API: a spec answer for the operation (its success status with the
// headers the spec asks for, or an allowed error with an OCI JSON body), never a 5xx.
import type { RaceResponse } from './client.js';
import type { Violations } from './report.js';

export type UploadOp = 'post' | 'post-digest' | 'mount' | 'patch' | 'put' | 'delete' | 'status';

const OP_NAMES: Record<UploadOp, string> = {
  post: 'POST uploads/',
  'post-digest': 'POST uploads/?digest=',
  mount: 'POST uploads/?mount=&from=',
  patch: 'PATCH',
  put: 'PUT ?digest=',
  delete: 'DELETE (cancel)',
  status: 'GET (status)',
};

/** The success status the spec gives each operation. */
const SUCCESS: Record<UploadOp, readonly number[]> = {
  post: [202],
  'post-digest': [201, 202],
  mount: [201, 202],
  patch: [202],
  put: [201],
  delete: [204],
  status: [204],
};

/** Error answers that are a spec answer for the operation in some situation ("416" = any code). */
const SPEC_ERRORS: Record<UploadOp, readonly string[]> = {
  post: [],
  'post-digest': ['400 DIGEST_INVALID', '400 SIZE_INVALID', '400 BLOB_UPLOAD_INVALID'],
  mount: [],
  patch: ['404 BLOB_UPLOAD_UNKNOWN', '400 BLOB_UPLOAD_INVALID', '400 SIZE_INVALID', '416'],
  put: [
    '404 BLOB_UPLOAD_UNKNOWN',
    '400 BLOB_UPLOAD_INVALID',
    '400 DIGEST_INVALID',
    '400 SIZE_INVALID',
    '416',
  ],
  delete: ['404 BLOB_UPLOAD_UNKNOWN', '400 BLOB_UPLOAD_INVALID'],
  status: ['404 BLOB_UPLOAD_UNKNOWN'],
};

export interface Judged {
  /** A 2xx that is this operation's success answer. */
  success: boolean;
  status: number;
  /** OCI error code of an error answer. */
  code?: string;
  /** e.g. "202", "404 BLOB_UPLOAD_UNKNOWN", "500 UNKNOWN", "no response" */
  label: string;
  /** Upload offset from a Range header `0-<end>` (end + 1; 0 for "0-0"). */
  offset?: number;
}

/** Parses `Range: 0-<end>`; "0-0" is taken as offset 0 (the registry's answer for an empty upload). */
export function rangeOffset(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^0-(\d+)$/.exec(header.trim());
  if (!match) return undefined;
  const end = Number(match[1]);
  return end === 0 ? 0 : end + 1;
}

function errorCode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks that an answer is a spec answer for the operation: its success status (with the headers
 * the spec asks for), or one of the error answers above with an OCI JSON body; never a 5xx.
 */
export function judgeAnswer(op: UploadOp, res: RaceResponse, v: Violations, where: string): Judged {
  const name = OP_NAMES[op];
  if (res.status === 0) {
    v.add('no HTTP answer (transport error)', `${name} ${where}: ${res.transportError}`);
    return { success: false, status: 0, label: 'no response' };
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    const label = String(status);
    if (!SUCCESS[op].includes(status)) {
      v.add('wrong success status', `${name} ${where}: ${status}, expected ${SUCCESS[op].join('/')}`);
      return { success: false, status, label };
    }
    const offset = rangeOffset(res.headers.range);
    const needs: string[] = [];
    if ((op === 'patch' || op === 'status' || (status === 202 && op !== 'delete')) && !res.headers.location)
      needs.push('Location');
    if ((op === 'patch' || op === 'status') && offset === undefined) needs.push('Range: 0-<end>');
    if (status === 201 && !res.headers['docker-content-digest']) needs.push('Docker-Content-Digest');
    if (status === 201 && !res.headers.location) needs.push('Location');
    if (needs.length > 0)
      v.add(
        'success answer lacks a required header',
        `${name} ${where}: ${status} without ${needs.join(', ')}`,
      );
    return { success: true, status, label, offset };
  }
  const code = errorCode(res.body);
  const label = `${status} ${code ?? '(no OCI error body)'}`;
  if (status >= 500) {
    v.add(`5xx answer to ${name}`, `${where}: ${label} ${res.body.toString('utf8').slice(0, 120)}`);
    return { success: false, status, code, label };
  }
  if (code === undefined) {
    v.add(
      'error answer without an OCI JSON error body',
      `${name} ${where}: ${status} ${JSON.stringify(res.body.toString('utf8').slice(0, 120))}`,
    );
  }
  const allowed = SPEC_ERRORS[op];
  const offset = rangeOffset(res.headers.range);
  if (status === 416) {
    if (!allowed.includes('416')) v.add('not a spec answer for the request', `${name} ${where}: ${label}`);
    else if (offset === undefined)
      v.add('416 without a Range header', `${name} ${where}: ${label}, Range=${res.headers.range}`);
  } else if (!allowed.includes(`${status} ${code}`)) {
    v.add('not a spec answer for the request', `${name} ${where}: ${label}`);
  }
  return { success: false, status, code, label, offset };
}
