// Just enough tar for OCI image layouts: an index of a tar file's regular files (name → where its
// bytes are), read header by header without extracting anything, so each file can be streamed from
// its place; and a streaming writer of ustar entries (a pax header for a name longer than 100 bytes,
// base-256 for a size past 8 GiB). Readers accept ustar, pax (`path`, `size`) and GNU long names.
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777;

export class TarError extends Error {}

export interface TarEntry {
  /** Where the file's bytes start in the tar file. */
  offset: number;
  size: number;
}

/** Regular files of a tar by name (a leading `./` removed); later entries win, as in extraction. */
export async function indexTar(handle: FileHandle, what: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const header = Buffer.alloc(BLOCK);
  const { size: fileSize } = await handle.stat();
  let position = 0;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let longName: string | undefined;
  for (;;) {
    const { bytesRead } = await handle.read(header, 0, BLOCK, position);
    if (bytesRead === 0 && position > 0) break; // no end-of-archive blocks: accepted, as tar does
    if (bytesRead < BLOCK && position > 0)
      throw new TarError(`${what}: truncated tar header at byte ${position}`);
    if (position > 0 && header.every((b) => b === 0)) break;
    if (bytesRead < BLOCK || !checksumOk(header)) {
      throw new TarError(
        position === 0
          ? `${what} is neither a directory nor a tar file${header[0] === 0x1f && header[1] === 0x8b ? ' (it is compressed: gunzip it first)' : ''}`
          : `${what}: damaged tar header at byte ${position}`,
      );
    }
    const type = String.fromCharCode(header[156] || 0x30);
    const size = paxSize ?? readSize(header.subarray(124, 136));
    const offset = position + BLOCK;
    if (offset + size > fileSize) throw new TarError(`${what}: truncated tar entry at byte ${position}`);
    position = offset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L') {
      const data = Buffer.alloc(size);
      await handle.read(data, 0, size, offset);
      if (type === 'L') longName = cString(data);
      else ({ path: paxPath, size: paxSize } = parsePax(data, what));
      continue;
    }
    if (type === 'g' || type === 'K') continue; // global pax header, GNU long link name: not needed
    let name = paxPath ?? longName ?? ustarName(header);
    paxPath = longName = paxSize = undefined;
    name = normalize(name);
    if ((type === '0' || type === '7') && name !== '') entries.set(name, { offset, size });
  }
  return entries;
}

function normalize(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.startsWith('/')) n = n.slice(1);
  return n;
}

function ustarName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const ustar = header.subarray(257, 262).toString('latin1') === 'ustar';
  const prefix = ustar ? cString(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

function readSize(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    // base-256 (GNU): big-endian, the top bit of the first byte a marker
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(field).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const text = cString(header.subarray(148, 156)).trim();
  if (!/^[0-7]+$/.test(text)) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === Number.parseInt(text, 8);
}

/** The `path` and `size` records of a pax header ("<length> <key>=<value>\n" each). */
function parsePax(data: Buffer, what: string): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length && data[at] !== 0) {
    const space = data.indexOf(0x20, at);
    const length = Number.parseInt(data.subarray(at, space).toString('latin1'), 10);
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0) {
      throw new TarError(`${what}: damaged pax header`);
    }
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    if (key === 'size') out.size = Number.parseInt(value, 10);
    at += length;
  }
  return out;
}

/** Writes a tar stream entry by entry, honouring back-pressure; `end()` writes the end-of-archive. */
export class TarWriter {
  constructor(private readonly out: Writable) {}

  async directory(name: string): Promise<void> {
    await this.header(name.endsWith('/') ? name : `${name}/`, 0, '5', 0o755);
  }

  /** A regular file of exactly `size` bytes from `source` (fewer or more is an error). */
  async file(name: string, size: number, source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>) {
    await this.header(name, size, '0', 0o644);
    let written = 0;
    for await (const chunk of source) {
      written += chunk.byteLength;
      if (written > size) throw new TarError(`${name}: more than the ${size} bytes announced`);
      await this.write(chunk);
    }
    if (written !== size) throw new TarError(`${name}: ${written} bytes where ${size} were announced`);
    await this.pad(size);
  }

  async end(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
  }

  private async header(name: string, size: number, type: string, mode: number): Promise<void> {
    if (Buffer.byteLength(name) > 100) {
      const record = paxRecord('path', name);
      await this.write(ustarHeader('PaxHeader', record.length, 'x', 0o644));
      await this.write(record);
      await this.pad(record.length);
    }
    await this.write(ustarHeader(name, size, type, mode));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest > 0) await this.write(Buffer.alloc(BLOCK - rest));
  }

  private write(chunk: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.out.once('error', onError);
      const ready = this.out.write(chunk, (error) => {
        if (error) reject(error);
      });
      const done = () => {
        this.out.off('error', onError);
        resolve();
      };
      if (ready) done();
      else this.out.once('drain', done);
    });
  }
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  // The length counts its own digits.
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return Buffer.from(`${length}${body}`);
}

function ustarHeader(name: string, size: number, type: string, mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(Buffer.byteLength(name) > 100 ? name.slice(-100) : name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1'); // uid
  h.write(octal(0, 8), 116, 'latin1'); // gid
  if (size > MAX_OCTAL_SIZE) {
    h[124] = 0x80;
    let value = size;
    for (let i = 135; i > 124; i--) {
      h[i] = value % 256;
      value = Math.floor(value / 256);
    }
  } else h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1'); // mtime: 0, so the same layout is the same tar
  h.write(type, 156, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return h;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}
