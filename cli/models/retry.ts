/**
 * How many attempts one source gets, as pure rules tested without I/O.
 *
 * Failures are counted in a row, and the count starts again only after *meaningful* progress: a
 * server that sends a trickle of bytes and then drops the connection must not reset it every time,
 * or it would be asked again forever. A cap on all attempts per source bounds even a source that
 * keeps making progress in small steps; past it the next source (or the next run) resumes the same
 * `.partial`, so nothing downloaded is lost.
 */
import { formatBytes } from "./progress";

/** The most new data a reset ever needs, however large the file (8 MiB). */
export const PROGRESS_STEP_BYTES = 8 * 1024 * 1024;
/** All attempts one source gets per run: this many times (retries + 1). */
export const ATTEMPTS_PER_TRY = 10;

/** New data that restarts the failure count: 1% of the file, at most 8 MiB, at least 1 byte. */
export function meaningfulProgress(size: number): number {
  return Math.max(1, Math.min(PROGRESS_STEP_BYTES, Math.ceil(size / 100)));
}

/** The most requests one source gets per run, whatever progress each makes. */
export function maxAttempts(retries: number): number {
  return (retries + 1) * ATTEMPTS_PER_TRY;
}

export interface RetryState {
  /** Requests made to this source so far. */
  attempts: number;
  /** Failed attempts since the count last started again. */
  failures: number;
  /** The offset reached when the count last started again: progress is measured from here. */
  mark: number;
}

export function startRetries(offset: number): RetryState {
  return { attempts: 0, failures: 0, mark: offset };
}

export type RetryVerdict = { giveUp: false; state: RetryState } | { giveUp: true; reason: string };

/**
 * After a failed attempt that left the `.partial` at `offset`: try again, or give up on the source.
 * Progress counts from `mark`, so bytes lost to a restart from 0 are not counted again.
 */
export function afterFailure(
  state: RetryState,
  offset: number,
  size: number,
  retries: number,
): RetryVerdict {
  const step = meaningfulProgress(size);
  const progressed = offset - state.mark >= step;
  const next: RetryState = {
    attempts: state.attempts + 1,
    failures: progressed ? 1 : state.failures + 1,
    mark: progressed ? offset : state.mark,
  };
  if (next.failures > retries) {
    return {
      giveUp: true,
      reason: `gave up after ${next.failures} failed attempts with less than ${formatBytes(step)} of new data`,
    };
  }
  if (next.attempts >= maxAttempts(retries)) {
    return {
      giveUp: true,
      reason:
        `gave up after ${next.attempts} attempts, the most one source gets per run ` +
        `(${ATTEMPTS_PER_TRY} × (retries + 1)); the .partial is kept for the next source or run`,
    };
  }
  return { giveUp: false, state: next };
}
