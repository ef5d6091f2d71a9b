/**
 * MP4 verification (design.md contract 3): is this file the promised H.264 video, at the size,
 * frame count and rate asked for, and does it show a moving picture? `vace verify` and the smoke
 * test both call {@link verifyVideo}.
 */
import { videoChecks } from "./checks";
import {
  analysisSize,
  contentChecks,
  decodeGrayFrames,
  measureContent,
  sampleIndices,
} from "./content";
import { readMp4 } from "./mp4";
import { probePixFmt } from "./pixfmt";
import { round3 } from "./round";
import { onPath } from "./tools";
import type { VerifyCheck, VerifyResult, VideoExpectation } from "./types";

export { UnreadableVideoError } from "./mp4";
export type { VerifyCheck, VerifyResult, VideoExpectation } from "./types";

/**
 * - `auto` (default): decode and judge frames when ffmpeg is on PATH, otherwise skip;
 * - `require`: the same, but a missing ffmpeg is an error ({@link ContentToolMissingError});
 * - `skip`: structure only.
 */
export type ContentMode = "auto" | "require" | "skip";

/** Content checks were required but ffmpeg is not on PATH (a usage error, exit 2). */
export class ContentToolMissingError extends Error {
  constructor() {
    super(
      "content checks need ffmpeg, and it is not on PATH: install it (Debian: apt-get install ffmpeg) or use --content auto|skip",
    );
    this.name = "ContentToolMissingError";
  }
}

/** Whether content checks will run in `mode` on this machine (callers use it to warn on skip). */
export function contentChecksAvailable(mode: ContentMode = "auto"): boolean {
  return mode !== "skip" && onPath("ffmpeg");
}

async function runContentChecks(
  file: string,
  frames: number,
  width: number,
  height: number,
): Promise<VerifyCheck[]> {
  const indices = sampleIndices(frames);
  try {
    const decoded = await decodeGrayFrames(file, indices, analysisSize(width, height));
    return contentChecks(measureContent(indices, decoded));
  } catch (err) {
    // ffmpeg refused to decode: the picture data is broken even though the structure parsed.
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return [
      {
        name: "content.decoded",
        ok: false,
        expected: `${indices.length} sampled frames decoded`,
        actual: `ffmpeg failed: ${stderr || (err as Error).message}`,
      },
    ];
  }
}

/**
 * Verifies `file`. Throws {@link UnreadableVideoError} when the file cannot be judged (missing,
 * empty, truncated, not an MP4) and {@link ContentToolMissingError} for `content: "require"`
 * without ffmpeg; otherwise returns every check, failed ones included.
 */
export async function verifyVideo(
  file: string,
  expect: VideoExpectation,
  options: { content?: ContentMode } = {},
): Promise<VerifyResult> {
  const mode = options.content ?? "auto";
  if (mode === "require" && !contentChecksAvailable(mode)) throw new ContentToolMissingError();
  const facts = await readMp4(file);
  const v = facts.video;
  // The avcC/hvcC record answers for nearly every stream; ffprobe only where it cannot.
  const pixFmt =
    v && !v.pixFmt && onPath("ffprobe") ? await probePixFmt(file) : (v?.pixFmt ?? null);
  const checks = videoChecks(facts, expect, pixFmt);
  if (v && v.frames > 0 && contentChecksAvailable(mode)) {
    checks.push(...(await runContentChecks(file, v.frames, v.width, v.height)));
  }
  return {
    ok: checks.every((c) => c.ok),
    codec: v?.codec ?? null,
    width: v?.width ?? null,
    height: v?.height ?? null,
    frames: v?.frames ?? null,
    fps: round3(v?.fps ?? null),
    durationS: round3(v?.durationS ?? null),
    checks,
  };
}
