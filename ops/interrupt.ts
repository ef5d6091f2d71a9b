/**
 * What the lifecycle runs (`vace e2e`, `vace bake`) share about an interrupt (SIGINT/SIGTERM, passed
 * in as an AbortSignal): long work stops waiting at once, and an interrupted update is cancelled
 * before the teardown that always follows.
 */
import { firstLine } from "./teardown";

/** Resolves to undefined as soon as `signal` aborts, so long work never delays teardown. */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Waits `ms`, or less when `signal` aborts first (and then leaves no timer behind). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * After an update that an interrupt stopped. The SDK sent the CLI SIGINT, which stops the update;
 * `pulumi cancel` also clears a lock a killed CLI may have left, so the destroy can take the stack.
 */
export async function cancelInterrupted(
  stack: { cancel(): Promise<void> },
  log: (line: string) => void,
): Promise<void> {
  log("interrupted: the update was cancelled; clearing any lock, then destroying");
  await stack.cancel().catch((err) => log(`pulumi cancel: ${firstLine(err)} (continuing)`));
}
