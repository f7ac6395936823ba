// The lifecycle settings (issue 9, ADR-0011): when garbage collection runs, how long it leaves what
// became unreferenced alone, and whether referrers outlive their subject. loadConfig reads them
// beside the others, one line per wrong one.
// A cycle, safe both ways: config.ts uses this module only inside loadConfig, and this module uses
// ConfigError only inside its functions.
import { ConfigError } from './config.js';

export interface LifecycleConfig {
  /** How often GC runs in the background (one node at a time); 0: never (only on demand). */
  gcIntervalMs: number;
  /** What became unreferenced is left alone this long: a push in progress may still need it. */
  gcDelayMs: number;
  /** `with-subject`: a referrer goes once its subject is gone; `keep`: referrers are never collected. */
  gcReferrers: 'with-subject' | 'keep';
}

export const LIFECYCLE_SETTINGS = ['GC_INTERVAL', 'GC_DELAY', 'GC_REFERRERS'] as const;

export const LIFECYCLE_HELP = `  GC_INTERVAL               how often garbage collection runs in the background, on one node at a
                            time (default 1h; 0 = never, only "artifact-store gc")
  GC_DELAY                  what became unreferenced (untagged manifests, unused blobs) is kept
                            this long before GC frees it: a push in progress may still need it
                            (default 24h; 0 = free at once, for tests and maintenance windows)
  GC_REFERRERS              with-subject (default): an untagged referrer (signature, SBOM) is freed
                            once its subject is gone; keep: referrers are never freed`;

type Check = <T>(read: () => T, fallback: T) => T;

export function lifecycleSettings(env: NodeJS.ProcessEnv, check: Check): LifecycleConfig {
  return {
    gcIntervalMs: check(() => span(env, 'GC_INTERVAL', 3_600_000), 3_600_000),
    gcDelayMs: check(() => span(env, 'GC_DELAY', 86_400_000), 86_400_000),
    gcReferrers: check(() => referrers(env), 'with-subject'),
  };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `30s`, `90m`, `24h` or `2d` (a bare number is seconds); 0 is allowed. */
function span(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(raw);
  if (!match) {
    throw new ConfigError(`${name} must be a duration such as 0, 30s, 90m, 24h or 2d, got "${raw}"`);
  }
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
}

function referrers(env: NodeJS.ProcessEnv): LifecycleConfig['gcReferrers'] {
  const raw = env.GC_REFERRERS?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'with-subject') return 'with-subject';
  if (raw === 'keep') return 'keep';
  throw new ConfigError(`GC_REFERRERS must be with-subject or keep, got "${env.GC_REFERRERS}"`);
}
