/**
 * Deadlines and backoff: every phase of a smoke run ends, one way or another.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Phase, SmokeError } from "./errors";

/**
 * Runs `fn` with a signal that aborts after `ms`. Resolves with fn's result, or rejects with a "timeout"
 * SmokeError whose message ends with `status()`, read at the moment of the timeout so it can say
 * where the run was stuck. Rejects on time even if fn ignores the signal.
 */
export async function withDeadline<T>(
  phase: Phase,
  ms: number,
  status: () => string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new SmokeError(
        "timeout",
        phase,
        `${phase} timed out after ${formatSeconds(ms)}: ${status()}`,
      );
      ctl.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(ctl.signal), expired]);
  } finally {
    clearTimeout(timer);
    // Settles the losing promise's signal users (pending requests, sleeps) so nothing dangles.
    if (!ctl.signal.aborted) ctl.abort(new Error(`${phase} finished`));
  }
}

/** Pure: the delays of a bounded exponential backoff, `initial` doubling up to `max`. */
export function* backoff(initialMs: number, maxMs: number): Generator<number, never> {
  let d = initialMs;
  for (;;) {
    yield d;
    d = Math.min(d * 2, maxMs);
  }
}

/** Sleeps, but wakes (rejecting with the signal's reason) as soon as the signal aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch((err) => {
    throw signal.aborted ? signal.reason : err;
  });
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
