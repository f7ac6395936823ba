// The S3 storage classes of the tiers, apart from the driver: the configuration reads them without
// loading the AWS SDK (about 8 MiB of memory and part of every start-up when the blobs are on disk).
import type { Tier } from '../tiering.js';

export const DEFAULT_STORAGE_CLASSES: Readonly<Record<Tier, string>> = {
  hot: 'STANDARD',
  warm: 'STANDARD_IA',
  cold: 'GLACIER_IR',
  archive: 'DEEP_ARCHIVE',
};

/** Storage classes a copy can be made in (OUTPOSTS, SNOW, EXPRESS_ONEZONE need other buckets). */
export const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
] as const;

/** Classes whose objects are read only once restored. */
export const RESTORE_CLASSES: ReadonlySet<string> = new Set(['GLACIER', 'DEEP_ARCHIVE']);
