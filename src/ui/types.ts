// The shapes of the API answers the UI reads (as the native API's OpenAPI document states them).

export interface RepositoryJson {
  name: string;
  packages: number;
  tags: number;
  size: number;
  last_push_at: string | null;
  immutable_tags: boolean;
}

export interface TagJson {
  name: string;
  digest: string;
  address?: string | null;
  kind: 'image' | 'index' | 'artifact' | 'native';
  media_type: string;
  artifact_type: string | null;
  size: number;
  created_at: string | null;
}

export interface FileJson {
  path?: string;
  media_type: string;
  size: number;
  sha256: string;
  blake3?: string;
}

export interface PackageJson {
  kind: 'native' | 'oci';
  repository: string;
  address: string | null;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  created_at: string | null;
  tags: string[];
  subject?: string;
  schema?: string;
  metadata?: unknown;
  annotations: Record<string, string>;
  files: FileJson[];
  manifests?: { media_type: string; size: number; sha256: string }[];
}

export interface BlobInfoJson {
  sha256: string;
  blake3: string;
  size: number;
  retrieval_tier: string;
  restore_status: string;
  restore_expires_at: string | null;
  readable: boolean;
}

export interface EventJson {
  seq: number;
  type: string;
  at: string;
  repository: string | null;
  payload: Record<string, unknown>;
  previous_hash: string;
  hash: string;
}

export interface HeadJson {
  seq: number;
  hash: string;
}

export interface HoldJson {
  id: string;
  repository: string;
  digest: string | null;
  tag: string | null;
  reason: string;
  placed_at: string;
  released_at: string | null;
}

export interface ReleaseJson {
  app: string;
  number: number;
  image: string;
  platform: { address: string; schema: string; size: number };
  metadata: Record<string, unknown> | null;
  created_at: string;
}

export interface AppJson {
  name: string;
  current: ReleaseJson | null;
}

export interface GcCountsJson {
  tags: number;
  manifests: number;
  links: number;
  blobs: number;
  bytes: number;
  uploads: number;
  strays: number;
}

export interface GcReportJson {
  run: string;
  dry_run: boolean;
  cutoff_seq: number;
  freed: GcCountsJson;
  skipped: string[];
  retired: { policy: string; repository: string; tag: string; digest: string }[];
}
