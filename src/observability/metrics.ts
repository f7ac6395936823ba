// The Prometheus metrics of one app instance, in a registry of its own (several servers may run in
// one process, as in the tests). Plain values in, text out: what a request's route is, and where the
// gauges' numbers come from, is decided by the caller.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface RequestSample {
  method: string;
  /** A bounded route template (never a raw path: names, digests and ids would explode cardinality). */
  route: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

/** Read at scrape time. */
export interface MetricsSources {
  uploadsInProgress(): Promise<number>;
  eventLogHeadSequence(): Promise<number>;
  /** This process's database connections, by pool and by state (active, idle, …). */
  databaseConnections?(): Promise<Array<{ pool: string; state: string; count: number }>>;
  /** The most connections each pool opens. */
  databasePoolSizes?: Readonly<Record<string, number>>;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Blob uploads and downloads can take minutes: buckets past prom-client's default 10 s.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly bytesIn: Counter<'method' | 'route'>;
  private readonly bytesOut: Counter<'method' | 'route'>;

  constructor(sources?: MetricsSources, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from a request reaching the app to its answer being sent, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: BUCKETS,
      registers,
    });
    this.bytesIn = new Counter({
      name: 'http_request_bytes_total',
      help: 'Request body bytes, as declared by Content-Length (chunked bodies are not counted)',
      labelNames: ['method', 'route'],
      registers,
    });
    this.bytesOut = new Counter({
      name: 'http_response_bytes_total',
      help: 'Response body bytes, as declared by Content-Length (bodies of unknown length are not counted)',
      labelNames: ['method', 'route'],
      registers,
    });
    if (sources) {
      gauge(registers, 'uploads_in_progress', 'Upload sessions open', sources.uploadsInProgress);
      gauge(
        registers,
        'event_log_head_sequence',
        'Sequence number of the last event in the event log',
        sources.eventLogHeadSequence,
      );
    }
    if (sources?.databaseConnections) {
      const read = sources.databaseConnections;
      new Gauge({
        name: 'db_pool_connections',
        help: "This process's open database connections, by pool (queries, locks) and state (active, idle, …)",
        labelNames: ['pool', 'state'],
        registers,
        async collect() {
          try {
            const rows = await read();
            this.reset();
            for (const row of rows) this.set({ pool: row.pool, state: row.state }, row.count);
          } catch {
            // keep the last values
          }
        },
      });
    }
    if (sources?.databasePoolSizes) {
      const max = new Gauge({
        name: 'db_pool_max_connections',
        help: 'The most connections each database pool opens',
        labelNames: ['pool'],
        registers,
      });
      for (const [pool, size] of Object.entries(sources.databasePoolSizes)) max.set({ pool }, size);
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  observe(sample: RequestSample): void {
    const method = METHODS.has(sample.method) ? sample.method : 'other';
    const labels = { method, route: sample.route, status: String(sample.status) };
    this.requests.inc(labels);
    this.duration.observe(labels, sample.seconds);
    if (sample.bytesIn > 0) this.bytesIn.inc({ method, route: sample.route }, sample.bytesIn);
    if (sample.bytesOut > 0) this.bytesOut.inc({ method, route: sample.route }, sample.bytesOut);
  }

  /** The exposition text and its Content-Type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * A gauge read from `read` at scrape time. A failed read keeps the last value rather than failing
 * the scrape (the process metrics would go with it); /readyz is where an unreachable database shows.
 */
function gauge(registers: Registry[], name: string, help: string, read: () => Promise<number>): void {
  new Gauge({
    name,
    help,
    registers,
    async collect() {
      try {
        this.set(await read());
      } catch {
        // keep the last value
      }
    },
  });
}
