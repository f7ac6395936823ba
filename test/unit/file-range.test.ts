// FileRange: a byte range of a file read as a stream, and sent into a writable through two reused
// buffers — each one refilled only after the writable called back for its previous bytes.
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK, FileRange, ShortReadError } from '../../src/data-plane/file-range.js';

let dir: string;
let file: string;
const bytes = randomBytes(2 * FILE_CHUNK + FILE_CHUNK / 2 + 7);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-range-'));
  file = join(dir, 'blob');
  await writeFile(file, bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const closed = (range: FileRange) =>
  new Promise<void>((resolve) => (range.closed ? resolve() : range.once('close', () => resolve())));

/**
 * A slow receiver: it copies a chunk only when it is about to call back, so a buffer the sender
 * refilled before that call would show up as wrong bytes. Records which buffers it was handed.
 */
function slowSink(failAfter?: number) {
  const received: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let writes = 0;
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      buffers.add(chunk.buffer);
      writes += 1;
      if (failAfter !== undefined && writes > failAfter) {
        sink.destroy();
        return;
      }
      setTimeout(() => {
        received.push(Buffer.from(chunk));
        callback();
      }, 2);
    },
  });
  return { sink, received, buffers };
}

const ranges: Array<[string, number, number]> = [
  ['the whole file', 0, bytes.length - 1],
  ['across two chunk boundaries', 100, 2 * FILE_CHUNK + 5],
  ['inside one chunk', FILE_CHUNK + 3, FILE_CHUNK + 3 + 999],
  ['one byte', 12345, 12345],
];

describe('FileRange read as a stream', () => {
  it.each(ranges)('%s: exactly the bytes of the range', async (_name, start, end) => {
    const range = new FileRange(openSync(file, 'r'), start, end);
    const chunks: Buffer[] = [];
    for await (const chunk of range) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes.subarray(start, end + 1))).toBe(true);
    await closed(range);
  });
});

describe('FileRange.sendTo', () => {
  it.each(ranges)(
    '%s: the bytes of the range, through at most two buffers, and the end',
    async (_n, start, end) => {
      const range = new FileRange(openSync(file, 'r'), start, end);
      const { sink, received, buffers } = slowSink();
      const finished = new Promise<void>((resolve) => sink.once('finish', () => resolve()));
      await range.sendTo(sink);
      await finished;
      expect(Buffer.concat(received).equals(bytes.subarray(start, end + 1))).toBe(true);
      expect(buffers.size).toBeLessThanOrEqual(2);
      await closed(range);
    },
  );

  it('an empty range (end before start): nothing is read, the receiver is ended', async () => {
    const range = new FileRange(openSync(file, 'r'), 10, 9);
    const { sink, received } = slowSink();
    const finished = new Promise<void>((resolve) => sink.once('finish', () => resolve()));
    await range.sendTo(sink);
    await finished;
    expect(received).toEqual([]);
    await closed(range);
    const read = new FileRange(openSync(file, 'r'), 10, 9);
    const chunks: Buffer[] = [];
    for await (const chunk of read) chunks.push(chunk as Buffer);
    expect(chunks).toEqual([]);
  });

  it('a file shorter than the range: rejects, destroys the receiver, closes the file', async () => {
    const short = join(dir, 'short');
    await writeFile(short, bytes);
    const range = new FileRange(openSync(short, 'r'), 0, bytes.length - 1);
    await truncate(short, FILE_CHUNK + 10); // shrunk after it was opened
    const { sink } = slowSink();
    await expect(range.sendTo(sink)).rejects.toBeInstanceOf(ShortReadError);
    expect(sink.destroyed).toBe(true);
    await closed(range);
  });

  it('a receiver that goes away: rejects and closes the file', async () => {
    const range = new FileRange(openSync(file, 'r'), 0, bytes.length - 1);
    const { sink } = slowSink(1);
    await expect(range.sendTo(sink)).rejects.toThrow(/closed before the range was sent/);
    await closed(range);
  });
});
