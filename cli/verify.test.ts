/** `vace verify` as other checks run it (design.md contract 3): real processes, exit codes, JSON. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InvalidArgumentError } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeClip, tempDir } from "../test/fixtures/video";
import { SLOW } from "../test/slow";
import { runCli } from "./index";
import { failureSummary, parseCount, parseRate, unreadableResult } from "./verify";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = join(__dirname, "..");

/**
 * Runs the CLI as a separate process, the way contract 3 does; `fromDir` goes through
 * `npm --prefix <repo> run --silent vace --` started in that folder, as a user in another folder
 * would, so relative paths must resolve there (npm's INIT_CWD), not in the repository. Each start
 * costs about a second (the CLI loads every subcommand), so only the exit-code and JSON contract
 * runs this way; the rest runs in process.
 */
function vace(args: string[], fromDir?: string): Promise<Run> {
  const [cmd, argv] = fromDir
    ? ["npm", ["--prefix", ROOT, "run", "--silent", "vace", "--", ...args]]
    : [process.execPath, ["--import", "tsx", "cli/index.ts", ...args]];
  return new Promise((resolve) => {
    execFile(cmd, argv, { cwd: fromDir ?? ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const KEYS = ["ok", "codec", "width", "height", "frames", "fps", "durationS", "checks"];

let dir: string;
let cleanup: () => Promise<void>;
let clip: string;
let empty: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("vace-verify-cli-"));
  clip = await makeClip(dir, "clip.mp4", { width: 64, height: 64, frames: 17, fps: 16 });
  empty = join(dir, "empty.mp4");
  await writeFile(empty, "");
});
afterAll(async () => {
  await cleanup?.();
});

describe("vace verify (real processes)", SLOW, () => {
  it("exits 0 and 1 with one JSON object on stdout; a relative FILE is found where the user ran npm", async () => {
    const size = ["--width", "64", "--height", "64", "--fps", "16"];
    const [pass, fail] = await Promise.all([
      vace(["verify", basename(clip), ...size, "--frames", "17"], dirname(clip)),
      vace(["verify", clip, ...size, "--frames", "9"]),
    ]);

    expect(pass.code, pass.stderr).toBe(0);
    const ok = JSON.parse(pass.stdout);
    expect(Object.keys(ok)).toEqual(KEYS);
    expect(ok).toMatchObject({ ok: true, width: 64, height: 64, frames: 17, fps: 16 });
    expect(ok.checks.map((c: { name: string }) => c.name)).toContain("content.not_frozen");
    for (const c of ok.checks) expect(Object.keys(c)).toEqual(["name", "ok", "expected", "actual"]);

    expect(fail.code).toBe(1);
    expect(JSON.parse(fail.stdout).ok).toBe(false);
    expect(fail.stderr).toContain("vace: verification failed: 2 of 12 checks");
    expect(fail.stderr).toContain("  frames: expected 9, got 17");
  });
});

/** Runs the CLI in this process (runCli never exits), capturing what it writes. */
async function vaceInProcess(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await runCli(["node", "vace", ...args]);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = undefined;
  }
}

describe("vace verify (in process)", () => {
  it("exits 2 for an unreadable file, still with the JSON object, and names the file on stderr", async () => {
    const unreadable = await vaceInProcess(["verify", empty]);
    expect(unreadable.code).toBe(2);
    const json = JSON.parse(unreadable.stdout);
    expect(Object.keys(json)).toEqual(KEYS);
    expect(json.checks[0]).toMatchObject({ name: "readable", ok: false });
    expect(unreadable.stderr).toContain(`vace: ${empty}: the file is empty (0 bytes)`);
  });

  it("rejects bad numbers and a missing FILE as usage errors (exit 2) with a clear message", async () => {
    const badWidth = await vaceInProcess(["verify", clip, "--width", "abc"]);
    expect(badWidth.code).toBe(2);
    expect(badWidth.stdout).toBe("");
    expect(badWidth.stderr).toContain(
      "option '--width <W>' argument 'abc' is invalid. expected a whole number of at least 1, got 'abc'",
    );
    const zeroFrames = await vaceInProcess(["verify", clip, "--frames", "0"]);
    expect(zeroFrames.code).toBe(2);
    expect(zeroFrames.stderr).toContain("argument '0' is invalid");
    const badMode = await vaceInProcess(["verify", clip, "--content", "sometimes"]);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain("Allowed choices are auto, require, skip");
    const noFile = await vaceInProcess(["verify"]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("missing required argument 'file'");
  });

  it("--no-content skips content checks; without ffmpeg, auto warns and require is a usage error", async () => {
    const skipped = await vaceInProcess(["verify", clip, "--no-content"]);
    expect(skipped.code, skipped.stderr).toBe(0);
    const names = JSON.parse(skipped.stdout).checks.map((c: { name: string }) => c.name);
    expect(names.some((n: string) => n.startsWith("content."))).toBe(false);

    const saved = process.env.PATH;
    process.env.PATH = dir; // holds no ffmpeg
    try {
      const auto = await vaceInProcess(["verify", clip]);
      expect(auto.code, auto.stderr).toBe(0);
      expect(auto.stderr).toContain(
        "ffmpeg is not on PATH, so content checks (blank, frozen, noise) are skipped",
      );
      const required = await vaceInProcess(["verify", clip, "--content", "require"]);
      expect(required.code).toBe(2);
      expect(required.stdout).toBe("");
      expect(required.stderr).toContain("content checks need ffmpeg, and it is not on PATH");
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("vace verify (argument parsing and messages)", () => {
  it("takes whole counts ≥ 1 and rates > 0, nothing else", () => {
    expect(parseCount("480")).toBe(480);
    for (const bad of ["0", "-1", "4.5", "abc", "", "1e3", "0x10"]) {
      expect(() => parseCount(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(parseRate("29.97")).toBe(29.97);
    for (const bad of ["0", "-16", "abc", "", "Infinity"]) {
      expect(() => parseRate(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it("summarises failed checks one per line, and reports an unreadable file as a failed check", () => {
    const r = unreadableResult("x.mp4: the file is empty (0 bytes)");
    expect(r).toMatchObject({ ok: false, codec: null, frames: null });
    expect(failureSummary(r)).toBe(
      'verification failed: 1 of 1 checks\n  readable: expected "a complete MP4 file", got "x.mp4: the file is empty (0 bytes)"',
    );
  });
});
