// The part of fs-native-extensions (an OS file lock: OFD locks on Linux, flock on macOS) we use.
declare module 'fs-native-extensions' {
  /** Takes an exclusive (or shared) lock on the open file; false when another holder has it. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
}
