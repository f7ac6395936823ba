// Background work on a timer (the upload sweeper, the restore tracker): one run at a time, failures
// reported rather than fatal, and a stop that waits for the run in progress.

/** Runs `task` every `intervalMs` until the returned function is called (and awaited). */
export function runEvery(
  intervalMs: number,
  task: () => Promise<unknown>,
  report: (error: unknown) => void,
): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(task).catch(report);
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
