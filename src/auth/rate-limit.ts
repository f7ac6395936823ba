// Limits against abuse, counted in this process's memory (so per node): a token bucket per identity
// for requests, and a one-minute window per client address for failed credential checks.

/** Requests per second per key, with a burst; `take` answers 0 or the seconds to wait. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(key: string, now = Date.now()): number {
    if (this.perSecond <= 0) return 0;
    const capacity = Math.max(this.burst, 1);
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.prune(now);
    return 0;
  }

  /** Drops buckets that have refilled (they hold nothing a fresh one would not). */
  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(key);
    }
  }
}

/** At most `perMinute` failures per key in a sliding minute; `blocked` answers 0 or seconds to wait. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly perMinute: number) {}

  blocked(key: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    const recent = this.recent(key, now);
    if (recent.length < this.perMinute) return 0;
    return Math.max(1, Math.ceil((recent[0]! + 60_000 - now) / 1000));
  }

  record(key: string, now = Date.now()): void {
    if (this.perMinute <= 0) return;
    const recent = this.recent(key, now);
    recent.push(now);
    this.failures.set(key, recent.slice(-this.perMinute));
    if (this.failures.size > 100_000) {
      for (const [k, times] of this.failures)
        if (times.every((t) => t <= now - 60_000)) this.failures.delete(k);
    }
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - 60_000);
  }
}
