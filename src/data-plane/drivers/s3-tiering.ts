// Tiering on S3: each tier is a storage class (S3_STORAGE_CLASSES). A move is a copy of the object
// onto itself with the new class (a multipart copy above CopyObject's 5 GiB); a restore is
// RestoreObject, and its progress is HeadObject's `Restore` header. Objects in GLACIER or
// DEEP_ARCHIVE must be restored before a GET (S3 answers 403 InvalidObjectState) and before they can
// be copied to another class (403 ObjectNotInActiveTierError). Behaviour measured against moto 5.2.5
// (docs/adr/0008, 0009); S3 removes an expired restored copy by itself.
import {
  CopyObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  RestoreObjectCommand,
} from '@aws-sdk/client-s3';
import { ObjectArchivedError, type Tier, type Tiering, type TierState } from '../tiering.js';
import { RESTORE_CLASSES } from './s3-classes.js';
import type { S3Driver } from './s3-driver.js';
import { encodeKey, MultipartWriter } from './s3-multipart.js';

export { DEFAULT_STORAGE_CLASSES, RESTORE_CLASSES, STORAGE_CLASSES } from './s3-classes.js';

/** CopyObject copies at most 5 GiB in one request. */
const MAX_SINGLE_COPY = 5 * 1024 * 1024 * 1024;

export interface S3TieringOptions {
  classes: Readonly<Record<Tier, string>>;
  /** Where a multipart copy buffers a part it cannot copy server-side (this node's disk). */
  partDir: string;
  partSize: number;
  /** Objects above this are copied part by part (tests lower it). */
  maxSingleCopy?: number;
}

export class S3Tiering implements Tiering {
  constructor(
    private readonly driver: S3Driver,
    private readonly options: S3TieringOptions,
  ) {}

  needsRestore(tier: Tier): boolean {
    return RESTORE_CLASSES.has(this.options.classes[tier]);
  }

  async moveToTier(path: string, tier: Tier): Promise<boolean> {
    const key = this.driver.key(path);
    const head = await this.head(key);
    if (!head) return false;
    const target = this.options.classes[tier];
    if (storageClass(head) === target) return true;
    try {
      await this.copy(key, head.ContentLength ?? 0, target);
    } catch (error) {
      const code = errorName(error);
      if (code === 'ObjectNotInActiveTierError' || code === 'InvalidObjectState') {
        throw new ObjectArchivedError(path, 'it is archived: restore it before moving it to another tier');
      }
      // "This copy request is illegal because it is trying to copy an object to itself without
      // changing …": it is in that class already (another node moved it meanwhile).
      if (code === 'InvalidRequest') {
        const now = await this.head(key);
        if (now && storageClass(now) === target) return true;
      }
      throw error;
    }
    return true;
  }

  async requestRestore(path: string, days: number): Promise<void> {
    try {
      await this.driver.client.send(
        new RestoreObjectCommand({
          Bucket: this.driver.bucket,
          Key: this.driver.key(path),
          RestoreRequest: { Days: days, GlacierJobParameters: { Tier: 'Standard' } },
        }),
      );
    } catch (error) {
      const code = errorName(error);
      // Already under way; or not in an archive class (readable as it is): nothing to start.
      if (code === 'RestoreAlreadyInProgress' || code === 'InvalidObjectState') return;
      throw error;
    }
  }

  async restoreState(path: string): Promise<TierState | undefined> {
    const head = await this.head(this.driver.key(path));
    if (!head) return undefined;
    const restore = parseRestoreHeader(head.Restore);
    const readable = !RESTORE_CLASSES.has(storageClass(head)) || restore.restore === 'restored';
    return { readable, ...restore };
  }

  private async copy(key: string, size: number, target: string): Promise<void> {
    const { client, bucket } = this.driver;
    if (size <= (this.options.maxSingleCopy ?? MAX_SINGLE_COPY)) {
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: `${bucket}/${encodeKey(key)}`,
          StorageClass: target as never,
          MetadataDirective: 'COPY',
        }),
      );
      return;
    }
    // The object is replaced only when the upload completes; until then every read sees the old one.
    const upload = new MultipartWriter({
      client,
      bucket,
      key,
      partDir: this.options.partDir,
      partSize: this.options.partSize,
      storageClass: target,
    });
    try {
      await upload.copy(key, 0, size);
      await upload.complete();
    } finally {
      await upload.abort();
    }
  }

  private async head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.driver.client.send(new HeadObjectCommand({ Bucket: this.driver.bucket, Key: key }));
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) {
        return undefined;
      }
      throw error;
    }
  }
}

/** HeadObject leaves StorageClass out for STANDARD. */
function storageClass(head: HeadObjectCommandOutput): string {
  return head.StorageClass ?? 'STANDARD';
}

/**
 * `ongoing-request="true"` (in progress), or `ongoing-request="false", expiry-date="<HTTP date>"`
 * (restored until then); no header: no restore.
 */
export function parseRestoreHeader(header: string | undefined): Pick<TierState, 'restore' | 'expiresAt'> {
  if (!header) return { restore: 'none' };
  if (/ongoing-request\s*=\s*"true"/i.test(header)) return { restore: 'in_progress' };
  const expiry = /expiry-date\s*=\s*"([^"]+)"/i.exec(header)?.[1];
  const expiresAt = expiry === undefined ? undefined : new Date(expiry);
  return expiresAt && !Number.isNaN(expiresAt.getTime())
    ? { restore: 'restored', expiresAt }
    : { restore: 'restored' };
}

function errorName(error: unknown): string | undefined {
  const e = error as { name?: string; Code?: string };
  return e?.name ?? e?.Code;
}
