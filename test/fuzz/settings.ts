// Settings of the /v2/ fuzz run, taken from the environment (FUZZ_SEED, FUZZ_REQUESTS).
import { parseSeed } from '../helpers/random.js';

const DEFAULT_SEED = 20261123;
export const SEED = parseSeed(process.env.FUZZ_SEED, DEFAULT_SEED);
export const REQUESTS = Math.max(1, Number(process.env.FUZZ_REQUESTS ?? 20_000) || 20_000);
export const CONCURRENCY = 16;
/** Raw-socket exchanges in flight besides the HTTP ones. */
export const RAW_CONCURRENCY = 2;
