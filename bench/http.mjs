// @ts-check
// The HTTP client side: one request at a time with node:http, and the checks every answer goes
// through. A failed check is a CheckError: the operation counts as failed and the run exits 1.
import http from 'node:http';

/**
 * @typedef {object} Response
 * @property {number} status
 * @property {http.IncomingHttpHeaders} headers
 * @property {Buffer} body
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} [method]
 * @property {http.OutgoingHttpHeaders} [headers]
 * @property {Buffer | string | NodeJS.ReadableStream} [body] piped when a stream, never buffered
 */

/** A registry as the operations see it: its base URL and the keep-alive agent to reach it. */
/** @typedef {{ base: string, agent: http.Agent }} Client */

/** An answer that was not what the registry should have sent. */
export class CheckError extends Error {}

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
export function check(condition, message) {
  if (!condition) throw new CheckError(message);
}

/**
 * The status and the start of the body, for messages.
 * @param {{ status: number, body?: Buffer }} r
 */
export function describeResponse(r) {
  const body = r.body?.length ? ` ${r.body.subarray(0, 300).toString('utf8')}` : '';
  return `HTTP ${r.status}${body}`;
}

/**
 * @param {Response} r
 * @param {number} status
 * @param {string} what
 */
export function expectStatus(r, status, what) {
  check(r.status === status, `${what}: expected HTTP ${status}, got ${describeResponse(r)}`);
}

/**
 * The response header `name` as one string (undefined when absent).
 * @param {http.IncomingHttpHeaders} headers
 * @param {string} name
 * @returns {string | undefined}
 */
export function header(headers, name) {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * One HTTP request; `body` is a Buffer, a string or a Readable (piped, never buffered).
 * @param {http.Agent | undefined} agent
 * @param {string} url
 * @param {RequestOptions} [options]
 * @returns {Promise<Response>}
 */
export function request(agent, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/**
 * An upload location with `digest=` added to its query.
 * @param {string} location
 * @param {string} digest
 */
export function withDigest(location, digest) {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
