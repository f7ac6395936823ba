// How deep JSON text nests, counted on the text before it is parsed: parsing is iterative, but what
// walks the parsed value afterwards (canonical JSON for the event log, schema compilers, the CBOR
// projection) recurses, so a body nested thousands deep would overflow the stack there.

/** Deepest nesting of objects and arrays accepted in any JSON the registry reads. */
export const MAX_JSON_DEPTH = 64;

/** Deepest object/array nesting of JSON text, counted before parsing (strings are skipped). */
export function jsonNestingDepth(bytes: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped character
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > 10_000) return deepest;
      }
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return deepest;
}
