/**
 * verifyVideo on real files made by ffmpeg: every clip is encoded once, in beforeAll, small
 * except where size or the content thresholds (chosen at 480P) are under test.
 */
import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";
import {
  type ClipSpec,
  makeClip,
  tempDir,
  truncatedCopy,
  withoutAvcCExtension,
} from "../../test/fixtures/video";
import {
  ContentToolMissingError,
  UnreadableVideoError,
  type VerifyResult,
  verifyVideo,
} from "./index";
import { probePixFmt } from "./pixfmt";

const SMALL = { width: 64, height: 64, frames: 17, fps: 16 };
const CLIPS = {
  h264_480: { width: 480, height: 480, frames: 17, fps: 16 },
  // veryfast gives High profile, as VHS's default preset does: the avcC chroma extension path.
  h264_832: { width: 832, height: 480, frames: 17, fps: 16, preset: "veryfast" },
  hevc: { ...SMALL, codec: "hevc" },
  vp9: { ...SMALL, codec: "vp9" },
  yuv444p: { ...SMALL, pixFmt: "yuv444p" },
  yuv420p10: { ...SMALL, pixFmt: "yuv420p10le" },
  p720: { width: 1280, height: 720, frames: 17, fps: 16, pattern: "gray" },
  frames13: { ...SMALL, frames: 13 },
  moovEnd: { ...SMALL, layout: "moov-at-end" },
  high444MoovEnd: {
    ...SMALL,
    frames: 9,
    pixFmt: "yuv444p",
    preset: "veryfast",
    layout: "moov-at-end",
  },
  fragmented: { ...SMALL, layout: "fragmented" },
  mov: { ...SMALL, container: "mov" },
  black: { width: 480, height: 480, frames: 17, fps: 16, pattern: "black" },
  still: { width: 480, height: 480, frames: 17, fps: 16, pattern: "still" },
  noise: { width: 480, height: 480, frames: 17, fps: 16, pattern: "noise" },
  // The hardest good case in the threshold benchmark: one small box creeping 0.5 px per frame.
  slowBox: {
    width: 480,
    height: 480,
    frames: 17,
    fps: 16,
    pattern: "moving-box",
    panPxPerFrame: 0.5,
  },
} satisfies Record<string, ClipSpec>;
type ClipName = keyof typeof CLIPS;

let dir: string;
let cleanup: () => Promise<void>;
const file = {} as Record<ClipName | "truncated" | "truncatedFragment" | "empty" | "noExt", string>;

beforeAll(async () => {
  requireBinary("ffmpeg");
  requireBinary("ffprobe");
  ({ dir, cleanup } = await tempDir("vace-verify-test-"));
  // Two encoders at a time: one per core.
  const queue = Object.entries(CLIPS) as [ClipName, ClipSpec][];
  const ext = (s: ClipSpec) => (s.codec === "vp9" ? "webm" : (s.container ?? "mp4"));
  await Promise.all(
    [0, 1].map(async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, spec] = next;
        file[name] = await makeClip(dir, `${name}.${ext(spec)}`, spec);
      }
    }),
  );
  file.truncated = await truncatedCopy(file.h264_480, dir, "truncated.mp4", -500);
  file.truncatedFragment = await truncatedCopy(file.fragmented, dir, "truncated-frag.mp4", -300);
  file.noExt = await withoutAvcCExtension(file.high444MoovEnd, dir, "no-avcc-ext.mp4");
  file.empty = join(dir, "empty.mp4");
  await writeFile(file.empty, "");
});
afterAll(async () => {
  await cleanup?.();
});

const failed = (r: VerifyResult) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const check = (r: VerifyResult, name: string) => r.checks.find((c) => c.name === name);
const structureOnly = { content: "skip" } as const;

describe("verifyVideo: structure", () => {
  it("passes H.264 480x480 and 832x480 with every requested property", async () => {
    const a = await verifyVideo(file.h264_480, CLIPS.h264_480);
    expect(failed(a)).toEqual([]);
    expect(a).toMatchObject({
      ok: true,
      width: 480,
      height: 480,
      frames: 17,
      fps: 16,
      durationS: 1.063,
    });
    expect(a.codec).toMatch(/^avc1\./);
    expect(a.checks.map((c) => c.name)).toEqual([
      ...["container", "codec", "width", "height", "frames", "fps", "pix_fmt", "duration"],
      ...["content.decoded", "content.not_blank", "content.not_frozen", "content.not_noise"],
    ]);
    const b = await verifyVideo(file.h264_832, CLIPS.h264_832);
    expect(failed(b)).toEqual([]);
    expect(b.codec).toMatch(/^avc1\.64/); // High profile (100): pix_fmt came from the avcC extension
    expect(check(b, "pix_fmt")?.actual).toBe("yuv420p");
  });

  it("fails the codec check for HEVC in MP4, and only that", async () => {
    const r = await verifyVideo(file.hevc, SMALL, structureOnly);
    expect(r.ok).toBe(false);
    expect(failed(r)).toEqual(["codec"]);
    expect(r.codec).toMatch(/^hev1\./);
    expect(check(r, "pix_fmt")?.actual).toBe("yuv420p"); // read from hvcC
  });

  it("rejects VP9 in WebM as not an MP4, naming the file", async () => {
    const err = await verifyVideo(file.vp9, SMALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableVideoError);
    expect((err as Error).message).toContain(file.vp9);
    expect((err as Error).message).toMatch(/not an MP4: it is WebM\/Matroska/);
  });

  it("fails pix_fmt for yuv444p and for yuv420p10le (VHS's other h264-mp4 option)", async () => {
    const a = await verifyVideo(file.yuv444p, SMALL, structureOnly);
    expect(failed(a)).toEqual(["pix_fmt"]);
    expect(check(a, "pix_fmt")).toMatchObject({ expected: "yuv420p", actual: "yuv444p" });
    const b = await verifyVideo(file.yuv420p10, SMALL, structureOnly);
    expect(check(b, "pix_fmt")).toMatchObject({ ok: false, actual: "yuv420p10le" });
  });

  it("fails width and height for 720p when 480P is asked for", async () => {
    const r = await verifyVideo(file.p720, CLIPS.h264_480, structureOnly);
    expect(failed(r)).toEqual(["width", "height"]);
    expect(check(r, "width")).toMatchObject({ expected: 480, actual: 1280 });
    expect(check(r, "height")).toMatchObject({ expected: 480, actual: 720 });
  });

  it("fails frames, and the duration they imply, on a wrong frame count", async () => {
    const r = await verifyVideo(file.frames13, SMALL, structureOnly);
    expect(failed(r)).toEqual(["frames", "duration"]);
    expect(check(r, "frames")).toMatchObject({ expected: 17, actual: 13 });
    expect(check(r, "duration")).toMatchObject({ expected: 1.063, actual: 0.813 });
  });

  it("fails fps and an explicit duration when they differ", async () => {
    const r = await verifyVideo(file.moovEnd, { ...SMALL, fps: 24, durationS: 2 }, structureOnly);
    expect(failed(r)).toEqual(["fps", "duration"]);
    expect(check(r, "fps")).toMatchObject({ expected: 24, actual: 16 });
  });

  it("passes moov-at-end and fragmented MP4, counting samples across fragments", async () => {
    const end = await verifyVideo(file.moovEnd, SMALL);
    expect(failed(end)).toEqual([]);
    const frag = await verifyVideo(file.fragmented, SMALL);
    expect(failed(frag)).toEqual([]);
    expect(frag).toMatchObject({ frames: 17, fps: 16, durationS: 1.063 });
  });

  it("fails the container check for a QuickTime (qt) file that is otherwise right", async () => {
    const r = await verifyVideo(file.mov, SMALL, structureOnly);
    expect(failed(r)).toEqual(["container"]);
    expect(check(r, "container")?.actual).toEqual(["qt  "]);
  });

  it("throws UnreadableVideoError for truncated, empty, missing and image files", async () => {
    const gif = join(dir, "out.gif");
    const png = join(dir, "out.png");
    await writeFile(gif, "GIF89a\x01\x00\x01\x00");
    await writeFile(png, Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"));
    const cases: [string, RegExp][] = [
      [gif, /not an MP4: it is a GIF/],
      [png, /not an MP4: it is a PNG image/],
      [
        file.truncated,
        /truncated: the 'mdat' box at byte \d+ declares \d+ bytes, but the file ends after \d+/,
      ],
      [file.truncatedFragment, /truncated: the 'mdat' box/],
      [file.empty, /the file is empty \(0 bytes\)/],
      [join(dir, "missing.mp4"), /cannot read the file \(ENOENT/],
    ];
    for (const [path, message] of cases) {
      const err = await verifyVideo(path, SMALL).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(UnreadableVideoError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
    }
  });

  it("asks ffprobe for the pixel format only when the avcC record does not say", async () => {
    expect(await probePixFmt(file.noExt)).toBe("yuv444p");
    const r = await verifyVideo(file.noExt, {}, structureOnly);
    expect(check(r, "pix_fmt")).toMatchObject({ ok: false, actual: "yuv444p" });
    const saved = process.env.PATH;
    process.env.PATH = dir; // no ffprobe, no ffmpeg
    try {
      const blind = await verifyVideo(file.noExt, {}, { content: "auto" });
      expect(check(blind, "pix_fmt")).toMatchObject({ ok: false, actual: "unknown" });
      expect(blind.checks.some((c) => c.name.startsWith("content."))).toBe(false);
      await expect(verifyVideo(file.h264_480, {}, { content: "require" })).rejects.toBeInstanceOf(
        ContentToolMissingError,
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("verifyVideo: content", () => {
  it("hands ffmpeg a local path even when a relative name looks like a protocol", async () => {
    await copyFile(file.h264_480, join(dir, "http:clip.mp4"));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      // Given as is, ffmpeg would try to fetch "http:clip.mp4" over HTTP.
      const r = await verifyVideo("http:clip.mp4", CLIPS.h264_480, { content: "require" });
      expect(failed(r)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it("fails a black clip as blank", async () => {
    const r = await verifyVideo(file.black, CLIPS.black);
    expect(failed(r)).toEqual(["content.not_blank", "content.not_frozen"]);
    expect(check(r, "content.not_blank")?.actual).toMatchObject({ flatFrames: 5 });
  });

  it("fails a repeated still image as frozen", async () => {
    const r = await verifyVideo(file.still, CLIPS.still);
    expect(failed(r)).toEqual(["content.not_frozen"]);
  });

  it("fails noise as noise", async () => {
    const r = await verifyVideo(file.noise, CLIPS.noise);
    expect(failed(r)).toEqual(["content.not_noise"]);
  });

  it("passes moving pictures, including one small box creeping 0.5 px per frame", async () => {
    for (const name of ["h264_480", "slowBox"] as const) {
      const r = await verifyVideo(file[name], CLIPS[name], { content: "require" });
      expect(failed(r), name).toEqual([]);
      expect(r.checks.filter((c) => c.name.startsWith("content.")).length).toBe(4);
    }
  });
});
