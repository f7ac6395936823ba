// The backup directory that `artifact-store backup` writes and `restore <dir>` reads:
//   events.jsonl          every event 1..seq, one JSON object a line, as GET /api/v1/events gives it
//   blobs/sha256/<hex>    the bytes of every blob the log needs at seq
//   backup.json           written last: its presence marks a complete backup
// Also what both sides derive from the log: which blobs it needs, and the tier each was left in.
import { join } from 'node:path';

export const BACKUP_FORMAT = 'artifact-store-backup';
export const BACKUP_VERSION = 1;
export const MANIFEST_FILE = 'backup.json';
export const EVENTS_FILE = 'events.jsonl';
export const BLOBS_DIR = join('blobs', 'sha256');

/** backup.json */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** The last event in the backup (the log's head when the backup started). */
  seq: number;
  head_hash: string;
  created_at: string;
  /** Blob files in the backup, and their bytes in all. */
  blobs: number;
  bytes: number;
  /** `sha256:<hex>` of archived blobs left out (`backup --skip-archived`): their bytes are not here. */
  skipped_archived?: string[];
}

/** One line of events.jsonl: an event as the native API shows it. */
export interface BackupEvent {
  seq: number;
  type: string;
  at: string;
  repository?: string | null;
  payload: Record<string, unknown>;
  previous_hash: string;
  hash: string;
}

export function blobFile(dir: string, sha256: string): string {
  return join(dir, BLOBS_DIR, sha256);
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A blob the log needs: its size, and the tier its last move left it in. */
export interface NeededBlob {
  size: number;
  tier: string;
}

/**
 * The blobs whose bytes the registry needs after the events fed so far: every `blob.committed`, in
 * commit order, less those whose last event is a `blob.deleted` (garbage collection's).
 */
export class NeededBlobs {
  private readonly blobs = new Map<string, NeededBlob>();

  add(event: { type: string; payload: Record<string, unknown> }): void {
    const sha256 = event.payload.sha256;
    if (typeof sha256 !== 'string') return;
    switch (event.type) {
      case 'blob.committed':
        this.blobs.set(sha256, { size: Number(event.payload.size), tier: 'hot' });
        return;
      case 'blob.deleted':
        this.blobs.delete(sha256);
        return;
      case 'blob.tier-changed': {
        const blob = this.blobs.get(sha256);
        if (blob && typeof event.payload.tier === 'string') blob.tier = event.payload.tier;
        return;
      }
    }
  }

  entries(): [string, NeededBlob][] {
    return [...this.blobs];
  }

  has(sha256: string): boolean {
    return this.blobs.has(sha256);
  }

  get count(): number {
    return this.blobs.size;
  }

  get bytes(): number {
    let total = 0;
    for (const { size } of this.blobs.values()) total += size;
    return total;
  }
}
