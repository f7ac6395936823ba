// An htpasswd file of bcrypt lines (`htpasswd -B`), verified with @node-rs/bcrypt off the event loop.
// Verifications run one at a time per process: the libuv pool they use is shared with fs, and queued
// bcrypt work delayed an fs.stat by 628 ms in ADR-0010. Good passwords are cached for 60 s because a
// single push sends 8-10 Basic-authenticated requests.
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';

export class HtpasswdError extends Error {
  override name = 'HtpasswdError';
}

/** `htpasswd -B` writes cost 5 unless `-C` is given; below this we warn. */
const MIN_RECOMMENDED_COST = 10;
const CACHE_TTL_MS = 60_000;
const CACHE_MAX_ENTRIES = 10_000;
const REFRESH_INTERVAL_MS = 1_000;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

// The cache holds HMACs under this per-process key, never a password or a plain (guessable) hash of one.
const cacheKeySecret = randomBytes(32);

let bcryptQueue: Promise<unknown> = Promise.resolve();
const stats = { verifications: 0, pending: 0, running: 0, maxRunning: 0 };

/** Runs `task` after every bcrypt operation queued before it, so at most one uses a libuv thread. */
function enqueue<T>(task: () => Promise<T>): Promise<T> {
  stats.pending++;
  const run = bcryptQueue
    .then(() => {
      stats.running++;
      stats.maxRunning = Math.max(stats.maxRunning, stats.running);
      return task();
    })
    .finally(() => {
      stats.running--;
      stats.pending--;
    });
  bcryptQueue = run.catch(() => undefined);
  return run;
}

/**
 * Process-wide bcrypt counters: verifications started (tests see cache hits and dummy compares by it),
 * operations queued or running (a gauge for metrics), and the most ever running at once (1).
 */
export function bcryptStats(): { verifications: number; pending: number; maxRunning: number } {
  return { verifications: stats.verifications, pending: stats.pending, maxRunning: stats.maxRunning };
}

// One dummy hash per cost, made once per process: unknown users are checked against it so they cost
// as much as known ones (distribution's cost-5 dummy against cost-10 users leaked names by timing).
const dummyHashes = new Map<number, Promise<string>>();
function dummyHash(cost: number): Promise<string> {
  let dummy = dummyHashes.get(cost);
  if (!dummy) {
    dummy = enqueue(() => bcryptHash(randomBytes(18).toString('base64'), { cost }));
    dummyHashes.set(cost, dummy);
    dummy.catch(() => dummyHashes.delete(cost));
  }
  return dummy;
}

interface Parsed {
  users: Map<string, string>;
  warnings: string[];
  maxCost: number;
}

/** Names the scheme of a non-bcrypt hash without showing any of it (plain text would be a password). */
function schemeOf(hash: string): string {
  const dollar = /^\$[^$]{1,8}\$/.exec(hash);
  if (dollar) return dollar[0];
  const braces = /^\{[A-Za-z0-9-]{1,16}\}/.exec(hash);
  if (braces) return braces[0];
  return 'plain text or crypt(3)';
}

function parse(path: string, text: string): Parsed {
  const users = new Map<string, string>();
  const warnings: string[] = [];
  let maxCost = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `htpasswd ${path} line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw new HtpasswdError(`${where}: not a user:hash line (no ':')`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (user === '') throw new HtpasswdError(`${where}: empty user name`);
    const bcrypt = BCRYPT.exec(hash);
    if (!bcrypt) {
      const reason = /^\$2[aby]\$/.test(hash)
        ? 'malformed bcrypt hash'
        : `not a bcrypt hash (${schemeOf(hash)}); only bcrypt ($2y$/$2b$/$2a$) is accepted`;
      throw new HtpasswdError(`${where} (${user}): ${reason} — create it with htpasswd -B -C 10`);
    }
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > 31)
      throw new HtpasswdError(`${where} (${user}): bcrypt cost ${cost} out of range`);
    if (users.has(user)) {
      // Apache uses the first line of a user; keep that, but say so.
      warnings.push(`${where} (${user}): user already defined on an earlier line; this line is ignored`);
      continue;
    }
    if (cost < MIN_RECOMMENDED_COST) {
      warnings.push(
        `${where} (${user}): bcrypt cost ${cost} is weak; recreate it with htpasswd -B -C ${MIN_RECOMMENDED_COST}`,
      );
    }
    maxCost = Math.max(maxCost, cost);
    users.set(user, hash);
  }
  // The dummy for unknown users costs what the dearest real user costs (no users: the recommended cost).
  return { users, warnings, maxCost: maxCost || MIN_RECOMMENDED_COST };
}

/** What identifies one version of the file; a change of any part means a rewrite (or a rename onto it). */
async function signature(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

export class Htpasswd {
  readonly path: string;
  #parsed: Parsed;
  #signature: string;
  /** The signature of a version that failed to load, so it is reported once, not every second. */
  #failedSignature: string | undefined;
  #lastCheck = Date.now();
  #refreshing: Promise<{ reloaded: boolean; error?: Error }> | undefined;
  /** HMAC of a verified (user, password, hash) → expiry (ms). Insertion order is age order. */
  readonly #cache = new Map<string, number>();
  /** Verifications in flight by the same key, so parallel requests with one credential cost one bcrypt. */
  readonly #inFlight = new Map<string, Promise<boolean>>();

  private constructor(path: string, parsed: Parsed, sig: string) {
    this.path = path;
    this.#parsed = parsed;
    this.#signature = sig;
  }

  /** Reads and validates the whole file; any non-bcrypt or malformed line throws HtpasswdError. */
  static async load(path: string): Promise<Htpasswd> {
    const sig = await signature(path); // before reading: a write in between is seen by the next refresh
    const parsed = parse(path, await readFile(path, 'utf8'));
    const htpasswd = new Htpasswd(path, parsed, sig);
    await dummyHash(parsed.maxCost);
    return htpasswd;
  }

  /** Lines with cost < 10 (htpasswd -B defaults to cost 5) and repeated users: one message each. */
  get warnings(): string[] {
    return [...this.#parsed.warnings];
  }

  has(user: string): boolean {
    return this.#parsed.users.has(user);
  }

  /** true when the user exists and the password matches; unknown users cost a bcrypt compare too. */
  async verify(user: string, password: string): Promise<boolean> {
    const { users, maxCost } = this.#parsed;
    const stored = users.get(user);
    if (stored === undefined) {
      const dummy = await dummyHash(maxCost);
      await this.#bcrypt(password, dummy);
      return false;
    }
    const key = createHmac('sha256', cacheKeySecret)
      .update(`${user}\0${password}\0${stored}`)
      .digest('base64url');
    const expires = this.#cache.get(key);
    if (expires !== undefined) {
      if (expires > Date.now()) return true;
      this.#cache.delete(key);
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#bcrypt(password, stored).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const ok = await pending;
    // Not cached when the file was reloaded meanwhile: the cache belongs to the content it checked.
    if (ok && this.#parsed.users.get(user) === stored) this.#remember(key);
    return ok;
  }

  /**
   * Re-reads the file when its mtime, size or inode changed, checking at most once per second
   * (`force`, for SIGHUP, checks now). A bad file keeps the old content and returns the error once
   * per version of the file. Reloading clears the cache.
   */
  refresh(options: { force?: boolean } = {}): Promise<{ reloaded: boolean; error?: Error }> {
    if (!options.force && Date.now() - this.#lastCheck < REFRESH_INTERVAL_MS) {
      return Promise.resolve({ reloaded: false });
    }
    this.#refreshing ??= this.#reload(options.force === true).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #reload(force: boolean): Promise<{ reloaded: boolean; error?: Error }> {
    this.#lastCheck = Date.now();
    let sig: string | undefined;
    try {
      sig = await signature(this.path);
      if (!force && (sig === this.#signature || sig === this.#failedSignature)) return { reloaded: false };
      const parsed = parse(this.path, await readFile(this.path, 'utf8'));
      await dummyHash(parsed.maxCost);
      this.#parsed = parsed;
      this.#signature = sig;
      this.#failedSignature = undefined;
      this.#cache.clear();
      return { reloaded: true };
    } catch (cause) {
      const error =
        cause instanceof HtpasswdError
          ? cause
          : new HtpasswdError(`htpasswd ${this.path}: ${(cause as Error).message}`, { cause });
      // A file that cannot even be stat'ed is remembered by its error code.
      const failed = sig ?? `error:${(cause as NodeJS.ErrnoException).code ?? error.message}`;
      if (!force && failed === this.#failedSignature) return { reloaded: false };
      this.#failedSignature = failed;
      return { reloaded: false, error };
    }
  }

  #bcrypt(password: string, hash: string): Promise<boolean> {
    return enqueue(() => {
      stats.verifications++;
      return bcryptVerify(password, hash);
    });
  }

  #remember(key: string): void {
    this.#cache.delete(key);
    while (this.#cache.size >= CACHE_MAX_ENTRIES) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, Date.now() + CACHE_TTL_MS);
  }
}
