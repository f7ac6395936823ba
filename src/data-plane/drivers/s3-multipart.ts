// Writes one S3 object from a stream of bytes and of server-side copies, never holding a part in
// memory: bytes are buffered into a part file on local disk and uploaded when it reaches the part
// size, while the next part fills; a byte range of an existing object of 5 MiB or more is copied
// server-side (UploadPartCopy). An object that never reached one part is written with one PutObject.
// Nothing is visible under the key until complete() (S3 shows no object while a multipart upload is
// open), so a failure leaves nothing half-written.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';

/** S3's smallest part (all but the last). */
export const MIN_PART = 5 * 1024 * 1024;
/** The largest range copied as one part (S3 allows 5 GiB). */
const MAX_COPY_PART = 4 * 1024 * 1024 * 1024;

export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** Where part files are buffered (this node's disk). */
  partDir: string;
  /** Bytes per uploaded part; doubles every 1,000 parts so an object never runs out of S3's 10,000. */
  partSize: number;
  storageClass?: string;
}

export class MultipartWriter {
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private file: { path: string; handle: FileHandle; size: number } | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly target: MultipartTarget) {}

  /** Appends bytes; resolves once they are in a part file (or uploaded). */
  async write(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    while (rest.byteLength > 0) {
      const file = await this.partFile();
      const take = Math.min(rest.byteLength, this.partSize() - file.size);
      await file.handle.write(rest.subarray(0, take));
      file.size += take;
      rest = rest.subarray(take);
      if (file.size >= this.partSize()) await this.flush();
    }
  }

  /** Appends bytes [start, end) of another object of the bucket, server-side where S3 allows. */
  async copy(sourceKey: string, start: number, end: number): Promise<void> {
    let pos = start;
    const buffered = this.file?.size ?? 0;
    if (buffered > 0) {
      // Top the buffered part up to the minimum through this node, or take the whole range when
      // what would remain of it could not be a part of its own.
      const need = Math.max(0, MIN_PART - buffered);
      const wanted = end - pos - need < MIN_PART ? end - pos : need;
      await this.download(sourceKey, pos, pos + wanted);
      pos += wanted;
      if ((this.file?.size ?? 0) >= MIN_PART) await this.flush();
    }
    while (end - pos >= MIN_PART) {
      let length = Math.min(end - pos, MAX_COPY_PART);
      if (end - pos - length > 0 && end - pos - length < MIN_PART) length = end - pos - MIN_PART;
      await this.copyPart(sourceKey, pos, pos + length);
      pos += length;
    }
    if (pos < end) await this.download(sourceKey, pos, end);
  }

  /**
   * Makes the object visible. With `ifNoneMatch`, an object already under the key wins and this
   * returns 'existed' (the written bytes are dropped).
   */
  async complete(options: { ifNoneMatch?: boolean } = {}): Promise<'created' | 'existed'> {
    const { client, bucket, key, storageClass } = this.target;
    const condition = options.ifNoneMatch ? { IfNoneMatch: '*' } : {};
    try {
      await this.inflight;
      if (this.uploadId === undefined) {
        // The part file is removed by abort() below.
        const file = await this.partFile();
        await file.handle.close();
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: file.size > 0 ? createReadStream(file.path) : Buffer.alloc(0),
            ContentLength: file.size,
            StorageClass: storageClass as never,
            ...condition,
          }),
        );
        return 'created';
      }
      if (this.file && this.file.size > 0) await this.flush();
      await this.inflight;
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: this.parts },
          ...condition,
        }),
      );
      this.uploadId = undefined;
      return 'created';
    } catch (error) {
      if (options.ifNoneMatch && isPreconditionFailed(error)) return 'existed';
      throw error;
    } finally {
      await this.abort();
    }
  }

  /** Drops everything: the open multipart upload (if any) and the part files. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inflight?.catch(() => {});
    if (this.file) {
      await this.file.handle.close().catch(() => {});
      await rm(this.file.path, { force: true });
      this.file = undefined;
    }
    if (this.uploadId !== undefined) {
      const { client, bucket, key } = this.target;
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId }))
        .catch(() => {});
      this.uploadId = undefined;
    }
  }

  private partSize(): number {
    return this.target.partSize * 2 ** Math.floor(this.parts.length / 1000);
  }

  private async partFile(): Promise<{ path: string; handle: FileHandle; size: number }> {
    if (this.closed) throw new Error(`the upload of ${this.target.key} is over`);
    if (!this.file) {
      await mkdir(this.target.partDir, { recursive: true });
      const path = join(this.target.partDir, randomUUID());
      this.file = { path, handle: await open(path, 'wx+'), size: 0 };
    }
    return this.file;
  }

  private async start(): Promise<string> {
    if (this.uploadId === undefined) {
      const { client, bucket, key, storageClass } = this.target;
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, StorageClass: storageClass as never }),
      );
      if (!created.UploadId) throw new Error(`S3 gave no upload id for ${key}`);
      this.uploadId = created.UploadId;
    }
    return this.uploadId;
  }

  /** Uploads the buffered part file while the next one fills; at most one upload in flight. */
  private async flush(): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    await file.handle.close();
    await this.inflight;
    const uploadId = await this.start();
    const partNumber = this.parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    this.parts.push(part);
    const { client, bucket, key } = this.target;
    this.inflight = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: createReadStream(file.path),
          ContentLength: file.size,
        }),
      )
      .then((done) => {
        part.ETag = done.ETag;
      })
      .finally(() => rm(file.path, { force: true }));
    // A failed upload is reported by the next write, flush or complete (never left unhandled).
    this.inflight.catch(() => {});
  }

  private async copyPart(sourceKey: string, start: number, end: number): Promise<void> {
    await this.inflight;
    const uploadId = await this.start();
    const { client, bucket, key } = this.target;
    const partNumber = this.parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    this.parts.push(part);
    const copied = await client.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: `${bucket}/${encodeKey(sourceKey)}`,
        CopySourceRange: `bytes=${start}-${end - 1}`,
      }),
    );
    part.ETag = copied.CopyPartResult?.ETag;
  }

  private async download(sourceKey: string, start: number, end: number): Promise<void> {
    if (end <= start) return;
    const { client, bucket } = this.target;
    const got = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: sourceKey, Range: `bytes=${start}-${end - 1}` }),
    );
    for await (const chunk of got.Body as AsyncIterable<Uint8Array>) await this.write(chunk);
  }
}

/** A key as CopySource wants it: each segment URL-encoded, the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}
