// The storage driver on an S3 bucket (any S3-compatible server). Objects live under `<prefix>/<path>`.
// S3 cannot append, so an object written through writer() is a run of segments, one per append:
// `<path>.seg/<16-digit start offset>`, each a whole S3 object; readers stitch them together, and
// publish() turns them into one object server-side (UploadPartCopy) where S3 allows. A 200 from S3
// means the bytes are durable. No HTTP routes and no SQL here.
import { Readable, Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type ByteRange,
  type ObjectInfo,
  ObjectSizeError,
  type ObjectWriter,
  type StorageDriver,
} from '../driver.js';
import { ObjectArchivedError } from '../tiering.js';
import { encodeKey, isPreconditionFailed, MIN_PART, MultipartWriter } from './s3-multipart.js';

export interface S3DriverOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' for none). */
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Where this node buffers upload parts before sending them (its own disk). */
  partDir: string;
  /** Bytes per uploaded part (at least 5 MiB). */
  partSize: number;
  /** An S3 client to use instead of one built from the options (tests). */
  client?: S3Client;
}

/** CopyObject copies at most 5 GiB in one request. */
const MAX_SINGLE_COPY = 5 * 1024 * 1024 * 1024;

interface Piece {
  key: string;
  size: number;
  modifiedAt: Date;
}

export class S3Driver implements StorageDriver {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;

  constructor(private readonly options: S3DriverOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.client =
      options.client ??
      new S3Client({
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
        // Checksums only where S3 requires them: S3-compatible servers differ on the newer ones.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    if (options.partSize < MIN_PART) throw new Error(`the S3 part size must be at least ${MIN_PART} bytes`);
  }

  /** The S3 key of a storage path. */
  key(path: string): string {
    if (path.split('/').some((part) => part === '..' || part === '.' || part === '')) {
      throw new Error(`invalid storage path "${path}"`);
    }
    return this.prefix === '' ? path : `${this.prefix}/${path}`;
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const pieces = await this.pieces(path);
    if (pieces === undefined) return undefined;
    const size = pieces.reduce((sum, p) => sum + p.size, 0);
    const modifiedAt = new Date(Math.max(...pieces.map((p) => p.modifiedAt.getTime())));
    return { size, modifiedAt };
  }

  async getContent(path: string): Promise<Buffer | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return Buffer.from(
        await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async putContent(path: string, bytes: Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(path),
        Body: bytes,
        ContentLength: bytes.byteLength,
      }),
    );
  }

  /** A PutObject is atomic on S3: the record is replaced whole. */
  overwrite(path: string, bytes: Uint8Array): Promise<void> {
    return this.putContent(path, bytes);
  }

  async reader(
    path: string,
    expectedSize: number | undefined,
    range: ByteRange,
  ): Promise<Readable | undefined> {
    // A published blob (its size known) is one object: read it at once, its size checked from the
    // answer's Content-Range, rather than a HeadObject first (one request fewer on every blob GET).
    if (expectedSize !== undefined && range.start <= range.end && range.end < expectedSize) {
      const whole = await this.openIfExists(this.key(path), range.start, range.end);
      if (whole) {
        const size = Number(/\/(\d+)$/.exec(whole.contentRange ?? '')?.[1] ?? Number.NaN);
        if (size === expectedSize) return whole.body;
        whole.body.destroy();
        throw new ObjectSizeError(path, expectedSize, size);
      }
    }
    const pieces = await this.pieces(path);
    if (pieces === undefined) return undefined;
    const size = pieces.reduce((sum, p) => sum + p.size, 0);
    if (expectedSize !== undefined && size !== expectedSize)
      throw new ObjectSizeError(path, expectedSize, size);
    const end = Math.min(range.end, size - 1);
    if (end < range.start) return Readable.from([]);
    // The first piece is opened before returning, so a read that cannot start fails here, not mid-body.
    const parts: Array<{ key: string; start: number; end: number }> = [];
    let base = 0;
    for (const piece of pieces) {
      const from = Math.max(range.start, base);
      const to = Math.min(end, base + piece.size - 1);
      if (from <= to) parts.push({ key: piece.key, start: from - base, end: to - base });
      base += piece.size;
    }
    const first = parts.shift();
    if (!first) return Readable.from([]);
    const opened = await this.open(first.key, first.start, first.end);
    const open = (key: string, start: number, stop: number) => this.open(key, start, stop);
    return Readable.from(
      (async function* () {
        yield* opened;
        for (const part of parts) yield* await open(part.key, part.start, part.end);
      })(),
      { objectMode: false },
    );
  }

  async writer(path: string, offset: number): Promise<ObjectWriter> {
    const key = this.key(path);
    // Drop what a crash left at or beyond the committed offset (segments start at committed offsets).
    for (const piece of (await this.segments(key)) ?? []) {
      const start = Number(piece.key.slice(piece.key.lastIndexOf('/') + 1));
      if (start >= offset)
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: piece.key }));
    }
    const upload = new MultipartWriter({
      client: this.client,
      bucket: this.bucket,
      key: `${key}.seg/${String(offset).padStart(16, '0')}`,
      partDir: this.options.partDir,
      partSize: this.options.partSize,
    });
    const stream = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, done) {
        upload.write(chunk).then(() => done(), done);
      },
    });
    return {
      stream,
      async commit() {
        await upload.complete();
      },
      async cancel() {
        stream.destroy();
        await upload.abort();
      },
    };
  }

  async publish(src: string, dst: string): Promise<'created' | 'existed'> {
    const target = this.key(dst);
    if (await this.head(target)) return 'existed';
    const pieces = await this.pieces(src);
    if (pieces === undefined) throw new Error(`cannot publish ${src}: it does not exist`);
    const outcome = await this.write(target, pieces, true);
    if (outcome === 'created') await this.delete(src);
    return outcome;
  }

  async replace(src: string, dst: string): Promise<void> {
    const pieces = await this.pieces(src);
    if (pieces === undefined) throw new Error(`cannot move ${src}: it does not exist`);
    await this.delete(dst);
    await this.write(this.key(dst), pieces, false);
    await this.delete(src);
  }

  /**
   * Removes the object, its segments and everything under it, and aborts multipart uploads left
   * open under it (a node killed in the middle of a large chunk leaves one; S3 keeps its parts).
   */
  async delete(path: string): Promise<void> {
    const key = this.key(path);
    const within = (name: string) =>
      name === key || name.startsWith(`${key}/`) || name.startsWith(`${key}.seg/`);
    let plain = false;
    let other = false;
    for await (const object of this.listAll(key)) {
      if (!within(object)) continue;
      if (object === key) plain = true;
      else other = true;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object }));
    }
    // A plain object (a staged manifest) was written whole: no multipart upload can be open under it.
    if (plain && !other) return;
    const open = await this.client.send(
      new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }),
    );
    for (const upload of open.Uploads ?? []) {
      if (upload.Key && upload.UploadId && within(upload.Key)) {
        await this.client
          .send(
            new AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: upload.Key,
              UploadId: upload.UploadId,
            }),
          )
          .catch(() => {}); // already completed or aborted by its writer
      }
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const base = `${this.key(prefix)}/`;
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: base,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      const names = [
        ...(page.CommonPrefixes ?? []).map((p) => (p.Prefix ?? '').slice(base.length, -1)),
        ...(page.Contents ?? []).map((c) => (c.Key ?? '').slice(base.length)),
      ];
      for (const raw of names) {
        const name = raw.endsWith('.seg') ? raw.slice(0, -'.seg'.length) : raw;
        if (name !== '' && !seen.has(name)) {
          seen.add(name);
          yield name;
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  presignedUrl(path: string, expiresInSeconds: number): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new Error(
        `the S3 bucket "${this.bucket}" is unusable (${e.name ?? e.message}${status ? `, HTTP ${status}` : ''})`,
      );
    }
  }

  // ---- objects and their segments ----

  /** The object as the pieces it is read from: itself, or its segments; undefined when absent. */
  private async pieces(path: string): Promise<Piece[] | undefined> {
    const key = this.key(path);
    const whole = await this.head(key);
    if (whole) return [whole];
    return this.segments(key);
  }

  private async head(key: string): Promise<Piece | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The segments that tile the object from offset 0 in order (undefined when it has none). */
  private async segments(key: string): Promise<Piece[] | undefined> {
    const found: Array<Piece & { start: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${key}.seg/`, ContinuationToken: token }),
      );
      for (const c of page.Contents ?? []) {
        const start = Number((c.Key ?? '').slice(key.length + '.seg/'.length));
        if (Number.isSafeInteger(start)) {
          found.push({
            key: c.Key ?? '',
            start,
            size: c.Size ?? 0,
            modifiedAt: c.LastModified ?? new Date(0),
          });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (found.length === 0) return undefined;
    found.sort((a, b) => a.start - b.start);
    const tiled: Piece[] = [];
    let next = 0;
    for (const piece of found) {
      if (piece.start !== next) break; // a gap: what follows was never committed
      tiled.push(piece);
      next += piece.size;
    }
    return tiled;
  }

  /** Writes `pieces` (in order) as the object `target`; `ifNoneMatch`: an existing object wins. */
  private async write(target: string, pieces: Piece[], ifNoneMatch: boolean): Promise<'created' | 'existed'> {
    const only = pieces.length === 1 ? pieces[0] : undefined;
    if (only && only.size <= MAX_SINGLE_COPY) {
      try {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: target,
            CopySource: `${this.bucket}/${encodeKey(only.key)}`,
            ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
          }),
        );
        return 'created';
      } catch (error) {
        if (ifNoneMatch && isPreconditionFailed(error)) return 'existed';
        throw error;
      }
    }
    const upload = new MultipartWriter({
      client: this.client,
      bucket: this.bucket,
      key: target,
      partDir: this.options.partDir,
      partSize: this.options.partSize,
    });
    try {
      for (const piece of pieces) await upload.copy(piece.key, 0, piece.size);
      return await upload.complete({ ifNoneMatch });
    } finally {
      await upload.abort();
    }
  }

  private async open(key: string, start: number, end: number): Promise<Readable> {
    const opened = await this.openIfExists(key, start, end);
    if (!opened) throw new Error(`${key} is gone`);
    return opened.body;
  }

  /** Bytes [start, end] of an object and its Content-Range, or undefined when there is no object. */
  private async openIfExists(
    key: string,
    start: number,
    end: number,
  ): Promise<{ body: Readable; contentRange: string | undefined } | undefined> {
    try {
      const got = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end}` }),
      );
      return { body: got.Body as Readable, contentRange: got.ContentRange };
    } catch (error) {
      // 403 InvalidObjectState: a GLACIER or DEEP_ARCHIVE object that is not restored.
      if ((error as { name?: string }).name === 'InvalidObjectState') throw new ObjectArchivedError(key);
      // 416: the object is shorter than the range; the caller looks at what is there.
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (isNotFound(error) || status === 416) return undefined;
      throw error;
    }
  }

  private async *listAll(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const c of page.Contents ?? []) if (c.Key) yield c.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
