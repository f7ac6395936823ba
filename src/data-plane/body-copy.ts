// Copying a request body to storage. The socket delivers 64 KiB pieces; they are gathered into 1 MiB
// slots of shared memory, and each full slot is written (one write call) and hashed (on a hashing
// thread, in place) at the same time, while the next slot fills. At most three slots per body are in
// use, so memory stays flat whatever the size; a slot goes back to a shared pool once its write and
// its hash are both done.
import type { Readable, Writable } from 'node:stream';
import type { RunningHasher } from './hasher.js';

export const SLOT_BYTES = 1024 * 1024;
/** One slot filling while up to two are written and hashed. */
const SLOTS_PER_BODY = 3;
/** Free slots kept for the next bodies (a new one is zeroed and faulted in page by page). */
const SLOTS_KEPT = 16;

const free: Buffer[] = [];

/** A slot for a body; one announced smaller than a slot gets a buffer of its own size instead. */
function takeSlot(announced: number | undefined): Buffer {
  if (announced !== undefined && announced < SLOT_BYTES) return Buffer.allocUnsafe(Math.max(1, announced));
  return free.pop() ?? Buffer.from(new SharedArrayBuffer(SLOT_BYTES));
}

function giveSlot(slot: Buffer): void {
  if (slot.length === SLOT_BYTES && free.length < SLOTS_KEPT) free.push(slot);
}

export interface CopyLimits {
  /** Bytes the body announced: more than that is read and dropped (up to `maxExcess`), not stored. */
  limit?: number;
  maxExcess: number;
  /** The error for a body longer than `limit`. */
  tooLong(): Error;
}

/**
 * Copies `body` into `sink` and `hasher`, then ends `sink`; returns how many bytes were stored. On a
 * failure every slot's write and hash has settled before it throws, and `sink` is left to the caller
 * to discard. A body longer than `limit` fails (after being read up to `maxExcess` past it, so an
 * answer can still go out on an intact connection).
 */
export async function copyBody(
  body: Readable,
  sink: Writable,
  hasher: RunningHasher | undefined,
  limits: CopyLimits,
): Promise<number> {
  let failure: unknown;
  const onSinkError = (error: unknown) => {
    failure ??= error;
  };
  // Kept on: an error event with no listener would be thrown.
  sink.on('error', onSinkError);
  const busy: Promise<void>[] = [];
  const dispatch = (slot: Buffer, length: number) => {
    const bytes = slot.subarray(0, length);
    const written = new Promise<void>((resolve, reject) =>
      sink.write(bytes, (error) => (error ? reject(error) : resolve())),
    );
    const work = Promise.allSettled([written, hasher?.update(bytes)]).then((results) => {
      giveSlot(slot);
      for (const r of results) if (r.status === 'rejected') failure ??= r.reason;
    });
    busy.push(work);
  };

  let slot: Buffer | undefined = takeSlot(limits.limit);
  let fill = 0;
  let stored = 0;
  /** Bytes copied into slots so far (`stored` counts a piece as soon as it is accepted). */
  let placed = 0;
  let excess = 0;
  const { limit } = limits;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (failure) throw failure;
      if (limit !== undefined && stored + chunk.byteLength > limit) {
        excess += chunk.byteLength;
        if (excess > limits.maxExcess) throw limits.tooLong();
        continue;
      }
      stored += chunk.byteLength;
      for (let at = 0; at < chunk.byteLength; ) {
        const n = Math.min(chunk.byteLength - at, slot.length - fill);
        chunk.copy(slot, fill, at, at + n);
        fill += n;
        at += n;
        placed += n;
        if (fill === slot.length) {
          dispatch(slot, fill);
          slot = undefined;
          fill = 0;
          if (busy.length >= SLOTS_PER_BODY - 1) await busy.shift();
          slot = takeSlot(limit === undefined ? undefined : limit - placed);
        }
      }
    }
    if (fill > 0 && slot) {
      dispatch(slot, fill);
      slot = undefined;
    }
    await Promise.all(busy.splice(0));
    if (failure) throw failure;
    if (excess > 0) throw limits.tooLong();
    await new Promise<void>((resolve, reject) => {
      sink.once('finish', resolve);
      sink.once('error', reject);
      sink.end();
    });
    return stored;
  } finally {
    if (slot) giveSlot(slot);
    await Promise.all(busy);
  }
}
