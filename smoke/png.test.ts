import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { requireBinary } from "../test/binaries";
import { tempDir } from "../test/fixtures/video";
import { encodePng, referenceImage } from "./png";

const run = promisify(execFile);

describe("encodePng", () => {
  it("writes a PNG that ffmpeg decodes to the same pixels", async () => {
    const ffmpeg = requireBinary("ffmpeg");
    const rgb = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 13);
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, "tiny.png");
      await writeFile(file, encodePng(3, 2, rgb));
      const { stdout } = await run(
        ffmpeg,
        ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        {
          encoding: "buffer",
        },
      );
      expect([...stdout]).toEqual([...rgb]);
      await writeFile(join(dir, "ref.png"), referenceImage());
      const probe = await run(requireBinary("ffprobe"), [
        ...["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0"],
        join(dir, "ref.png"),
      ]);
      expect(probe.stdout.trim()).toBe("png,256,256");
    } finally {
      await cleanup();
    }
  });

  it("rejects data of the wrong length", () => {
    expect(() => encodePng(2, 2, new Uint8Array(11))).toThrow(
      "PNG data must be 12 bytes for 2×2 RGB, got 11",
    );
  });
});
