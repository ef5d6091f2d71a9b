/**
 * Content checks: is the decoded picture blank, frozen, or noise? A file can be a perfect
 * 480P H.264 MP4 and still show nothing (black frames from NaN latents, a VAE decoding garbage,
 * a workflow that repeats the reference image). We decode a few evenly spaced frames with
 * ffmpeg, as small gray images, and measure three numbers per frame. The thresholds come from
 * real clips; `bench/verify-thresholds.bench.ts` measures them and docs/verify.md lists them.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { round3 } from "./round";
import type { VerifyCheck } from "./types";

const run = promisify(execFile);

/** One decoded 8-bit luma frame. */
export interface GrayFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** How many frames the content checks decode: enough to see change, few enough to stay fast. */
export const SAMPLE_COUNT = 5;
/** Longest side of the analysed frames; larger frames are downscaled (area) before measuring. */
export const ANALYSIS_MAX_SIDE = 128;
/** How long ffmpeg may take to decode the samples before the content check fails. */
export const DECODE_TIMEOUT_MS = 120_000;
/** Side of the windows the motion measure compares (at analysis size: ~30 px of a 480P frame). */
export const MOTION_BLOCK = 8;

/**
 * Thresholds on the 0–255 luma scale, chosen from clips measured by
 * `npm run bench verify-thresholds` (figures in docs/verify.md). Each sits between the worst
 * good clip and the best bad clip, with room on both sides.
 */
export const CONTENT_THRESHOLDS = {
  /** A frame whose luma standard deviation is below this is flat (black, gray, one colour). */
  blankStdDev: 2,
  /** Frozen when no consecutive pair of sampled frames has an 8×8 block whose mean |Δ| reaches this. */
  frozenBlockDiff: 5,
  /** A frame whose neighbour-pixel correlation is below this is noise, not a picture. */
  noiseCorrelation: 0.4,
} as const;
export type ContentThresholds = { [K in keyof typeof CONTENT_THRESHOLDS]: number };

/** Evenly spaced frame indices from first to last, at most `count` of them, no repeats. */
export function sampleIndices(frameCount: number, count = SAMPLE_COUNT): number[] {
  if (frameCount <= 0) return [];
  const k = Math.min(count, frameCount);
  if (k === 1) return [0];
  return Array.from({ length: k }, (_, i) => Math.round((i * (frameCount - 1)) / (k - 1)));
}

/** The size frames are analysed at: never upscaled (that would fake neighbour correlation), even sides. */
export function analysisSize(
  width: number,
  height: number,
  maxSide = ANALYSIS_MAX_SIDE,
): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const even = (n: number) => Math.max(2, 2 * Math.floor((n * scale) / 2));
  return { width: even(width), height: even(height) };
}

/** Decodes the frames at `indices` with ffmpeg as gray `size` images. */
export async function decodeGrayFrames(
  file: string,
  indices: number[],
  size: { width: number; height: number },
  ffmpeg = "ffmpeg",
): Promise<GrayFrame[]> {
  if (indices.length === 0) return [];
  const select = indices.map((n) => `eq(n\\,${n})`).join("+");
  const frameBytes = size.width * size.height;
  const { stdout } = await run(
    ffmpeg,
    [
      // file: keeps a name like "http:…" or "concat:…" a local path, never a protocol.
      ...["-v", "error", "-nostdin", "-i", `file:${resolve(file)}`, "-an", "-sn", "-map", "0:v:0"],
      ...["-vf", `select='${select}',scale=${size.width}:${size.height}:flags=area,format=gray`],
      ...["-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"],
    ],
    // A bound on a pathological file; a 49-frame 480P clip decodes in about 0.1 s.
    { encoding: "buffer", maxBuffer: 2 * frameBytes * indices.length, timeout: DECODE_TIMEOUT_MS },
  );
  const frames: GrayFrame[] = [];
  for (let off = 0; off + frameBytes <= stdout.length; off += frameBytes) {
    frames.push({ ...size, data: new Uint8Array(stdout.subarray(off, off + frameBytes)) });
  }
  return frames;
}

/** Standard deviation of the luma values: near 0 for a flat frame. */
export function lumaStdDev(f: GrayFrame): number {
  let sum = 0;
  let sq = 0;
  for (const v of f.data) {
    sum += v;
    sq += v * v;
  }
  const n = f.data.length;
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}

/**
 * The largest mean |Δluma| over `block`×`block` windows (half-overlapping) between two frames of
 * the same size. Small blocks find a small object that moves; encoder drift in a frozen clip is
 * faint and spread out, so no block gets far. `block` = Infinity gives the whole-frame mean.
 */
export function maxBlockMeanAbsDiff(a: GrayFrame, b: GrayFrame, block = MOTION_BLOCK): number {
  const { width: w, height: h } = a;
  const bw = Math.min(block, w);
  const bh = Math.min(block, h);
  const stepX = Math.max(1, Math.floor(bw / 2));
  const stepY = Math.max(1, Math.floor(bh / 2));
  let best = 0;
  for (let y0 = 0; y0 + bh <= h; y0 += stepY) {
    for (let x0 = 0; x0 + bw <= w; x0 += stepX) {
      let sum = 0;
      for (let y = y0; y < y0 + bh; y++) {
        for (let x = x0; x < x0 + bw; x++) {
          const i = y * w + x;
          sum += Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0));
        }
      }
      best = Math.max(best, sum / (bw * bh));
    }
  }
  return best;
}

/**
 * Pearson correlation between each pixel and its right and lower neighbours. Pictures are
 * smooth almost everywhere (close to 1); independent noise is near 0. A flat frame has no
 * variance, so no correlation: it counts as 1 here (it is the blank check's business).
 */
export function neighbourCorrelation(f: GrayFrame): number {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  const add = (x: number, y: number) => {
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  };
  const { width: w, height: h, data } = f;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x] ?? 0;
      if (x + 1 < w) add(v, data[y * w + x + 1] ?? 0);
      if (y + 1 < h) add(v, data[(y + 1) * w + x] ?? 0);
    }
  }
  const cov = sxy / n - (sx / n) * (sy / n);
  const vx = sxx / n - (sx / n) ** 2;
  const vy = syy / n - (sy / n) ** 2;
  if (vx <= 1e-9 || vy <= 1e-9) return 1;
  return cov / Math.sqrt(vx * vy);
}

/** The per-frame figures the content checks judge. */
export interface ContentMetrics {
  /** Frame indices that were decoded. */
  indices: number[];
  stdDev: number[];
  /** {@link maxBlockMeanAbsDiff} between consecutive sampled frames (one fewer than frames). */
  motion: number[];
  correlation: number[];
}

export function measureContent(indices: number[], frames: GrayFrame[]): ContentMetrics {
  return {
    indices,
    stdDev: frames.map(lumaStdDev),
    motion: frames.slice(1).map((f, i) => maxBlockMeanAbsDiff(frames[i] as GrayFrame, f)),
    correlation: frames.map(neighbourCorrelation),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * Judges the metrics. Each rule is defined on the sampled frames, which span the whole clip:
 * - blank: more than half of the sampled frames are flat (a fade-in alone does not fail);
 * - frozen: no consecutive pair of samples differs anywhere, so a slow or local motion still
 *   passes: samples a quarter of the clip apart accumulate it, and the block measure finds it;
 * - noise: the median frame has almost no neighbour correlation.
 */
export function contentChecks(
  m: ContentMetrics,
  t: ContentThresholds = CONTENT_THRESHOLDS,
): VerifyCheck[] {
  const decoded: VerifyCheck = {
    name: "content.decoded",
    ok: m.indices.length > 0 && m.stdDev.length === m.indices.length,
    expected: `${m.indices.length} sampled frames decoded (indices ${m.indices.join(", ")})`,
    actual: m.stdDev.length,
  };
  if (m.stdDev.length === 0) return [decoded];
  const flat = m.stdDev.filter((s) => s < t.blankStdDev).length;
  const maxMotion = m.motion.length ? Math.max(...m.motion) : null;
  const medCorr = median(m.correlation);
  return [
    decoded,
    {
      name: "content.not_blank",
      ok: flat * 2 <= m.stdDev.length,
      expected: `at most half of the sampled frames with luma stddev < ${t.blankStdDev}`,
      actual: { flatFrames: flat, stdDev: m.stdDev.map(round3) },
    },
    {
      name: "content.not_frozen",
      // A one-frame clip cannot move; there is nothing to judge.
      ok: maxMotion === null || maxMotion >= t.frozenBlockDiff,
      expected: `consecutive sampled frames differ somewhere: an ${MOTION_BLOCK}x${MOTION_BLOCK} block with mean |Δluma| >= ${t.frozenBlockDiff}`,
      actual: {
        maxBlockDiff: round3(maxMotion),
        blockDiff: m.motion.map(round3),
      },
    },
    {
      name: "content.not_noise",
      ok: medCorr >= t.noiseCorrelation,
      expected: `median neighbour-pixel correlation >= ${t.noiseCorrelation}`,
      actual: { median: round3(medCorr), correlation: m.correlation.map(round3) },
    },
  ];
}
