// Judges one answer: no 5xx, complete exchanges, OCI error bodies, nothing accepted that must fail,
// and content fetched by digest hashes to that digest.
import type { WireResponse } from './client.js';
import { hashAs } from './fixtures.js';
import { errorBodyProblem } from './oracle.js';
import { describeResponse, type Exchange, type FuzzReport } from './report.js';
import { landing } from './routes.js';
import type { Planned } from './run.js';

export function judge(
  report: FuzzReport,
  exchange: Exchange,
  res: WireResponse,
  mustFail?: Planned['mustFail'],
): void {
  const observed =
    describeResponse(res.status, res.body, res.failure) + (res.detail ? ` (${res.detail})` : '');
  if (res.failure !== undefined) {
    report.add(`incomplete exchange: ${res.failure.replace(/\d+/g, 'N')}`, exchange, observed);
  }
  if (res.status >= 500) {
    // A 5xx on a real upload session while another request works on it is an upload race.
    const race =
      exchange.labels.includes('upload:concurrent') &&
      exchange.labels.some((l) => l === 'id:real' || l === 'id:finished' || l === 'race');
    report.add(`${res.status}`, exchange, observed, race ? 'upload:concurrent' : undefined);
  } else if (res.status >= 400 && exchange.method !== 'HEAD' && res.failure === undefined) {
    const problem = errorBodyProblem(res.headers, res.body);
    if (problem) report.add(`${res.status} without an OCI error body (${problem})`, exchange, observed);
  }
  if (mustFail && res.status >= 200 && res.status < 300)
    report.add(mustFail.kind, exchange, observed, mustFail.cause);
  // Content addressing: a whole blob or a manifest fetched by digest must hash to that digest.
  if (exchange.method === 'GET' && res.status === 200 && res.failure === undefined) {
    const at = landing(exchange.path);
    const ref = at?.route.ref;
    if (
      (at?.route.kind === 'blob' || at?.route.kind === 'manifest') &&
      ref &&
      /^(sha256|sha512|blake3):/.test(ref)
    ) {
      const actual = hashAs(ref, res.body);
      if (actual !== ref) {
        report.add(
          `served ${at.route.kind} bytes do not match the digest in the URL`,
          exchange,
          `${observed} (content is ${actual})`,
        );
      }
    }
  }
}
