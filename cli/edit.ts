/**
 * `vace run`: edit or make one video through the endpoint with a VACE workflow (r2v, v2v, inpaint,
 * outpaint). The inputs are checked and fitted client-side (smoke/inputs.ts), then the run travels
 * the smoke's client (runSmoke with a job), so token, TLS, progress, verification and exit codes are
 * the smoke's (design.md contract 4): 0 verified, 1 failed, 2 usage or bad input, 3 token rejected,
 * 4 unreachable or timed out.
 */
import { copyFile, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { type EditRequest, prepareEdit, SIZES, type Size } from "../smoke/edit";
import { InputError, MAX_FRAMES, type MaskSource, parseBox } from "../smoke/inputs";
import { runSmoke, smokeParams } from "../smoke/run";
import { WORKFLOW_NAMES, type WorkflowName, WorkflowParamsError } from "../smoke/workflow";
import { CliError, ExitCode } from "./errors";
import { planSmoke, redact } from "./smoke";

export interface RunFlags {
  url: string;
  token?: string;
  workflow: WorkflowName;
  image?: string;
  video?: string;
  mask?: string;
  box?: string;
  prompt: string;
  negative?: string;
  size: Size;
  frames?: string;
  steps?: string;
  seed?: string;
  strength?: string;
  out: string;
  ca?: string;
  timeout?: string;
  readyTimeout?: string;
}

export const RUN_EXAMPLES = `
Examples (token from VACE_TOKEN; prompts in English or Chinese):
  r2v       a new video in the likeness of an image
    vace run --url https://203.0.113.10 --workflow r2v --image girl.png \\
      --prompt "A girl secretly takes a bite of an apple" --out girl.mp4
  v2v       restyle a whole clip (style, colour, effects, quality); --strength sets how closely it follows
    vace run --url https://203.0.113.10 --workflow v2v --video street.mov --size 832x480 \\
      --prompt "水彩画风格的街道，柔和的笔触" --strength 0.8 --out street-watercolor.mp4
  inpaint   change only the masked region (object or scene edits); the mask is white where to change
    vace run --url https://203.0.113.10 --workflow inpaint --video park.mp4 --box 300,120,200,200 \\
      --prompt "a red vintage car parked by the road" --out park-car.mp4
  outpaint  extend a clip to another aspect (here portrait → landscape)
    vace run --url https://203.0.113.10 --workflow outpaint --video portrait.avi --size 832x480 \\
      --prompt "a wide beach at sunset, waves on both sides" --out beach-wide.mp4

Input videos (MP4, AVI, MOV; H.264, MJPEG, ProRes, …) are fitted with ffmpeg before upload: 16 fps,
4n+1 frames (at most ${MAX_FRAMES}), the --size (cover + centre crop; outpaint: fit inside), H.264 MP4.
Every change is printed. Exit codes: 0 verified, 1 failed, 2 usage or bad input, 3 token rejected,
4 unreachable or timed out.`;

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "edit or make a video through the endpoint with a VACE workflow, then verify the MP4",
    )
    .requiredOption("--url <url>", "the gateway's URL (the stack's url output)")
    .option("--token <token>", "the gateway token; prefer the VACE_TOKEN environment variable")
    .addOption(
      new Option("--workflow <name>", "the VACE workflow (see the examples below)")
        .choices(WORKFLOW_NAMES)
        .makeOptionMandatory(),
    )
    .option(
      "--image <file>",
      "reference image (PNG/JPEG/WebP): required for r2v, optional otherwise",
    )
    .option("--video <file>", "input video (MP4, AVI, MOV, …) for v2v, inpaint, outpaint")
    .option("--mask <file>", "inpaint mask: an image or video of the input's size, white = change")
    .option("--box <x,y,w,h>", "inpaint mask as a box in the input video's pixels")
    .requiredOption("--prompt <text>", "what the result should show (UTF-8, English or Chinese)")
    .option("--negative <text>", "the negative prompt")
    .addOption(new Option("--size <WxH>", "output size").choices(SIZES).default("832x480"))
    .option(
      "--frames <n>",
      `frames, 4n+1 (default: r2v 49, edits the input's length, at most ${MAX_FRAMES})`,
    )
    .option("--steps <n>", "sampler steps (default 20)")
    .option("--seed <n>", "seed (default: a fresh one)")
    .option(
      "--strength <x>",
      "how strongly the control video steers (WanVaceToVideo strength, default 1)",
    )
    .requiredOption("--out <file>", "where the MP4 goes")
    .option("--ca <file>", "PEM certificate to trust for the gateway")
    .option("--timeout <seconds>", "overall limit (default: a cold start and the run)")
    .option("--ready-timeout <seconds>", "how long to wait for the endpoint to be ready")
    .addHelpText("after", RUN_EXAMPLES)
    .action(async (flags: RunFlags) => {
      const code = await runEdit(flags, flags.token ?? process.env.VACE_TOKEN);
      if (code !== ExitCode.ok) process.exitCode = code;
    });
}

const usage = (msg: string) => new CliError(ExitCode.usage, msg);

/** A whole number flag, or undefined when not given. */
function whole(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw usage(`${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** Pure: the flags as an EditRequest; every usage problem names its flag. */
export function editRequest(flags: RunFlags, workDir: string): EditRequest {
  if (flags.mask && flags.box) throw usage("give either --mask or --box, not both");
  const frames = whole("--frames", flags.frames);
  if (frames !== undefined && ((frames - 1) % 4 !== 0 || frames < 1 || frames > MAX_FRAMES)) {
    throw usage(
      `--frames must be 4n+1 between 1 and ${MAX_FRAMES} (5, 9, … 49, 81), got ${frames}`,
    );
  }
  const strength = flags.strength === undefined ? undefined : Number(flags.strength);
  if (strength !== undefined && !(strength >= 0 && strength <= 1000)) {
    throw usage(
      `--strength must be a number from 0 to 1000, got ${JSON.stringify(flags.strength)}`,
    );
  }
  let mask: MaskSource | undefined;
  try {
    mask = flags.box
      ? parseBox(flags.box)
      : flags.mask
        ? { kind: "file", file: flags.mask }
        : undefined;
  } catch (e) {
    throw usage((e as Error).message);
  }
  const out = resolve(flags.out);
  if (extname(out).toLowerCase() !== ".mp4")
    throw usage(`--out must name an .mp4 file, got ${flags.out}`);
  return {
    workflow: flags.workflow,
    video: flags.video,
    image: flags.image,
    mask,
    size: flags.size,
    frames,
    steps: whole("--steps", flags.steps),
    strength,
    workDir,
  };
}

async function runEdit(flags: RunFlags, token: string | undefined): Promise<number> {
  const say = (line: string) => process.stdout.write(`${redact(line, token)}\n`);
  const out = resolve(flags.out);
  if ((await stat(out).catch(() => undefined))?.isDirectory()) {
    throw usage(`--out ${flags.out} is a folder: name the .mp4 file to write`);
  }
  await mkdir(dirname(out), { recursive: true }).catch((e: Error) => {
    throw usage(`--out: cannot create the folder ${dirname(out)} (${e.message})`);
  });
  const workDir = await mkdtemp(join(tmpdir(), "vace-run-"));
  try {
    const request = editRequest(flags, workDir);
    // The smoke's own checks: token, URL, CA, timeouts, the run folder (exit 2 before any traffic).
    const plan = await planSmoke(
      {
        url: flags.url,
        profile: "full",
        out: workDir,
        ca: flags.ca,
        timeout: flags.timeout,
        readyTimeout: flags.readyTimeout,
        content: "auto",
        prompt: flags.prompt,
        negative: flags.negative,
        // Checked here (type, readable); prepareEdit uploads it.
        image: flags.image,
      },
      token,
    );
    const prepared = await prepareEdit(request).catch((e) => {
      if (e instanceof InputError) throw usage(e.message);
      throw e;
    });
    const seed = whole("--seed", flags.seed);
    const options = { ...plan.options, job: prepared.job, settings: prepared.settings, seed };
    try {
      smokeParams(options);
    } catch (e) {
      if (e instanceof WorkflowParamsError) throw usage(e.message);
      throw e;
    }
    if (prepared.source) {
      const s = prepared.source;
      say(
        `input ${s.file}: ${s.codec} ${s.width}×${s.height}, ${s.frames} frames at ${Math.round(s.fps * 100) / 100} fps`,
      );
    }
    for (const c of prepared.changes) say(`  changed: ${c}`);
    say(`run ${flags.workflow} against ${flags.url.replace(/\?.*$/, "")}`);
    const report = await runSmoke({ ...options, log: say });
    if (report.error) {
      throw new CliError(
        report.exitCode as ExitCode,
        redact(`run failed in ${report.error.phase}: ${report.error.message}`, token),
      );
    }
    await copyFile(report.video?.file as string, out);
    const v = report.verification;
    say(
      `run passed: ${out} verified (${v?.codec} ${v?.width}×${v?.height}, ${v?.frames} frames at ${v?.fps} fps)`,
    );
    return ExitCode.ok;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
