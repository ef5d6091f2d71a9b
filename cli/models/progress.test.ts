import { describe, expect, it } from "vitest";
import { createProgress, eventLine, formatBytes, statusLine } from "./progress";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("formatting", () => {
  it("formats bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(11_299_242_015)).toBe("10.52 GiB");
  });

  it("sums downloads, skips files only being checked, and names each file's state", () => {
    const line = statusLine(
      [
        { name: "a", total: 2 * GiB, done: GiB, phase: "downloading" },
        { name: "b", total: GiB, done: GiB, phase: "done" },
        { name: "c", total: 4 * GiB, done: GiB, phase: "checking" },
        { name: "d", total: GiB, done: 0, phase: "waiting" },
      ],
      85 * MiB,
    );
    expect(line).toBe(
      "models 2.00 GiB/4.00 GiB 50% 85.00 MiB/s | a 50% | b done | c checking sha256 25% | d waiting",
    );
  });

  it("prints resume, retry and fallback events as their own lines", () => {
    expect(
      eventLine({ type: "download", name: "a", url: "https://h/a", offset: MiB, total: 2 * MiB }),
    ).toBe("a: resuming at 1.00 MiB of 2.00 MiB from https://h/a");
    expect(
      eventLine({
        type: "retry",
        name: "a",
        url: "u",
        failure: 2,
        delayMs: 1500,
        reason: "HTTP 503",
      }),
    ).toBe("a: attempt 2 failed (HTTP 503); retrying in 1.5 s");
    expect(eventLine({ type: "source-failed", name: "a", url: "u", reason: "HTTP 404" })).toBe(
      "a: giving up on u: HTTP 404",
    );
    expect(
      eventLine({ type: "discarded", name: "a", url: "u", reason: "sha256 mismatch: expected x" }),
    ).toBe(
      "a: sha256 mismatch: expected x over bytes resumed from an earlier download; " +
        "discarded the .partial, downloading again from byte 0",
    );
    expect(eventLine({ type: "bytes", name: "a", done: 1, total: 2 })).toBeUndefined();
  });
});

describe("createProgress", () => {
  function run(tty: boolean) {
    const out: string[] = [];
    let t = 0;
    const p = createProgress([{ name: "a", size: 100 * MiB }], {
      out: { write: (s: string) => out.push(s) },
      tty,
      columns: 40,
      intervalMs: 3_600_000,
      now: () => t,
    });
    p.onEvent({ type: "download", name: "a", url: "u", offset: 0, total: 100 * MiB });
    p.onEvent({ type: "bytes", name: "a", done: 10 * MiB, total: 100 * MiB });
    t = 1000;
    p.tick();
    p.onEvent({ type: "verified", name: "a", url: "u" });
    p.stop();
    return out;
  }

  it("in a log, prints plain status lines with the rate measured between ticks", () => {
    expect(run(false)).toEqual([
      "a: downloading 100.00 MiB from u\n",
      "models 10.00 MiB/100.00 MiB 10% 10.00 MiB/s | a 10%\n",
      "a: sha256 verified, in place\n",
    ]);
  });

  it("on a terminal, redraws one line cut to the width and clears it before event lines", () => {
    const out = run(true);
    expect(out[1]).toBe("models 10.00 MiB/100.00 MiB 10% 10.00 …"); // 39 columns: fits in 40
    expect(out[2]).toBe("\r\x1b[2K");
    expect(out[3]).toBe("a: sha256 verified, in place\n");
    expect(out.join("")).not.toMatch(/\n.*\n.*\n.*\n/);
  });
});
