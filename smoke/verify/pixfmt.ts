/**
 * Pixel format from the decoder configuration records that mp4box parses (avcC, hvcC), so the
 * common case needs no external tool. ffprobe is the fallback for the one case the record cannot
 * answer: an H.264 High-family stream whose avcC lacks the optional chroma extension.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * H.264 profiles that only allow 8-bit 4:2:0 (Baseline, Main, Extended; ITU-T H.264 §A.2):
 * their SPS carries no chroma_format_idc, and their avcC no extension.
 */
const PROFILES_420_8BIT = new Set([66, 77, 88]);

/** ffmpeg's name for a chroma format and bit depth, e.g. (1, 8) → yuv420p, (1, 10) → yuv420p10le. */
export function pixFmtName(chromaFormatIdc: number, bitDepth: number): string {
  const base =
    ["gray", "yuv420p", "yuv422p", "yuv444p"][chromaFormatIdc] ?? `chroma${chromaFormatIdc}`;
  return bitDepth === 8 ? base : `${base}${bitDepth}le`;
}

/**
 * The pixel format an avcC record declares, or null when it does not say. For High-family
 * profiles ISO/IEC 14496-15 §5.3.3.1 appends chroma_format (low 2 bits of the first byte after
 * the PPS list) and bit_depth_luma_minus8 (low 3 bits of the next); mp4box hands those bytes
 * over unparsed as `ext`.
 */
export function pixFmtFromAvcC(profileIdc: number, ext: Uint8Array | undefined): string | null {
  if (PROFILES_420_8BIT.has(profileIdc)) return "yuv420p";
  if (!ext || ext.length < 3) return null;
  return pixFmtName((ext[0] as number) & 0b11, ((ext[1] as number) & 0b111) + 8);
}

/**
 * The pixel format of the first video stream according to ffprobe, or null when it cannot tell
 * (then the pix_fmt check fails as "unknown": this check proves the format, it never guesses).
 */
export async function probePixFmt(file: string, ffprobe = "ffprobe"): Promise<string | null> {
  const { stdout } = await run(
    ffprobe,
    [
      ...["-v", "error", "-select_streams", "v:0"],
      ...["-show_entries", "stream=pix_fmt", "-of", "default=noprint_wrappers=1:nokey=1"],
      `file:${resolve(file)}`, // a local path, never a protocol
    ],
    { timeout: 30_000 },
  ).catch(() => ({ stdout: "" }));
  const name = stdout.trim();
  return name && name !== "unknown" ? name : null;
}
