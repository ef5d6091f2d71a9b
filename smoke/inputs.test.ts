/**
 * Input video handling with the real ffprobe/ffmpeg: MP4 (H.264), AVI (MJPEG) and MOV (ProRes) clips
 * made by ffmpeg are fitted to 16 fps, 4n+1 frames and the target size, and every bad input is refused
 * with a message naming the flag and what to do.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../test/binaries";
import { makeClip, makeStill, makeTone, tempDir } from "../test/fixtures/video";
import {
  fitMask,
  fitVideo,
  InputError,
  type MediaInfo,
  parseBox,
  parseProbe,
  planFit,
  probeMedia,
} from "./inputs";

const run = promisify(execFile);
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  requireBinary("ffmpeg");
  requireBinary("ffprobe");
  tmp = await tempDir("vace-inputs-");
});
afterAll(async () => {
  await tmp?.cleanup();
});

const info = (over: Partial<MediaInfo> = {}): MediaInfo => ({
  file: "in.mov",
  container: "mov,mp4,m4a,3gp,3g2,mj2",
  codec: "prores",
  width: 1920,
  height: 1080,
  fps: 30,
  frames: 60,
  hasAudio: false,
  ...over,
});

describe("planFit (pure)", () => {
  it("resamples to 16 fps, trims to 4n+1, covers and centre-crops, and says so", () => {
    const p = planFit(info({ hasAudio: true }), { width: 832, height: 480, fit: "cover" });
    expect(p.frames).toBe(29); // 60 frames at 30 fps = 32 at 16 fps → 29
    expect(p.filters).toEqual([
      "fps=16",
      "scale=832:480:force_original_aspect_ratio=increase",
      "crop=832:480",
      "setsar=1",
    ]);
    expect(p.changes).toEqual([
      "resampled 30 fps → 16 fps",
      "trimmed 32 → 29 frames at 16 fps (Wan needs 4n+1 frames)",
      "resized 1920×1080 → 832×480 (scaled to 853×480, centre-cropped)",
      "dropped the audio track (the model makes silent video)",
      "re-encoded prores in mov → H.264 MP4 for upload",
    ]);
  });

  it("changes nothing but the encoding for a clip that already fits", () => {
    const p = planFit(info({ fps: 16, frames: 33, width: 480, height: 832, codec: "h264" }), {
      width: 480,
      height: 832,
      fit: "cover",
    });
    expect(p.frames).toBe(33);
    expect(p.filters).toEqual(["setsar=1"]);
    expect(p.changes).toEqual(["re-encoded h264 in mov → H.264 MP4 for upload"]);
  });

  it("outpaint scales to fit inside the target and refuses a clip already of its aspect", () => {
    const p = planFit(info({ width: 1080, height: 1920 }), {
      width: 832,
      height: 480,
      fit: "contain",
    });
    expect([p.width, p.height]).toEqual([270, 480]);
    expect(p.changes).toContain(
      "resized 1080×1920 → 270×480 (fits 832×480; the server pads the rest)",
    );
    expect(() => planFit(info(), { width: 832, height: 480, fit: "contain" })).not.toThrow();
    expect(() =>
      planFit(info({ width: 832, height: 480 }), { width: 832, height: 480, fit: "contain" }),
    ).toThrow("already the 832×480 aspect: nothing to outpaint");
  });

  it("refuses clips over the frame limit, or shorter than --frames", () => {
    expect(() => planFit(info({ frames: 300 }), { width: 832, height: 480, fit: "cover" })).toThrow(
      "in.mov has 160 frames at 16 fps (10.0 s), over the limit of 81 (5.0625 s, what Wan2.1 VACE was trained on): pass --frames 81",
    );
    expect(
      planFit(info({ frames: 300 }), { width: 832, height: 480, frames: 81, fit: "cover" }).frames,
    ).toBe(81);
    expect(() =>
      planFit(info({ frames: 10 }), { width: 832, height: 480, frames: 9, fit: "cover" }),
    ).toThrow("has 5 frames at 16 fps, fewer than --frames 9");
  });

  it("reads ffprobe's answer and refuses audio-only files", () => {
    expect(() =>
      parseProbe("a.m4a", "--video", { streams: [{ codec_type: "audio", codec_name: "aac" }] }),
    ).toThrow("--video a.m4a has no video stream: audio only (aac)");
  });

  it("parses --box and refuses bad ones", () => {
    expect(parseBox("10, 20,30,40")).toEqual({ kind: "box", x: 10, y: 20, w: 30, h: 40 });
    expect(() => parseBox("10,20,30")).toThrow("--box must be x,y,w,h in whole pixels");
    expect(() => parseBox("1,2,0,4")).toThrow("width and height must be at least 1");
  });
});

/** ffprobe of a fitted file: codec, size, frame count, fps. */
async function probeOut(file: string) {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-count_frames", "-select_streams", "v:0", "-of", "json"],
    ...["-show_entries", "stream=codec_name,width,height,nb_read_frames,avg_frame_rate", file],
  ]);
  const s = JSON.parse(stdout).streams[0];
  return {
    codec: s.codec_name,
    width: s.width,
    height: s.height,
    frames: Number(s.nb_read_frames),
    fps: s.avg_frame_rate,
  };
}

/** A 96×64 H.264 clip of 9 frames at 16 fps, probed and planned for 480×480. */
async function squareInput(name: string) {
  const src = await makeClip(tmp.dir, name, { width: 96, height: 64, fps: 16, frames: 9 });
  const m = await probeMedia(src, "--video");
  return { src, m, plan: planFit(m, { width: 480, height: 480, fit: "cover" }) };
}

describe("fitting real files (ffmpeg)", () => {
  it.each([
    { name: "h264.mp4", codec: "h264", container: "mp4", fps: 24, target: [832, 480] },
    { name: "mjpeg.avi", codec: "mjpeg", container: "avi", fps: 30, target: [480, 832] },
    { name: "prores.mov", codec: "prores", container: "mov", fps: 25, target: [480, 480] },
  ] as const)("$name becomes an H.264 MP4 at 16 fps, 4n+1 frames, $target", async (c) => {
    const src = await makeClip(tmp.dir, c.name, {
      codec: c.codec,
      container: c.container,
      width: 96,
      height: 64,
      fps: c.fps,
      frames: 20,
      audio: true,
    });
    const m = await probeMedia(src, "--video");
    expect(m).toMatchObject({ codec: c.codec, width: 96, height: 64, frames: 20, hasAudio: true });
    const [width, height] = c.target;
    const plan = planFit(m, { width, height, fit: "cover" });
    const out = await fitVideo(src, plan, tmp.dir);
    expect(await probeOut(out)).toEqual({
      codec: "h264",
      width,
      height,
      frames: plan.frames,
      fps: "16/1",
    });
    expect((plan.frames - 1) % 4).toBe(0);
  });

  it("makes a mask video from an image, a video or a box, aligned with the input", async () => {
    const { m, plan } = await squareInput("m.mp4");
    const png = await makeStill(tmp.dir, "mask.png", {
      width: 96,
      height: 64,
      box: { x: 8, y: 8, w: 16, h: 16 },
    });
    const maskVideo = await makeClip(tmp.dir, "maskv.mp4", {
      width: 96,
      height: 64,
      fps: 16,
      frames: 9,
      pattern: "moving-box",
    });
    for (const source of [
      { kind: "file", file: png },
      { kind: "file", file: maskVideo },
      { kind: "box", x: 8, y: 8, w: 40, h: 30 },
    ] as const) {
      const { file } = await fitMask(source, m, plan, tmp.dir);
      expect(await probeOut(file)).toMatchObject({ width: 480, height: 480, frames: 9 });
    }
  });

  it("refuses unreadable and audio-only files, masks of another size, boxes outside the frame", async () => {
    const junk = join(tmp.dir, "junk.mp4");
    await writeFile(junk, "not a video at all");
    await expect(probeMedia(junk, "--video")).rejects.toThrow(`cannot read --video ${junk}:`);
    const tone = await makeTone(tmp.dir, "tone.m4a");
    await expect(probeMedia(tone, "--video")).rejects.toThrow(
      `--video ${tone} has no video stream: audio only (aac)`,
    );
    const { src, m, plan } = await squareInput("v.mp4");
    const other = await makeClip(tmp.dir, "other.mp4", {
      width: 64,
      height: 64,
      fps: 16,
      frames: 9,
    });
    await expect(fitMask({ kind: "file", file: other }, m, plan, tmp.dir)).rejects.toThrow(
      `--mask ${other} is 64×64 but --video ${src} is 96×64: the mask must have the video's size`,
    );
    await expect(
      fitMask({ kind: "box", x: 90, y: 0, w: 10, h: 10 }, m, plan, tmp.dir),
    ).rejects.toThrow("--box 90,0,10,10 reaches outside the 96×64 video");
    await expect(probeMedia(join(tmp.dir, "missing.mov"), "--video")).rejects.toBeInstanceOf(
      InputError,
    );
  });
});
