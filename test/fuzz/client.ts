// The fuzz's HTTP client: sends request targets verbatim over keep-alive sockets and reports
// incomplete exchanges instead of throwing.
import http from 'node:http';

export interface WireRequest {
  method: string;
  /** The request target, sent verbatim (no normalisation of `..`, no re-encoding). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked`, in several writes. */
  chunked?: boolean;
}

export interface WireResponse<T extends WireRequest = WireRequest> {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the exchange did not end in a complete HTTP response. */
  failure?: string;
  /** Circumstances of a failure (connection reused or new, time taken). */
  detail?: string;
  /**
   * Set when the request first failed because the server tore down a keep-alive connection right
   * after answering the previous request on it (that request is the culprit; this one was retried).
   */
  resetAfter?: { request: T; status: number; idleMs: number; code: string };
}

const NO_RESPONSE_MS = 30_000;
/** A keep-alive connection dropped this soon after an answer was dropped by the server on purpose. */
const RESET_AFTER_ANSWER_MS = 1_000;

interface SocketHistory<T> {
  request: T;
  status: number;
  answeredAt: number;
}

/**
 * Sends requests over a keep-alive agent. Never throws: an exchange that does not end in a complete
 * response (status line, headers, and exactly Content-Length body bytes) is reported in `failure`.
 * A request that fails before any response on a *reused* socket (the server may have closed it
 * for idleness just as we sent) is retried once on a fresh connection, so client-side keep-alive
 * races are not mistaken for dropped connections; if the socket had been answered less than a
 * second before, the server dropped it on purpose, and `resetAfter` names the request it answered.
 */
export class FuzzClient<T extends WireRequest = WireRequest> {
  private readonly agent: http.Agent;
  /** What each pooled socket last carried (the agent's own `reusedSocket` misses queued requests). */
  private readonly history = new WeakMap<object, SocketHistory<T>>();

  constructor(
    private readonly port: number,
    maxSockets = 16,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 3_000 });
  }

  async send(request: T): Promise<WireResponse<T>> {
    const first = await this.exchange(request, this.agent);
    if (!first.retry) return first.response;
    const second = (await this.exchange(request, false)).response;
    if (second.failure) second.failure += ', also on a fresh connection';
    const previous = first.previous;
    if (previous && first.idleMs !== undefined && first.idleMs < RESET_AFTER_ANSWER_MS) {
      second.resetAfter = {
        request: previous.request,
        status: previous.status,
        idleMs: first.idleMs,
        code: first.code ?? '',
      };
    }
    return second;
  }

  close(): void {
    this.agent.destroy();
  }

  private exchange(
    request: T,
    agent: http.Agent | false,
  ): Promise<{
    response: WireResponse<T>;
    retry: boolean;
    previous?: SocketHistory<T>;
    idleMs?: number;
    code?: string;
  }> {
    return new Promise((resolve) => {
      let settled = false;
      let responded = false;
      let previous: SocketHistory<T> | undefined;
      let idleMs: number | undefined;
      let code: string | undefined;
      const finish = (response: WireResponse<T>, retry = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ response, retry, previous, idleMs, code });
      };
      const headers: Record<string, string | string[]> = { ...request.headers };
      if (request.chunked) headers['Transfer-Encoding'] = 'chunked';
      else headers['Content-Length'] = String(request.body?.byteLength ?? 0);
      let req: http.ClientRequest;
      try {
        req = http.request({
          host: '127.0.0.1',
          port: this.port,
          method: request.method,
          path: request.path,
          headers,
          agent,
        });
      } catch (error) {
        // The generator produced something Node's client refuses to put on the wire.
        throw new Error(
          `fuzz generator bug: ${(error as Error).message} for ${request.method} ${request.path}`,
        );
      }
      const started = performance.now();
      const timer = setTimeout(() => req.destroy(new Error('ETIMEDOUT')), NO_RESPONSE_MS);
      req.on('socket', (socket) => {
        previous = this.history.get(socket);
        if (previous) idleMs = Math.round(performance.now() - previous.answeredAt);
      });
      req.on('response', (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const declared = res.headers['content-length'];
          let failure: string | undefined;
          if (!res.complete) failure = 'response ended before it was complete';
          else if (
            request.method !== 'HEAD' &&
            declared !== undefined &&
            Number(declared) !== body.byteLength
          ) {
            failure = `body has ${body.byteLength} bytes, Content-Length says ${declared}`;
          }
          if (req.socket) {
            this.history.set(req.socket, {
              request,
              status: res.statusCode ?? 0,
              answeredAt: performance.now(),
            });
          }
          finish({ status: res.statusCode ?? 0, headers: res.headers, body, failure });
        });
        res.on('close', () =>
          finish({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            failure: `connection closed mid-body after ${Buffer.concat(chunks).byteLength} bytes`,
          }),
        );
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (responded) return; // e.g. EPIPE while still sending, after a complete answer: res decides
        code = error.code ?? error.message;
        const reused = req.reusedSocket || previous !== undefined;
        // Reset, or bytes left over from the previous answer: not this request's doing, try again.
        const retry = agent !== false && reused && /^(ECONNRESET|EPIPE|HPE_)/.test(code);
        finish(
          {
            status: 0,
            headers: {},
            body: Buffer.alloc(0),
            failure:
              code === 'ETIMEDOUT' ? `no response within ${NO_RESPONSE_MS} ms` : `no response (${code})`,
            detail: `${reused ? 'reused keep-alive' : 'new'} connection, after ${Math.round(performance.now() - started)} ms: ${error.message}`,
          },
          retry,
        );
      });
      const body = request.body;
      if (request.chunked && body && body.byteLength > 0) {
        // Several chunks, so the server sees a real chunked stream.
        const step = Math.max(1, Math.ceil(body.byteLength / 3));
        for (let i = 0; i < body.byteLength; i += step) req.write(body.subarray(i, i + step));
        req.end();
      } else {
        req.end(body && body.byteLength > 0 ? body : undefined);
      }
    });
  }
}
