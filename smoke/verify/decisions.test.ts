/** The pure decisions behind verifyVideo, without files or ffmpeg. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { videoChecks } from "./checks";
import {
  analysisSize,
  CONTENT_THRESHOLDS,
  contentChecks,
  type GrayFrame,
  lumaStdDev,
  maxBlockMeanAbsDiff,
  measureContent,
  neighbourCorrelation,
  sampleIndices,
} from "./content";
import { findTruncation, type Mp4Facts, type VideoTrackFacts } from "./mp4";
import { pixFmtFromAvcC, pixFmtName } from "./pixfmt";
import { onPath } from "./tools";

function frame(w: number, h: number, px: (x: number, y: number) => number): GrayFrame {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = px(x, y);
  return { width: w, height: h, data };
}
const flat = frame(32, 32, () => 16);
const gradient = frame(32, 32, (x, y) => 4 * x + 3 * y);
const checker = frame(32, 32, (x, y) => ((x + y) % 2 ? 255 : 0));
const boxAt = (bx: number) =>
  frame(64, 64, (x, y) => (x >= bx && x < bx + 4 && y >= 30 && y < 34 ? 255 : 40));

describe("frame sampling", () => {
  it("spreads samples from the first frame to the last, without repeats", () => {
    expect(sampleIndices(49)).toEqual([0, 12, 24, 36, 48]);
    expect(sampleIndices(17)).toEqual([0, 4, 8, 12, 16]);
    expect(sampleIndices(3)).toEqual([0, 1, 2]);
    expect(sampleIndices(1)).toEqual([0]);
    expect(sampleIndices(0)).toEqual([]);
  });

  it("downscales to at most 128 px on the long side, with even sides, and never upscales", () => {
    expect(analysisSize(480, 480)).toEqual({ width: 128, height: 128 });
    expect(analysisSize(832, 480)).toEqual({ width: 128, height: 72 });
    expect(analysisSize(64, 48)).toEqual({ width: 64, height: 48 });
  });
});

describe("frame measures", () => {
  it("standard deviation: 0 for a flat frame, 127.5 for a black/white checkerboard", () => {
    expect(lumaStdDev(flat)).toBe(0);
    expect(lumaStdDev(checker)).toBeCloseTo(127.5, 5);
  });

  it("neighbour correlation: near 1 for a smooth picture, negative for pixel-level alternation", () => {
    expect(neighbourCorrelation(gradient)).toBeGreaterThan(0.99);
    expect(neighbourCorrelation(checker)).toBeCloseTo(-1, 5);
    expect(neighbourCorrelation(flat)).toBe(1); // undefined correlation is the blank check's business
  });

  it("block difference finds a small moving object that the whole-frame mean dilutes", () => {
    const a = boxAt(10);
    const b = boxAt(14);
    expect(maxBlockMeanAbsDiff(a, a)).toBe(0);
    const global = maxBlockMeanAbsDiff(a, b, Number.POSITIVE_INFINITY);
    expect(global).toBeCloseTo((2 * 16 * 215) / (64 * 64), 5);
    expect(global).toBeLessThan(CONTENT_THRESHOLDS.frozenBlockDiff);
    expect(maxBlockMeanAbsDiff(a, b)).toBeGreaterThanOrEqual((16 * 215) / 64);
  });
});

describe("content verdicts", () => {
  const names = (ok: boolean, checks: ReturnType<typeof contentChecks>) =>
    checks.filter((c) => c.ok === ok).map((c) => c.name);

  it("passes a moving smooth picture", () => {
    const frames = [0, 4, 8].map((s) => frame(32, 32, (x, y) => 4 * ((x + s) % 32) + 3 * y));
    const checks = contentChecks(measureContent([0, 8, 16], frames));
    expect(names(false, checks)).toEqual([]);
  });

  it("tolerates a fade-in (a minority of flat samples) but not a mostly flat clip", () => {
    const m = {
      indices: [0, 1, 2],
      stdDev: [0, 40, 40],
      motion: [30, 30],
      correlation: [1, 0.9, 0.9],
    };
    expect(names(false, contentChecks(m))).toEqual([]);
    expect(names(false, contentChecks({ ...m, stdDev: [0, 0, 40] }))).toEqual([
      "content.not_blank",
    ]);
  });

  it("fails frozen and noise on their own measures, and a short decode", () => {
    const m = {
      indices: [0, 1, 2],
      stdDev: [40, 40, 40],
      motion: [30, 30],
      correlation: [0.9, 0.9, 0.9],
    };
    expect(names(false, contentChecks({ ...m, motion: [0.4, 0] }))).toEqual(["content.not_frozen"]);
    expect(names(false, contentChecks({ ...m, correlation: [0.1, 0.95, 0.2] }))).toEqual([
      "content.not_noise",
    ]);
    const short = contentChecks({ ...m, stdDev: [40, 40], correlation: [0.9, 0.9], motion: [30] });
    expect(names(false, short)).toEqual(["content.decoded"]);
    expect(contentChecks({ indices: [0], stdDev: [], motion: [], correlation: [] })).toHaveLength(
      1,
    );
  });

  it("cannot call a one-frame clip frozen", () => {
    const one = contentChecks({ indices: [0], stdDev: [40], motion: [], correlation: [0.9] });
    expect(names(false, one)).toEqual([]);
  });
});

describe("pixel format from the configuration record", () => {
  it("implies yuv420p for Baseline, Main and Extended, which allow nothing else", () => {
    for (const profile of [66, 77, 88]) expect(pixFmtFromAvcC(profile, undefined)).toBe("yuv420p");
  });

  it("reads chroma format and bit depth from the High-profile extension", () => {
    expect(pixFmtFromAvcC(100, new Uint8Array([0xfd, 0xf8, 0xf8, 0]))).toBe("yuv420p");
    expect(pixFmtFromAvcC(110, new Uint8Array([0xfd, 0xfa, 0xfa, 0]))).toBe("yuv420p10le");
    expect(pixFmtFromAvcC(244, new Uint8Array([0xff, 0xf8, 0xf8, 0]))).toBe("yuv444p");
    expect(pixFmtFromAvcC(122, new Uint8Array([0xfe, 0xf8, 0xf8, 0]))).toBe("yuv422p");
  });

  it("does not guess when a High-profile record lacks the extension", () => {
    expect(pixFmtFromAvcC(100, undefined)).toBeNull();
    expect(pixFmtFromAvcC(100, new Uint8Array([0xfd]))).toBeNull();
    expect(pixFmtName(0, 8)).toBe("gray");
  });
});

describe("truncation", () => {
  const boxes = [
    { type: "ftyp", start: 0, size: 32 },
    { type: "moov", start: 32, size: 800 },
    { type: "mdat", start: 832, size: 1000 },
  ];
  it("accepts boxes that tile the file exactly", () => {
    expect(findTruncation(1832, boxes, [{ offset: 840, size: 992 }])).toBeNull();
  });
  it("names a box that runs past the end, and bytes that do not form a box", () => {
    expect(findTruncation(1500, boxes, [])).toBe(
      "truncated: the 'mdat' box at byte 832 declares 1000 bytes, but the file ends after 668",
    );
    expect(findTruncation(1840, boxes, [])).toMatch(
      /8 bytes after the last complete box \(byte 1832\)/,
    );
  });
  it("catches sample data past the end, and accepts a size-0 (to end of file) box", () => {
    expect(findTruncation(1832, boxes, [{ offset: 1800, size: 64 }])).toMatch(
      /sample data runs to byte 1864/,
    );
    expect(findTruncation(5000, [{ type: "mdat", start: 0, size: 0 }], [])).toBeNull();
  });
});

describe("structural checks", () => {
  const video: VideoTrackFacts = {
    sampleEntry: "avc1",
    codec: "avc1.64001e",
    width: 480,
    height: 480,
    frames: 49,
    fps: 16,
    durationS: 3.063,
    pixFmt: "yuv420p",
  };
  const facts: Mp4Facts = {
    brands: ["isom", "isom", "iso2", "avc1", "mp41"],
    video,
  };
  const failedOf = (f: Mp4Facts, e = {}, pix: string | null = "yuv420p") =>
    videoChecks(f, e, pix)
      .filter((c) => !c.ok)
      .map((c) => c.name);

  it("checks only what was asked for, plus container, codec, pix_fmt and duration", () => {
    expect(videoChecks(facts, {}, "yuv420p").map((c) => c.name)).toEqual([
      "container",
      "codec",
      "pix_fmt",
      "duration",
    ]);
    expect(failedOf(facts, { width: 480, height: 480, frames: 49, fps: 16 })).toEqual([]);
  });

  it("accepts 29.97 for 30000/1001 and a duration within half a frame", () => {
    const ntsc = {
      ...facts,
      video: { ...video, fps: 30000 / 1001, frames: 30, durationS: 1.001 },
    };
    expect(failedOf(ntsc, { fps: 29.97, frames: 30 })).toEqual([]);
    const long = { ...facts, video: { ...video, durationS: 3.063 + 0.04 } };
    expect(failedOf(long, { frames: 49, fps: 16 })).toEqual(["duration"]);
  });

  it("fails codec and the rest without a video track, and an unknown pix_fmt", () => {
    const audioOnly: Mp4Facts = { ...facts, video: null };
    expect(failedOf(audioOnly, { width: 480 })).toEqual(["codec", "width", "duration"]);
    expect(failedOf(facts, {}, null)).toEqual(["pix_fmt"]);
  });

  it("fails the container without an MP4 brand (QuickTime, or no ftyp)", () => {
    expect(failedOf({ ...facts, brands: ["qt  "] })).toEqual(["container"]);
    expect(failedOf({ ...facts, brands: [] })).toEqual(["container"]);
  });
});

describe("onPath", () => {
  it("finds executables only", () => {
    const dir = mkdtempSync(join(tmpdir(), "vace-onpath-"));
    try {
      writeFileSync(join(dir, "tool"), "#!/bin/sh\n");
      writeFileSync(join(dir, "plain"), "");
      chmodSync(join(dir, "tool"), 0o755);
      expect(onPath("tool", `/nonexistent:${dir}`)).toBe(true);
      expect(onPath("plain", dir)).toBe(false);
      expect(onPath("tool", "")).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
