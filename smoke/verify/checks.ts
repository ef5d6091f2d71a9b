/**
 * The structural checks, as a pure function of what mp4box read and what the caller asked for.
 * Container, codec, pixel format and duration are always checked; width, height, frames and fps
 * only when asked for.
 */
import type { Mp4Facts } from "./mp4";
import { round3 } from "./round";
import type { VerifyCheck, VideoExpectation } from "./types";

/** ftyp brands that mean "an MP4 file" (ISO/IEC 14496-12/14 and the common MP4 profiles). */
export const MP4_BRANDS = [
  "isom",
  "iso2",
  "iso3",
  "iso4",
  "iso5",
  "iso6",
  "iso7",
  "iso8",
  "iso9",
  "mp41",
  "mp42",
  "avc1",
  "dash",
] as const;
/** Sample entries of H.264 video (ISO/IEC 14496-15 §5.4). */
export const H264_SAMPLE_ENTRIES = ["avc1", "avc3"] as const;
/** What VideoHelperSuite's h264-mp4 format writes by default, and what players expect. */
export const EXPECTED_PIX_FMT = "yuv420p";
/** fps may differ from the requested rate by this much (timescales round, e.g. 30000/1001). */
export const FPS_TOLERANCE = 0.01;

/** Half a frame: a duration within it is the right number of frames at the right rate. */
function durationTolerance(fps: number | null): number {
  return fps ? 0.5 / fps : 0.02;
}

export function videoChecks(
  facts: Mp4Facts,
  expect: VideoExpectation,
  pixFmt: string | null,
): VerifyCheck[] {
  const v = facts.video;
  const checks: VerifyCheck[] = [
    {
      name: "container",
      ok: facts.brands.some((b) => (MP4_BRANDS as readonly string[]).includes(b)),
      expected: `an MP4 brand in ftyp (${MP4_BRANDS.join(", ")})`,
      actual: [...new Set(facts.brands)],
    },
    {
      name: "codec",
      ok: v !== null && (H264_SAMPLE_ENTRIES as readonly string[]).includes(v.sampleEntry),
      expected: `H.264 (${H264_SAMPLE_ENTRIES.join(" or ")})`,
      actual: v ? v.codec : "no video track",
    },
  ];
  const exact = (name: string, want: number | undefined, got: number | null) => {
    if (want !== undefined) checks.push({ name, ok: got === want, expected: want, actual: got });
  };
  exact("width", expect.width, v?.width ?? null);
  exact("height", expect.height, v?.height ?? null);
  exact("frames", expect.frames, v?.frames ?? null);
  const fps = v?.fps ?? null;
  if (expect.fps !== undefined) {
    checks.push({
      name: "fps",
      ok: fps !== null && Math.abs(fps - expect.fps) <= FPS_TOLERANCE,
      expected: expect.fps,
      actual: round3(fps),
    });
  }
  checks.push({
    name: "pix_fmt",
    ok: pixFmt === EXPECTED_PIX_FMT,
    expected: EXPECTED_PIX_FMT,
    actual: pixFmt ?? "unknown",
  });
  // Without an explicit duration, the clip must last its frames at its rate (requested ones
  // where given): this catches broken timestamps that frame and fps counts alone would miss.
  const frames = expect.frames ?? v?.frames ?? null;
  const rate = expect.fps ?? fps;
  const wantS = expect.durationS ?? (frames !== null && rate ? frames / rate : null);
  const gotS = v?.durationS ?? null;
  checks.push({
    name: "duration",
    ok: wantS !== null && gotS !== null && Math.abs(gotS - wantS) <= durationTolerance(rate),
    expected: round3(wantS),
    actual: round3(gotS),
  });
  return checks;
}
