/**
 * Input video handling for `vace run`: fits any video ffmpeg reads (MP4, AVI, MOV; H.264, MJPEG,
 * ProRes, …) to what Wan2.1 VACE takes, client-side, before upload:
 * - 16 fps (`fps=16`), the rate Wan2.1 was trained at and the workflows save at;
 * - 4n+1 frames, at most MAX_FRAMES (Wan packs 4 frames per latent frame after the first);
 * - the target size (multiples of 16), scaled to cover it and centre-cropped (v2v, inpaint), or scaled
 *   to fit inside it (outpaint, where the server pads the rest);
 * - re-encoded as H.264 MP4 without audio.
 *
 * Why client-side: VideoHelperSuite's loader lists only webm/mp4/mkv/gif/mov files (no AVI), and its
 * own resampling and resizing would happen after upload, where a bad file costs a GPU queue slot and
 * the user learns what changed only from server logs. Here ffprobe/ffmpeg check and fit the file before
 * any traffic, every change is printed, and the server only loads a file that already fits.
 * Masks (inpaint) go through the same filters, so they stay aligned with the video.
 */
import { execFile } from "node:child_process";
import { basename, extname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Wan2.1 VACE's frame rate. */
export const FPS = 16;
/**
 * The longest clip `vace run` sends: 81 frames (5 s at 16 fps), the length Wan2.1 was trained on
 * (the node's default). Longer clips need more GPU memory and drift; cut them or pass --frames.
 */
export const MAX_FRAMES = 81;

/** A client-side input problem: unreadable, audio-only, too long, a mask that does not match. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

export interface MediaInfo {
  file: string;
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "avi". */
  container: string;
  codec: string;
  width: number;
  height: number;
  fps: number;
  /** Frames in the stream (packets counted; 1 for a still image). */
  frames: number;
  hasAudio: boolean;
}

interface ProbeJson {
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    nb_read_packets?: string;
  }>;
  format?: { format_name?: string };
}

/** Pure: ffprobe's JSON as MediaInfo; throws InputError for a file without a video stream. */
export function parseProbe(file: string, flag: string, json: ProbeJson): MediaInfo {
  const streams = json.streams ?? [];
  const video = streams.find((s) => s.codec_type === "video");
  const audio = streams.filter((s) => s.codec_type === "audio");
  if (!video) {
    const what = audio.length
      ? `audio only (${audio.map((a) => a.codec_name).join(", ")})`
      : "no streams ffmpeg recognises";
    throw new InputError(`${flag} ${file} has no video stream: ${what}`);
  }
  const rate = (r?: string) => {
    const [n, d] = (r ?? "0/1").split("/").map(Number);
    return d ? (n as number) / d : 0;
  };
  const fps = rate(video.avg_frame_rate) || rate(video.r_frame_rate);
  const frames = Number(video.nb_read_packets ?? 0);
  if (!video.width || !video.height || frames < 1) {
    throw new InputError(`${flag} ${file} has a video stream with no decodable frames`);
  }
  return {
    file,
    container: json.format?.format_name ?? "?",
    codec: video.codec_name ?? "?",
    width: video.width,
    height: video.height,
    fps,
    frames,
    hasAudio: audio.length > 0,
  };
}

/** Runs ffprobe on `file` (counting packets, no decode); InputError when it cannot read it. */
export async function probeMedia(file: string, flag: string): Promise<MediaInfo> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      "ffprobe",
      [
        ...["-v", "error", "-count_packets", "-of", "json"],
        ...[
          "-show_entries",
          "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,nb_read_packets:format=format_name",
        ],
        file,
      ],
      { maxBuffer: 1 << 20 },
    ));
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") throw new InputError(FFMPEG_MISSING);
    const why = (err.stderr ?? "").trim().split("\n").pop() || err.message;
    throw new InputError(`cannot read ${flag} ${file}: ${why}`);
  }
  return parseProbe(file, flag, JSON.parse(stdout) as ProbeJson);
}

export const FFMPEG_MISSING =
  "video inputs need ffmpeg and ffprobe on PATH (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg)";

export interface Target {
  width: number;
  height: number;
  /** Frames to send (4n+1); undefined: as many as the clip has at 16 fps, rounded down to 4n+1. */
  frames?: number;
  /** cover: scale and centre-crop to the target; contain: scale to fit inside it (outpaint). */
  fit: "cover" | "contain";
}

export interface FitPlan {
  frames: number;
  /** The size of the fitted video. */
  width: number;
  height: number;
  /** ffmpeg filters, in order, applied to the video and any mask alike. */
  filters: string[];
  /** What was changed, for a person: trimmed, resampled, resized, re-encoded. */
  changes: string[];
}

/** Frames a clip yields at 16 fps (rounded down, so ffmpeg's fps filter always delivers them). */
export const framesAt16 = (m: MediaInfo) =>
  m.fps > 0 ? Math.max(1, Math.floor((m.frames * FPS) / m.fps + 1e-9)) : m.frames;

const largest4n1 = (n: number) => 4 * Math.floor((n - 1) / 4) + 1;
const even = (n: number) => Math.max(2, 2 * Math.floor(n / 2));

/** Pure: how `m` becomes the model's input, or an InputError saying why it cannot. */
export function planFit(m: MediaInfo, t: Target, flag = "--video"): FitPlan {
  const available = framesAt16(m);
  let frames: number;
  if (t.frames !== undefined) {
    if (available < t.frames) {
      throw new InputError(
        `${flag} ${m.file} has ${available} frame${available === 1 ? "" : "s"} at ${FPS} fps, fewer than --frames ${t.frames}: pass a smaller --frames or a longer clip`,
      );
    }
    frames = t.frames;
  } else {
    frames = largest4n1(available);
    if (frames > MAX_FRAMES) {
      throw new InputError(
        `${flag} ${m.file} has ${available} frames at ${FPS} fps (${(available / FPS).toFixed(1)} s), over the limit of ${MAX_FRAMES} (${MAX_FRAMES / FPS} s, what Wan2.1 VACE was trained on): pass --frames ${MAX_FRAMES} (or fewer, 4n+1) to use the start of the clip, or cut it`,
      );
    }
  }
  const changes: string[] = [];
  const filters: string[] = [];
  if (Math.abs(m.fps - FPS) > 0.01) {
    filters.push(`fps=${FPS}`);
    changes.push(`resampled ${round2(m.fps)} fps → ${FPS} fps`);
  }
  if (frames < available) {
    changes.push(
      `trimmed ${available} → ${frames} frames at ${FPS} fps (${t.frames !== undefined ? "--frames" : "Wan needs 4n+1 frames"})`,
    );
  }
  let width = t.width;
  let height = t.height;
  if (t.fit === "cover") {
    if (m.width !== t.width || m.height !== t.height) {
      const s = Math.max(t.width / m.width, t.height / m.height);
      const [sw, sh] = [Math.round(m.width * s), Math.round(m.height * s)];
      filters.push(
        `scale=${t.width}:${t.height}:force_original_aspect_ratio=increase`,
        `crop=${t.width}:${t.height}`,
      );
      changes.push(
        `resized ${m.width}×${m.height} → ${t.width}×${t.height}` +
          (sw !== t.width || sh !== t.height ? ` (scaled to ${sw}×${sh}, centre-cropped)` : ""),
      );
    }
  } else {
    const s = Math.min(t.width / m.width, t.height / m.height);
    [width, height] = [even(m.width * s), even(m.height * s)];
    if (width === t.width && height === t.height) {
      throw new InputError(
        `${flag} ${m.file} is ${m.width}×${m.height}, already the ${t.width}×${t.height} aspect: nothing to outpaint; pick another --size, or use --workflow v2v`,
      );
    }
    if (width !== m.width || height !== m.height) {
      filters.push(`scale=${width}:${height}`);
      changes.push(
        `resized ${m.width}×${m.height} → ${width}×${height} (fits ${t.width}×${t.height}; the server pads the rest)`,
      );
    }
  }
  filters.push("setsar=1");
  const source = `${m.codec} in ${m.container.split(",")[0]}`;
  if (m.hasAudio) changes.push("dropped the audio track (the model makes silent video)");
  changes.push(`re-encoded ${source} → H.264 MP4 for upload`);
  return { frames, width, height, filters, changes };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Encodes `src` through the plan's filters into `dir` as H.264 MP4; returns the new file. */
export async function fitVideo(src: string, plan: FitPlan, dir: string): Promise<string> {
  const out = join(dir, `${basename(src, extname(src))}.vace.mp4`);
  await ffmpeg([
    ...["-i", src, "-map", "0:v:0", "-an"],
    ...["-vf", [...plan.filters, "format=yuv420p"].join(",")],
    ...["-frames:v", String(plan.frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "12"],
    ...["-movflags", "+faststart", out],
  ]);
  return out;
}

/** A mask for inpainting: an image or video file, or a box in the input video's pixels. */
export type MaskSource =
  | { kind: "file"; file: string }
  | { kind: "box"; x: number; y: number; w: number; h: number };

/** Pure: `x,y,w,h` as a box, or an InputError naming --box. */
export function parseBox(text: string): MaskSource & { kind: "box" } {
  const parts = text.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InputError(
      `--box must be x,y,w,h in whole pixels of the input video, got ${JSON.stringify(text)}`,
    );
  }
  const [x, y, w, h] = nums as [number, number, number, number];
  if (w === 0 || h === 0)
    throw new InputError(`--box ${text}: width and height must be at least 1`);
  return { kind: "box", x, y, w, h };
}

/**
 * Checks the mask against the video (same size; a mask video long enough) and writes it as a lossless
 * grayscale H.264 MP4 through the video's filters: white = regenerate, black = keep. A still image or
 * a box becomes a mask video as long as the input, since WanVaceToVideo pads a short mask with 1
 * (regenerate everything) rather than repeating it.
 */
export async function fitMask(
  mask: MaskSource,
  video: MediaInfo,
  plan: FitPlan,
  dir: string,
): Promise<{ file: string; changes: string[] }> {
  const out = join(dir, "mask.vace.mp4");
  const size = `${video.width}x${video.height}`;
  let input: string[];
  const filters = [...plan.filters];
  const changes: string[] = [];
  if (mask.kind === "box") {
    if (mask.x + mask.w > video.width || mask.y + mask.h > video.height) {
      throw new InputError(
        `--box ${mask.x},${mask.y},${mask.w},${mask.h} reaches outside the ${video.width}×${video.height} video`,
      );
    }
    input = ["-f", "lavfi", "-i", `color=c=black:s=${size}:r=${FPS}`];
    filters.unshift(`drawbox=x=${mask.x}:y=${mask.y}:w=${mask.w}:h=${mask.h}:color=white:t=fill`);
    changes.push(`mask: a ${mask.w}×${mask.h} box at ${mask.x},${mask.y}, on every frame`);
  } else {
    const m = await probeMedia(mask.file, "--mask");
    if (m.width !== video.width || m.height !== video.height) {
      throw new InputError(
        `--mask ${mask.file} is ${m.width}×${m.height} but --video ${video.file} is ${video.width}×${video.height}: the mask must have the video's size`,
      );
    }
    if (m.frames === 1) {
      input = ["-loop", "1", "-framerate", String(FPS), "-i", mask.file];
      // The image is already at 16 fps; only the size filters apply.
      filters.splice(0, filters.length, ...plan.filters.filter((f) => !f.startsWith("fps=")));
      changes.push(`mask: the image ${basename(mask.file)}, repeated on every frame`);
    } else {
      if (framesAt16(m) < plan.frames) {
        throw new InputError(
          `--mask ${mask.file} has ${framesAt16(m)} frames at ${FPS} fps, but the video needs ${plan.frames}`,
        );
      }
      input = ["-i", mask.file];
      if (Math.abs(m.fps - FPS) > 0.01 && !filters.some((f) => f.startsWith("fps="))) {
        filters.unshift(`fps=${FPS}`);
      }
      changes.push(`mask: the video ${basename(mask.file)}, fitted like the input`);
    }
  }
  await ffmpeg([
    ...input,
    ...["-map", "0:v:0", "-an", "-vf", [...filters, "format=gray", "format=yuv420p"].join(",")],
    ...["-frames:v", String(plan.frames), "-c:v", "libx264", "-preset", "veryfast", "-qp", "0"],
    out,
  ]);
  return { file: out, changes };
}

async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run("ffmpeg", ["-v", "error", "-nostdin", "-y", ...args], { maxBuffer: 1 << 20 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") throw new InputError(FFMPEG_MISSING);
    throw new InputError(`ffmpeg could not fit the input: ${(err.stderr ?? err.message).trim()}`);
  }
}
