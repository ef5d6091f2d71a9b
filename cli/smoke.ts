/**
 * `vace smoke` (design.md contract 4): submit the VACE workflow through the gateway and prove the
 * deployment returns the promised 480P H.264 MP4. Exit codes: 0 verified, 1 a check failed or the run
 * errored, 2 usage, 3 token rejected, 4 unreachable or timed out.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { describeCosts, PROFILE_NAMES, type ProfileName } from "../smoke/profiles";
import { renderJUnit } from "../smoke/report";
import { IMAGE_TYPES, runSmoke, type SmokeOptions, smokeParams } from "../smoke/run";
import { WorkflowParamsError } from "../smoke/workflow";
import { CliError, ExitCode } from "./errors";

/** Default overall limits: a first run on a fresh instance also loads ~11 GB of models. */
const DEFAULT_TIMEOUT_S: Record<ProfileName, number> = { ci: 1200, full: 3600 };

interface SmokeFlags {
  url: string;
  token?: string;
  profile: ProfileName;
  out: string;
  junit?: string;
  ca?: string;
  timeout?: string;
  prompt?: string;
  negative?: string;
  image?: string;
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
    .option("--out <dir>", "where report.json and the video go", "out/smoke")
    .option("--junit <file>", "also write a JUnit XML report here")
    .option(
      "--ca <file>",
      "PEM certificate to trust for the gateway (pins its self-signed certificate)",
    )
    .option(
      "--timeout <seconds>",
      `overall limit (default ${DEFAULT_TIMEOUT_S.ci} for ci, ${DEFAULT_TIMEOUT_S.full} for full)`,
    )
    .option("--prompt <text>", "the prompt (UTF-8, any language)")
    .option("--negative <text>", "the negative prompt (unused at cfg 1)")
    .option("--image <file>", "reference image (PNG/JPEG/WebP); by default one is generated")
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
  const options = await parseFlags(flags, token);
  for (const line of describeCosts()) say(line);
  say(`smoke ${flags.profile} against ${options.url.replace(/\?.*$/, "")}`);
  const report = await runSmoke({ ...options, log: say });
  const out = resolve(flags.out);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "report.json"), `${redact(JSON.stringify(report, null, 2), token)}\n`);
  if (flags.junit) await writeFile(flags.junit, redact(renderJUnit(report), token));
  if (report.error) {
    throw new CliError(
      report.exitCode as ExitCode,
      redact(
        `smoke failed in ${report.error.phase}: ${report.error.message}\n(report: ${join(out, "report.json")})`,
        token,
      ),
    );
  }
  say(`smoke passed: ${report.video?.file} verified; report ${join(out, "report.json")}`);
  return ExitCode.ok;
}

/** Checks every flag before any traffic; every problem is a usage error (exit 2) naming the flag. */
async function parseFlags(flags: SmokeFlags, token: string | undefined): Promise<SmokeOptions> {
  const usage = (msg: string) => new CliError(ExitCode.usage, msg);
  if (!token) throw usage("no token: set VACE_TOKEN (preferred) or pass --token");
  try {
    const u = new URL(flags.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw usage(`--url must be an http:// or https:// URL, got ${JSON.stringify(flags.url)}`);
  }
  let timeoutS = DEFAULT_TIMEOUT_S[flags.profile];
  if (flags.timeout !== undefined) {
    timeoutS = Number(flags.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
      throw usage(
        `--timeout must be a positive number of seconds, got ${JSON.stringify(flags.timeout)}`,
      );
    }
  }
  const ca = flags.ca ? await readText(flags.ca, "--ca") : undefined;
  if (ca !== undefined && !ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw usage(`--ca ${flags.ca} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  let image: SmokeOptions["image"];
  if (flags.image) {
    if (!IMAGE_TYPES[extname(flags.image).toLowerCase()]) {
      throw usage(`--image must be a .png, .jpg, .jpeg or .webp file, got ${flags.image}`);
    }
    const data = await readFile(flags.image).catch((e: Error) => {
      throw usage(`cannot read --image ${flags.image}: ${e.message}`);
    });
    image = { name: basename(flags.image), data, source: flags.image };
  }
  const options: SmokeOptions = {
    url: flags.url,
    token,
    ca,
    profile: flags.profile,
    outDir: resolve(flags.out),
    prompt: flags.prompt,
    negative: flags.negative,
    image,
    timeoutMs: timeoutS * 1000,
  };
  try {
    smokeParams(options);
  } catch (e) {
    if (e instanceof WorkflowParamsError) throw usage(e.message);
    throw e;
  }
  return options;
}

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, "utf8").catch((e: Error) => {
    throw new CliError(ExitCode.usage, `cannot read ${flag} ${file}: ${e.message}`);
  });
}
