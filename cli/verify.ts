/**
 * `vace verify FILE [--width W] [--height H] [--frames N] [--fps F] [--content MODE]`
 * (design.md contract 3). stdout is one JSON object {ok, codec, width, height, frames, fps,
 * durationS, checks}; exit 0 when every check passes, 1 when one fails, 2 when the file is
 * unreadable or not an MP4, or on a usage error.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  type ContentMode,
  ContentToolMissingError,
  contentChecksAvailable,
  UnreadableVideoError,
  type VerifyResult,
  verifyVideo,
} from "../smoke/verify";
import { CliError, ExitCode } from "./errors";
import { userPath } from "./run";

interface VerifyCliOptions {
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  /** `false` from --no-content. */
  content: ContentMode | false;
}

/** Parses a whole number ≥ 1, e.g. a size in pixels or a frame count. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a whole number of at least 1, got '${value}'`);
  }
  return n;
}

/** Parses a frame rate: a finite number > 0, e.g. 16 or 29.97. */
export function parseRate(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(
      `expected a frame rate above 0 (e.g. 16 or 29.97), got '${value}'`,
    );
  }
  return n;
}

/** The JSON a consumer still gets when the file could not be judged at all. */
export function unreadableResult(message: string): VerifyResult {
  return {
    ok: false,
    codec: null,
    width: null,
    height: null,
    frames: null,
    fps: null,
    durationS: null,
    checks: [{ name: "readable", ok: false, expected: "a complete MP4 file", actual: message }],
  };
}

/** One line per failed check, for the person reading stderr. */
export function failureSummary(result: VerifyResult): string {
  const failed = result.checks.filter((c) => !c.ok);
  return [
    `verification failed: ${failed.length} of ${result.checks.length} checks`,
    ...failed.map(
      (c) => `  ${c.name}: expected ${JSON.stringify(c.expected)}, got ${JSON.stringify(c.actual)}`,
    ),
  ].join("\n");
}

function printJson(result: VerifyResult): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "check that FILE is an H.264 MP4 (yuv420p) of the requested size, frame count and rate, " +
        "and that its picture is not blank, frozen or noise; prints one JSON object",
    )
    .argument("<file>", "the video to verify, e.g. out/vace_00001.mp4")
    .option("--width <W>", "expected width in pixels", parseCount)
    .option("--height <H>", "expected height in pixels", parseCount)
    .option("--frames <N>", "expected number of frames", parseCount)
    .option("--fps <F>", "expected frames per second", parseRate)
    .addOption(
      new Option(
        "--content <mode>",
        "content checks: auto (when ffmpeg is on PATH), require (fail without ffmpeg), skip",
      )
        .choices(["auto", "require", "skip"])
        .default("auto"),
    )
    .option("--no-content", "skip the content checks (same as --content skip)")
    .action(async (file: string, opts: VerifyCliOptions) => {
      const content: ContentMode = opts.content === false ? "skip" : opts.content;
      if (content === "auto" && !contentChecksAvailable(content)) {
        process.stderr.write(
          "vace: warning: ffmpeg is not on PATH, so content checks (blank, frozen, noise) are skipped\n",
        );
      }
      let result: VerifyResult;
      try {
        result = await verifyVideo(
          userPath(file),
          { width: opts.width, height: opts.height, frames: opts.frames, fps: opts.fps },
          { content },
        );
      } catch (err) {
        if (err instanceof UnreadableVideoError) {
          printJson(unreadableResult(err.message));
          throw new CliError(ExitCode.usage, err.message);
        }
        if (err instanceof ContentToolMissingError) throw new CliError(ExitCode.usage, err.message);
        throw err;
      }
      printJson(result);
      if (!result.ok) throw new CliError(ExitCode.failed, failureSummary(result));
    });
}
