// A round-robin HTTP/1.1 reverse proxy for tests: every REQUEST (not every connection: a client's
// keep-alive connection alternates too) goes to the next backend in turn, the way a load balancer in
// front of several registry nodes would send it. Bodies stream both ways with backpressure (a blob can
// be GiBs; nothing is buffered), a response that never ends (Server-Sent Events) is forwarded chunk by
// chunk, and a failure on either side is never passed off as a complete response: a backend that dies
// mid-response gets the client's connection destroyed. A backend that refuses the connection is
// skipped for GET and HEAD (one retry on the next backend); any other request gets a 502 in the
// registry's error form. Used by scripts/serve-nodes.mjs and test/unit/round-robin.test.ts.
import http from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message, so they are
 * not forwarded. A request's Transfer-Encoding is kept (the backend request is framed the same way); a
 * response's is dropped and the proxy's server frames the body for its own client. `Expect` is
 * answered by this proxy's server (100 Continue) and not passed on.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'upgrade',
]);

/** Methods whose request, refused by one backend before any byte was sent, is retried on the next. */
const RETRYABLE = new Set(['GET', 'HEAD']);

/** Methods for which Node's HTTP client sends no body framing by default. */
const NO_DEFAULT_BODY = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * @typedef {object} RoundRobin
 * @property {string} url the proxy's base URL, e.g. http://127.0.0.1:41234
 * @property {number} port the port it listens on
 * @property {() => Promise<void>} close stops listening, destroys every open client connection and
 *   the pooled backend connections
 * @property {number[]} counts live: how many requests each backend (same index as `backends`) got
 */

/**
 * Starts the proxy.
 * @param {string[]} backends base URLs (http://host:port) of the backends, tried in this order
 * @param {{ host?: string, port?: number }} [options] where to listen (default 127.0.0.1, a free port)
 * @returns {Promise<RoundRobin>}
 */
export async function startRoundRobin(backends, { host = '127.0.0.1', port = 0 } = {}) {
  if (!Array.isArray(backends) || backends.length === 0) {
    throw new TypeError('startRoundRobin: backends must be a non-empty array of base URLs');
  }
  const targets = backends.map((backend) => {
    const url = new URL(backend);
    if (url.protocol !== 'http:') throw new TypeError(`startRoundRobin: not an http:// URL: ${backend}`);
    return url;
  });
  // One pool per backend: keep-alive connections, reused most-recent first (the least likely to have
  // been closed by the backend's idle timeout; Node also honours the backend's Keep-Alive hint).
  // A pooled connection idle for 2 s is closed here, well before the backend's keep-alive timeout (5 s)
  // closes it there: reusing one the backend is closing fails the request, and a request with a body
  // (a push) cannot be retried. (A 502 on an `artifact-store push` in the two-node client suite.)
  const agents = targets.map(() => new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 2000 }));
  /** @type {number[]} */
  const counts = targets.map(() => 0);
  let next = 0;
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();

  // Header sections up to the registry's largest MAX_HEADER_BYTES pass through, so that the nodes,
  // not the proxy, answer an oversized one (431).
  const server = http.createServer({ noDelay: true, maxHeaderSize: 1024 * 1024 });
  // Large layers take longer than Node's default 5-minute request timeout; SSE streams never end.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const first = next;
    next = (next + 1) % targets.length;
    forward(req, res, first, 0);
  });
  // A request the parser rejects: answer 400 (or drop the socket when the client is gone).
  server.on('clientError', (error, socket) => {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  /**
   * Sends one attempt of `req` to backend `index`.
   * @param {http.IncomingMessage} req
   * @param {http.ServerResponse} res
   * @param {number} index
   * @param {number} attempt 0, or 1 for the retry of a refused GET/HEAD
   */
  function forward(req, res, index, attempt) {
    const target = /** @type {URL} */ (targets[index]);
    const method = req.method ?? 'GET';
    const { headers, hasBody } = requestHeaders(req);
    counts[index] = (counts[index] ?? 0) + 1;
    const proxyReq = http.request({
      protocol: 'http:',
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || 80,
      method,
      path: req.url,
      headers,
      agent: agents[index],
      setHost: false,
      maxHeaderSize: 1024 * 1024,
    });
    /** @type {http.IncomingMessage | undefined} */
    let proxyRes;
    let clientGone = false;
    let done = false;

    res.once('close', () => {
      if (res.writableFinished) return;
      // The client went away (or we destroyed its socket): stop the backend request too.
      clientGone = true;
      proxyReq.destroy();
    });
    req.on('error', () => {}); // an aborted upload: handled by res 'close'
    res.on('error', () => {});

    proxyReq.on('error', (error) => {
      if (done || clientGone) return;
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      if (proxyRes !== undefined) {
        // The backend failed after answering: the client must not take a cut body for a whole one.
        if (!proxyRes.complete) abortClient();
        return;
      }
      const refused =
        code === 'ECONNREFUSED' ||
        // A pooled connection the backend closed just as we reused it: the request never got there.
        ((code === 'ECONNRESET' || code === 'EPIPE') && proxyReq.reusedSocket);
      if (refused) counts[index] = (counts[index] ?? 1) - 1; // that backend never got it
      if (refused && attempt === 0 && RETRYABLE.has(method) && !hasBody && targets.length > 1) {
        done = true;
        forward(req, res, (index + 1) % targets.length, 1);
        return;
      }
      done = true;
      if (res.headersSent) {
        abortClient();
        return;
      }
      req.unpipe(proxyReq);
      const body = JSON.stringify({
        errors: [
          {
            code: 'UNAVAILABLE',
            message: `round-robin proxy: backend ${target.origin} failed: ${error.message}`,
          },
        ],
      });
      res.writeHead(502, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    });

    proxyReq.on('response', (incoming) => {
      proxyRes = incoming;
      incoming.on('error', () => {}); // 'aborted': handled on 'close'
      res.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, responseHeaders(incoming));
      // Send the status line and headers now: an event stream's first event may be minutes away.
      res.flushHeaders();
      incoming.pipe(res, { end: false });
      incoming.once('end', () => {
        done = true;
        if (incoming.rawTrailers.length > 0) res.addTrailers(pairs(incoming.rawTrailers));
        res.end();
      });
      incoming.once('close', () => {
        if (!incoming.complete && !clientGone) {
          done = true;
          abortClient();
        }
      });
    });

    if (!hasBody) {
      req.resume();
      proxyReq.end();
    } else if (req.readableEnded) {
      proxyReq.end(); // cannot happen for a body that was not read yet; kept for safety
    } else {
      req.pipe(proxyReq, { end: false });
      req.once('end', () => {
        if (req.rawTrailers.length > 0) proxyReq.addTrailers(pairs(req.rawTrailers));
        proxyReq.end();
      });
    }

    function abortClient() {
      clientGone = true;
      proxyReq.destroy();
      res.destroy();
      req.socket.destroy();
    }
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    counts,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        for (const agent of agents) agent.destroy();
      });
    },
  };
}

/**
 * The headers to send the backend: every header the client sent, in order and with duplicates, less
 * the hop-by-hop ones (and those its Connection header names), plus X-Forwarded-For. Host is the
 * client's. A request with no body framing gets `Content-Length: 0` where Node would otherwise frame
 * an empty body as chunked.
 * @param {http.IncomingMessage} req
 * @returns {{ headers: string[], hasBody: boolean }}
 */
function requestHeaders(req) {
  const raw = req.rawHeaders;
  const drop = connectionTokens(raw);
  /** @type {string[]} */
  const headers = [];
  /** @type {string | undefined} */
  let forwardedFor;
  let length = false;
  let chunked = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    const value = /** @type {string} */ (raw[i + 1]);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || drop.has(lower) || lower === 'expect') continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'content-length') length = true;
    if (lower === 'transfer-encoding') chunked = true;
    headers.push(name, value);
  }
  const client = req.socket.remoteAddress ?? 'unknown';
  headers.push('X-Forwarded-For', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  const method = req.method ?? 'GET';
  if (!length && !chunked && !NO_DEFAULT_BODY.has(method)) headers.push('Content-Length', '0');
  const hasBody = chunked || (length && Number(req.headers['content-length']) > 0);
  return { headers, hasBody };
}

/**
 * The headers to send the client: the backend's, in order and with duplicates (Set-Cookie, Link, …),
 * less the hop-by-hop ones and Transfer-Encoding (this proxy's server frames the body itself).
 * @param {http.IncomingMessage} incoming
 * @returns {string[]}
 */
function responseHeaders(incoming) {
  const raw = incoming.rawHeaders;
  const drop = connectionTokens(raw);
  /** @type {string[]} */
  const headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || drop.has(lower) || lower === 'transfer-encoding') continue;
    headers.push(name, /** @type {string} */ (raw[i + 1]));
  }
  return headers;
}

/**
 * The header names a Connection header lists (they are hop-by-hop too).
 * @param {string[]} raw
 * @returns {Set<string>}
 */
function connectionTokens(raw) {
  const names = new Set();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] ?? '').split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'close' && name !== 'keep-alive') names.add(name);
    }
  }
  return names;
}

/**
 * A flat [name, value, name, value, …] list as [name, value] pairs.
 * @param {string[]} raw
 * @returns {[string, string][]}
 */
function pairs(raw) {
  /** @type {[string, string][]} */
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    out.push([/** @type {string} */ (raw[i]), /** @type {string} */ (raw[i + 1])]);
  return out;
}
