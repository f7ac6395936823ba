// The shapes of the API answers the UI reads: the native API's own schemas (types only, so the UI
// neither loads the API's modules nor drifts from what they answer).
export type { BlobInfoJson } from '../http/api/blobs.js';
export type { EventJson, HeadJson } from '../http/api/events.js';
export type { GcCountsJson, GcReportJson } from '../http/api/gc.js';
export type { HoldJson } from '../http/api/holds.js';
export type { PackageJson } from '../http/api/packages.js';
export type { AppJson, ReleaseJson } from '../http/api/releases.js';
export type { RepositoryJson, TagJson } from '../http/api/repositories.js';
export type { RetentionPolicyJson } from '../http/api/retention.js';
