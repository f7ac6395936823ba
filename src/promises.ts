// Small helpers for failures that come from elsewhere: a promise bounded in time, and the error at
// the bottom of a chain of causes (the driver's own message, not a wrapper's).

/** `promise`, or a rejection with `message` after `ms`; the timer never outlives the race. */
export function withTimeout<T>(promise: PromiseLike<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The innermost `cause` of an error. */
export function rootCause(error: unknown): unknown {
  let cause = error;
  while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
  return cause;
}
