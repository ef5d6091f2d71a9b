/**
 * `vace smoke` (design.md contract 4): submit the VACE workflow through the gateway and prove the
 * deployment returns the promised 480P H.264 MP4. Exit codes: 0 verified, 1 a check failed or the run
 * errored, 2 usage, 3 token rejected, 4 unreachable or timed out.
 */
import { constants } from "node:fs";
import { access, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { type Command, Option } from "commander";
import { parseSize, SIZES, type Size } from "../smoke/edit";
import { FULL_EDIT, runProfile } from "../smoke/full";
import { FFMPEG_MISSING } from "../smoke/inputs";
import { describeCosts, PROFILE_NAMES, type ProfileName } from "../smoke/profiles";
import { renderJUnit, type SmokeReport } from "../smoke/report";
import {
  contentPlan,
  DEFAULT_PHASE_TIMEOUTS_MS,
  IMAGE_TYPES,
  type SmokeOptions,
  smokeParams,
} from "../smoke/run";
import { type ContentMode, ContentToolMissingError, contentChecksAvailable } from "../smoke/verify";
import { onPath } from "../smoke/verify/tools";
import { WorkflowParamsError } from "../smoke/workflow";
import { CliError, ExitCode } from "./errors";
import { makeFolder } from "./folders";
import { userPath } from "./run";

/** How long readiness may take by default: a fresh ECS instance needs 15–25 minutes (see run.ts). */
export const DEFAULT_READY_TIMEOUT_S = DEFAULT_PHASE_TIMEOUTS_MS.ready / 1000;

/**
 * Default overall limits: a cold start (up to DEFAULT_READY_TIMEOUT_S) and then the run. After ready,
 * ci keeps 15 minutes for the first load of ~11 GB of models plus a 4-step run; full keeps the 50 minutes
 * its 35× sampling cost was given before (design.md contract 4's --timeout).
 */
export const DEFAULT_TIMEOUT_S: Record<ProfileName, number> = {
  ci: DEFAULT_READY_TIMEOUT_S + 900,
  full: DEFAULT_READY_TIMEOUT_S + 3000,
};

const CONTENT_MODES: ContentMode[] = ["auto", "require", "skip"];

export interface SmokeFlags {
  url: string;
  token?: string;
  profile: ProfileName;
  out: string;
  junit?: string;
  ca?: string;
  timeout?: string;
  readyTimeout?: string;
  content: ContentMode;
  prompt?: string;
  negative?: string;
  image?: string;
  deployStartedAt?: string;
  /** Replaces the profile's size (480×480 for both). */
  size?: Size;
}

/** What the CLI runs: the smoke's options plus where the reports go (folders already created). */
export interface SmokePlan {
  options: SmokeOptions;
  outDir: string;
  junit?: string;
}

export function registerSmoke(program: Command): void {
  program
    .command("smoke")
    .description(
      "run the VACE workflow through the gateway and verify the 480P H.264 video it returns",
    )
    .requiredOption(
      "--url <url>",
      "the gateway's URL (the stack's url output), e.g. https://203.0.113.10",
    )
    .option(
      "--token <token>",
      "the gateway token; prefer the VACE_TOKEN environment variable, since arguments show in the process list",
    )
    .addOption(
      new Option(
        "--profile <name>",
        "ci: cheapest run proving 480P H.264; full: the seed's settings",
      )
        .choices(PROFILE_NAMES)
        .default("ci"),
    )
    .option("--out <dir>", "where report.json and the video go (created if missing)", "out/smoke")
    .option("--junit <file>", "also write a JUnit XML report here (its folder is created)")
    .option(
      "--ca <file>",
      "PEM certificate to trust for the gateway (pins its self-signed certificate)",
    )
    .option(
      "--timeout <seconds>",
      `overall limit (default ${DEFAULT_TIMEOUT_S.ci} for ci, ${DEFAULT_TIMEOUT_S.full} for full: a cold start and the run)`,
    )
    .option(
      "--ready-timeout <seconds>",
      `how long to wait for /healthz and ComfyUI after a deploy (default ${DEFAULT_READY_TIMEOUT_S}; at most --timeout)`,
    )
    .addOption(
      new Option(
        "--content <mode>",
        "content checks (blank, frozen, noise): auto (when ffmpeg is on PATH; a skip is reported), require, skip",
      )
        .choices(CONTENT_MODES)
        .default("auto"),
    )
    .option("--prompt <text>", "the prompt (UTF-8, any language)")
    .option("--negative <text>", "the negative prompt (unused at cfg 1)")
    .option("--image <file>", "reference image (PNG/JPEG/WebP); by default one is generated")
    .addOption(
      new Option(
        "--size <WxH>",
        `the r2v run's size (default 480x480); full then also edits its video as a MOV with v2v at ${FULL_EDIT.size} (needs ffmpeg and ffprobe)`,
      ).choices(SIZES),
    )
    .option(
      "--deploy-started-at <time>",
      "when the deploy began (ISO 8601, e.g. 2026-01-02T03:04:05Z, or Unix seconds); report.json then " +
        "measures cold start from it (also VACE_DEPLOY_STARTED_AT)",
    )
    .action(async (flags: SmokeFlags) => {
      const token = flags.token ?? process.env.VACE_TOKEN;
      const code = await smoke(flags, token);
      if (code !== ExitCode.ok) process.exitCode = code;
    });
}

/** Replaces the token wherever it appears, so no output line can leak it. */
export function redact(text: string, token: string | undefined): string {
  return token ? text.split(token).join("[token]") : text;
}

async function smoke(flags: SmokeFlags, token: string | undefined): Promise<number> {
  const say = (line: string) => process.stdout.write(`${redact(line, token)}\n`);
  const plan = await planSmoke(flags, token);
  for (const line of describeCosts(flags.profile)) say(line);
  say(`smoke ${flags.profile} against ${plan.options.url.replace(/\?.*$/, "")}`);
  const report = await runProfile({ ...plan.options, log: say });
  const warnings = await writeReports(report, plan, token);
  for (const w of warnings) process.stderr.write(`vace: warning: ${w}\n`);
  const reportFile = join(plan.outDir, "report.json");
  const where = warnings.length ? "report.json could not be written" : `report: ${reportFile}`;
  if (report.error) {
    throw new CliError(
      report.exitCode as ExitCode,
      redact(`smoke failed in ${report.error.phase}: ${report.error.message}\n(${where})`, token),
    );
  }
  const skipped = report.content?.skipped
    ? ` (without content checks: ${report.content.skipped})`
    : "";
  if (report.edit) say(`v2v edit passed: ${report.edit.video?.file} verified`);
  say(`smoke passed: ${report.video?.file} verified${skipped}; ${where}`);
  return ExitCode.ok;
}

/**
 * Writes report.json and the JUnit file. Never throws: a report that cannot be written must not turn
 * the run's result into another exit code, so each failure comes back as a warning to print.
 */
export async function writeReports(
  report: SmokeReport,
  to: { outDir: string; junit?: string },
  token: string | undefined,
): Promise<string[]> {
  const warnings: string[] = [];
  const write = async (file: string, text: string) => {
    try {
      await makeFolder(dirname(file));
      await writeFile(file, redact(text, token));
    } catch (e) {
      warnings.push(redact(`could not write ${file}: ${(e as Error).message}`, token));
    }
  };
  await write(join(to.outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  if (to.junit) await write(to.junit, renderJUnit(report));
  return warnings;
}

/**
 * Checks every flag before any traffic, and creates the report folders, so that a run is never wasted
 * on a path it cannot write. Every problem is a usage error (exit 2) naming the flag.
 */
export async function planSmoke(flags: SmokeFlags, token: string | undefined): Promise<SmokePlan> {
  if (!token) throw usage("no token: set VACE_TOKEN (preferred) or pass --token");
  try {
    const u = new URL(flags.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw usage(`--url must be an http:// or https:// URL, got ${JSON.stringify(flags.url)}`);
  }
  const timeoutS = seconds("--timeout", flags.timeout) ?? DEFAULT_TIMEOUT_S[flags.profile];
  const readyS = seconds("--ready-timeout", flags.readyTimeout) ?? DEFAULT_READY_TIMEOUT_S;
  if (flags.readyTimeout !== undefined && readyS > timeoutS) {
    throw usage(
      `--ready-timeout ${readyS} is longer than --timeout ${timeoutS}, which bounds the whole run: raise --timeout`,
    );
  }
  const ca = flags.ca ? await readText(userPath(flags.ca), "--ca") : undefined;
  if (ca !== undefined && !ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw usage(`--ca ${flags.ca} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  try {
    contentPlan(flags.content, contentChecksAvailable(flags.content));
  } catch (e) {
    if (e instanceof ContentToolMissingError) throw usage(`--content require: ${e.message}`);
    throw e;
  }
  if (flags.profile === "full" && !(onPath("ffmpeg") && onPath("ffprobe"))) {
    throw usage(`--profile full also edits a MOV with v2v, which needs ffmpeg: ${FFMPEG_MISSING}`);
  }
  let image: SmokeOptions["image"];
  if (flags.image) {
    if (!IMAGE_TYPES[extname(flags.image).toLowerCase()]) {
      throw usage(`--image must be a .png, .jpg, .jpeg or .webp file, got ${flags.image}`);
    }
    const data = await readFile(userPath(flags.image)).catch((e: Error) => {
      throw usage(`cannot read --image ${flags.image}: ${e.message}`);
    });
    image = { name: basename(flags.image), data, source: flags.image };
  }
  const outDir = userPath(flags.out);
  const options: SmokeOptions = {
    url: flags.url,
    token,
    ca,
    profile: flags.profile,
    outDir,
    prompt: flags.prompt,
    negative: flags.negative,
    image,
    timeoutMs: timeoutS * 1000,
    phaseTimeoutsMs: { ready: readyS * 1000 },
    content: flags.content,
    settings: flags.size ? parseSize(flags.size) : undefined,
    deployStartedAt: deployStart(flags.deployStartedAt ?? process.env.VACE_DEPLOY_STARTED_AT),
  };
  try {
    smokeParams(options);
  } catch (e) {
    if (e instanceof WorkflowParamsError) throw usage(e.message);
    throw e;
  }
  // Last, so a usage error above leaves no folders behind.
  await writableFolder("--out", outDir);
  const junit = flags.junit === undefined ? undefined : userPath(flags.junit);
  if (junit !== undefined) {
    if ((await stat(junit).catch(() => undefined))?.isDirectory()) {
      throw usage(`--junit ${flags.junit} is a folder: name the XML file to write`);
    }
    await writableFolder("--junit", dirname(junit));
  }
  return { options, outDir, junit };
}

const usage = (msg: string) => new CliError(ExitCode.usage, msg);

/** --deploy-started-at: ISO 8601 with a zone, or Unix seconds; never in the future. */
export function deployStart(value: string | undefined, now = Date.now()): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const isoWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
  const date = /^\d+(\.\d+)?$/.test(value)
    ? new Date(Number(value) * 1000)
    : isoWithZone.test(value)
      ? new Date(value)
      : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw usage(
      `--deploy-started-at ${JSON.stringify(value)} is not a time: use ISO 8601 with a zone (2026-01-02T03:04:05Z) or Unix seconds`,
    );
  }
  if (date.getTime() > now + 60_000) throw usage(`--deploy-started-at ${value} is in the future`);
  return date;
}

/** A positive number of seconds, or undefined when the flag was not given. */
function seconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0) {
    throw usage(`${flag} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  }
  return s;
}

/** Creates `dir` if needed and checks that files can be written in it. */
async function writableFolder(flag: string, dir: string): Promise<void> {
  try {
    await makeFolder(dir);
  } catch (e) {
    throw usage(`${flag}: ${(e as Error).message}`);
  }
  try {
    await access(dir, constants.W_OK);
  } catch (e) {
    throw usage(`${flag}: cannot write in the folder ${dir} (${(e as Error).message})`);
  }
}

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, "utf8").catch((e: Error) => {
    throw new CliError(ExitCode.usage, `cannot read ${flag} ${file}: ${e.message}`);
  });
}
