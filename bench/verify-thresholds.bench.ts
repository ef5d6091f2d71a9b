/**
 * `npm run bench verify-thresholds`: where the content-check thresholds in
 * smoke/verify/content.ts come from, and what verification costs.
 *
 * 1. Encodes a matrix of real clips with ffmpeg (good: moving pattern, zoom, slow pan, a small
 *    slowly moving box, a fade-in; bad: black, gray, a repeated still, luma noise)
 *    at both 480P sizes, three crf values and two lengths, then measures each clip exactly as
 *    `vace verify` does, and prints per check the worst good value, the worst bad value, the
 *    threshold and both margins (as ratios). Exits 1 if any clip is judged wrongly.
 * 2. Times verifyVideo on a 49-frame 480×480 clip against a baseline measured in the same run:
 *    `ffprobe -count_frames`, the usual one-liner for "how many frames does it have".
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  analysisSize,
  CONTENT_THRESHOLDS,
  type ContentMetrics,
  contentChecks,
  decodeGrayFrames,
  maxBlockMeanAbsDiff,
  measureContent,
  sampleIndices,
} from "../smoke/verify/content";
import { verifyVideo } from "../smoke/verify/index";
import { type ClipPattern, makeClip, tempDir } from "../test/fixtures/video";

const run = promisify(execFile);

type Defect = "blank" | "frozen" | "noise";
interface Kind {
  label: string;
  pattern: ClipPattern;
  pan?: number;
  defects: Defect[];
}
const KINDS: Kind[] = [
  { label: "testsrc2", pattern: "testsrc2", defects: [] },
  { label: "mandelbrot", pattern: "mandelbrot", defects: [] },
  { label: "slow-pan 0.25px/f", pattern: "slow-pan", pan: 0.25, defects: [] },
  { label: "moving-box 0.5px/f", pattern: "moving-box", pan: 0.5, defects: [] },
  { label: "moving-box 2px/f", pattern: "moving-box", pan: 2, defects: [] },
  { label: "fade-in", pattern: "fade-in", defects: [] },
  { label: "black", pattern: "black", defects: ["blank", "frozen"] },
  { label: "gray", pattern: "gray", defects: ["blank", "frozen"] },
  { label: "still", pattern: "still", defects: ["frozen"] },
  { label: "noise", pattern: "noise", defects: ["noise"] },
];
const SIZES = [
  [480, 480],
  [832, 480],
] as const;
const CRFS = [19, 30, 40];
const LENGTHS = [17, 49];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

/** The number each check compares with its threshold (see contentChecks). */
function scores(m: ContentMetrics): Record<Defect, number> {
  const sorted = [...m.stdDev].sort((a, b) => a - b);
  // not_blank passes while at most half the frames are flat: the frame at index floor(n/2)
  // (counting from the flattest) decides.
  return {
    blank: sorted[sorted.length >> 1] as number,
    frozen: m.motion.length ? Math.max(...m.motion) : Number.POSITIVE_INFINITY,
    noise: median(m.correlation),
  };
}

const THRESHOLD: Record<Defect, number> = {
  blank: CONTENT_THRESHOLDS.blankStdDev,
  frozen: CONTENT_THRESHOLDS.frozenBlockDiff,
  noise: CONTENT_THRESHOLDS.noiseCorrelation,
};
const CHECK: Record<Defect, string> = {
  blank: "content.not_blank",
  frozen: "content.not_frozen",
  noise: "content.not_noise",
};

async function measureMatrix(dir: string): Promise<number> {
  const rows: { label: string; defects: Defect[]; s: Record<Defect, number>; globalMad: number }[] =
    [];
  let wrong = 0;
  process.stdout.write(
    "clip                          size     crf frames | median σ | max block Δ | whole-frame Δ | median ρ | verdict\n",
  );
  for (const k of KINDS) {
    for (const [width, height] of SIZES) {
      for (const crf of CRFS) {
        for (const frames of LENGTHS) {
          const name = `${k.pattern}-${k.pan ?? 0}-${width}x${height}-${crf}-${frames}.mp4`;
          const file = await makeClip(dir, name, {
            pattern: k.pattern,
            panPxPerFrame: k.pan ?? 1,
            width,
            height,
            frames,
            crf,
          });
          const indices = sampleIndices(frames);
          const decoded = await decodeGrayFrames(file, indices, analysisSize(width, height));
          const m = measureContent(indices, decoded);
          const s = scores(m);
          const globalMad = Math.max(
            ...decoded
              .slice(1)
              .map((f, i) => maxBlockMeanAbsDiff(decoded[i] as typeof f, f, Infinity)),
          );
          const failed = contentChecks(m)
            .filter((c) => !c.ok)
            .map((c) => c.name);
          const want = k.defects.map((d) => CHECK[d]);
          const right = failed.length === want.length && want.every((n) => failed.includes(n));
          if (!right) wrong++;
          rows.push({ label: k.label, defects: k.defects, s, globalMad });
          process.stdout.write(
            `${k.label.padEnd(29)} ${`${width}x${height}`.padEnd(8)} ${String(crf).padStart(3)} ${String(frames).padStart(6)} | ` +
              `${s.blank.toFixed(2).padStart(8)} | ${s.frozen.toFixed(2).padStart(11)} | ${globalMad.toFixed(2).padStart(13)} | ` +
              `${s.noise.toFixed(3).padStart(8)} | ${right ? "right" : "WRONG"} (fails: ${failed.join(", ") || "none"})\n`,
          );
        }
      }
    }
  }
  process.stdout.write(
    "\ncheck               worst good   worst bad   threshold   good/threshold   threshold/bad\n",
  );
  for (const d of ["blank", "frozen", "noise"] as const) {
    const good = rows.filter((r) => !r.defects.includes(d)).map((r) => r.s[d]);
    const bad = rows.filter((r) => r.defects.includes(d)).map((r) => r.s[d]);
    const worstGood = Math.min(...good);
    const worstBad = Math.max(...bad);
    const t = THRESHOLD[d];
    const ratio = (a: number, b: number) => (b === 0 ? "∞" : `${(a / b).toFixed(2)}×`);
    process.stdout.write(
      `${CHECK[d].padEnd(19)} ${worstGood.toFixed(3).padStart(10)} ${worstBad.toFixed(3).padStart(11)} ${String(t).padStart(11)} ` +
        `${ratio(worstGood, t).padStart(16)} ${ratio(t, worstBad).padStart(15)}\n`,
    );
  }
  // Why the frozen check uses blocks: the whole-frame mean cannot separate a small moving
  // object from a still clip's encoder drift.
  const movingLocal = rows.filter((r) => r.label.startsWith("moving-box")).map((r) => r.globalMad);
  const still = rows.filter((r) => r.label === "still").map((r) => r.globalMad);
  process.stdout.write(
    `\nwhole-frame mean |Δ| (rejected measure): moving-box min ${Math.min(...movingLocal).toFixed(2)}, ` +
      `still max ${Math.max(...still).toFixed(2)} — ${Math.min(...movingLocal) > Math.max(...still) ? "separable" : "overlapping"}\n`,
  );
  process.stdout.write(`clips judged wrongly: ${wrong} of ${rows.length}\n`);
  return wrong;
}

async function timeIt(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

async function measureCost(dir: string): Promise<void> {
  const file = await makeClip(dir, "cost.mp4", { width: 480, height: 480, frames: 49 });
  const runs = 9;
  const baseline = await timeIt(
    () =>
      run("ffprobe", [
        ...["-v", "error", "-count_frames", "-select_streams", "v:0"],
        ...["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file],
      ]),
    runs,
  );
  const structure = await timeIt(
    () => verifyVideo(file, { frames: 49 }, { content: "skip" }),
    runs,
  );
  const full = await timeIt(() => verifyVideo(file, { frames: 49 }, { content: "require" }), runs);
  process.stdout.write(
    `\ncost on a 49-frame 480x480 H.264 clip (median of ${runs}):\n` +
      `  baseline ffprobe -count_frames  ${baseline.toFixed(1)} ms  1.00×\n` +
      `  verifyVideo, structure only     ${structure.toFixed(1)} ms  ${(structure / baseline).toFixed(2)}×\n` +
      `  verifyVideo, with content       ${full.toFixed(1)} ms  ${(full / baseline).toFixed(2)}×\n`,
  );
}

async function main(): Promise<void> {
  const { dir, cleanup } = await tempDir("vace-bench-verify-");
  try {
    const wrong = await measureMatrix(dir);
    await measureCost(dir);
    process.exitCode = wrong ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
