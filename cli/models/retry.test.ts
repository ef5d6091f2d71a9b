import { describe, expect, it } from "vitest";
import {
  afterFailure,
  maxAttempts,
  meaningfulProgress,
  PROGRESS_STEP_BYTES,
  type RetryState,
  startRetries,
} from "./retry";

const MiB = 1024 * 1024;

/** Feeds the offsets after each failed attempt; returns the states and how it ended. */
function run(offsets: number[], size: number, retries: number, start = 0) {
  let state: RetryState = startRetries(start);
  const seen: RetryState[] = [];
  for (const offset of offsets) {
    const v = afterFailure(state, offset, size, retries);
    if (v.giveUp) return { seen, gaveUp: v.reason };
    state = v.state;
    seen.push(state);
  }
  return { seen, gaveUp: undefined };
}

describe("meaningfulProgress / maxAttempts", () => {
  it("is 1% of the file, at most 8 MiB and at least one byte", () => {
    expect(meaningfulProgress(MiB)).toBe(Math.ceil(MiB / 100));
    expect(meaningfulProgress(4_309_519_800)).toBe(PROGRESS_STEP_BYTES);
    expect(meaningfulProgress(800 * MiB)).toBe(PROGRESS_STEP_BYTES);
    expect(meaningfulProgress(50)).toBe(1);
  });

  it("allows 10 × (retries + 1) attempts per source", () => {
    expect(maxAttempts(0)).toBe(10);
    expect(maxAttempts(5)).toBe(60);
  });
});

describe("afterFailure", () => {
  it("gives up after retries + 1 failures in a row that bring a trickle of bytes each", () => {
    const r = run([100, 200, 300, 400], MiB, 2);
    expect(r.seen.map((s) => s.failures)).toEqual([1, 2]);
    expect(r.gaveUp).toBe("gave up after 3 failed attempts with less than 10.24 KiB of new data");
  });

  it("with retries 0 makes exactly one attempt, even one that made progress", () => {
    expect(run([MiB / 2], MiB, 0).gaveUp).toMatch(/^gave up after 1 failed attempts/);
  });

  it("starts the count again once new data since the last start reaches the step, summed over attempts", () => {
    const step = meaningfulProgress(MiB);
    const small = Math.floor(step / 2) + 1;
    // Two half-steps add up to one step: the second failure resets the count.
    const r = run([small, 2 * small, 2 * small + 10], MiB, 2);
    expect(r.seen).toEqual([
      { attempts: 1, failures: 1, mark: 0 },
      { attempts: 2, failures: 1, mark: 2 * small },
      { attempts: 3, failures: 2, mark: 2 * small },
    ]);
  });

  it("does not count bytes again after a restart from 0 (a server that ignores Range)", () => {
    // Resumed at 500 KB; each answer restarts at 0 and stops at 300 KB: never progress.
    const r = run([300_000, 300_000, 300_000], MiB, 2, 500_000);
    expect(r.gaveUp).toMatch(/^gave up after 3 failed attempts/);
  });

  it("caps all attempts per source even when every attempt makes progress", () => {
    const size = 100 * MiB;
    const offsets = Array.from({ length: 40 }, (_, i) => (i + 1) * meaningfulProgress(size));
    const r = run(offsets, size, 1);
    expect(r.seen).toHaveLength(maxAttempts(1) - 1);
    expect(r.seen.every((s) => s.failures === 1)).toBe(true);
    expect(r.gaveUp).toBe(
      "gave up after 20 attempts, the most one source gets per run (10 × (retries + 1)); " +
        "the .partial is kept for the next source or run",
    );
  });
});
