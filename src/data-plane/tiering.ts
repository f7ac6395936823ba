// Storage tiering (A7): where a stored object sits decides how quickly it can be read. A tier is a
// capability of the storage, beside the StorageDriver: S3 maps tiers to storage classes, the
// filesystem to DATA_DIR or COLD_DIR. Objects in some tiers must be restored (a temporary readable
// copy) before their bytes can be read. No HTTP and no SQL here; the registry records the outcome.

export const TIERS = ['hot', 'warm', 'cold', 'archive'] as const;
export type Tier = (typeof TIERS)[number];

/** What the storage says about a restore: the control plane adds `expired` from its history. */
export type RestoreProgress = 'none' | 'in_progress' | 'restored';

export interface TierState {
  /** Whether the object's bytes can be read now. */
  readable: boolean;
  restore: RestoreProgress;
  /** When a restored copy goes away (restored only). */
  expiresAt?: Date;
}

export interface Tiering {
  /** Whether objects in `tier` must be restored before their bytes can be read. */
  needsRestore(tier: Tier): boolean;
  /**
   * Moves the object to `tier` durably; nothing happens when it is there already. False when there is
   * no such object. ObjectArchivedError when it must be restored before it can leave its tier.
   */
  moveToTier(path: string, tier: Tier): Promise<boolean>;
  /**
   * Asks for a readable copy of an object that needs a restore, for `days` days. S3 answers at once
   * and restores in the background (hours); the filesystem copies before returning. Nothing happens
   * for an object that is readable anyway.
   */
  requestRestore(path: string, days: number): Promise<void>;
  /**
   * The object's restore state, or undefined when there is no such object. `now` is when a restored
   * copy counts as expired where the storage keeps the expiry itself (the filesystem removes it then).
   */
  restoreState(path: string, now?: Date): Promise<TierState | undefined>;
}

/** The object's bytes cannot be read (or it cannot change tier) until it is restored. */
export class ObjectArchivedError extends Error {
  constructor(
    readonly path: string,
    reason = 'it is archived and not restored',
  ) {
    super(`${path}: ${reason}`);
    this.name = 'ObjectArchivedError';
  }
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}
