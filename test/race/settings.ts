// Settings of the upload race test, taken from the environment (RACE_SEED, RACE_ROUNDS, RACE_PARALLEL).

export interface RaceSettings {
  seed: number;
  /** Random interleavings, summed over the randomized scenarios. */
  rounds: number;
  /** Rounds in flight at once. */
  parallel: number;
}

export const DEFAULT_RACE_SEED = 0xc0ffee;
export const DEFAULT_RACE_ROUNDS = 240;

/** RACE_SEED (decimal or 0x-hex), RACE_ROUNDS and RACE_PARALLEL from the environment. */
export function raceSettings(env: NodeJS.ProcessEnv = process.env): RaceSettings {
  const seedText = env.RACE_SEED?.trim();
  if (seedText && !Number.isFinite(Number(seedText)))
    throw new Error(`RACE_SEED is not a number: ${seedText}`);
  const seed = seedText ? Number(seedText) >>> 0 : DEFAULT_RACE_SEED;
  const rounds = Math.max(2, Number(env.RACE_ROUNDS?.trim() || DEFAULT_RACE_ROUNDS) | 0);
  const parallel = Math.max(1, Number(env.RACE_PARALLEL?.trim() || 3) | 0);
  return { seed, rounds, parallel };
}
