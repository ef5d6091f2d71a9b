/**
 * `vace up / status / down / e2e / reap` (design.md contract 7): thin wiring from flags to ops/.
 * Exit codes: 0 ok; 1 the smoke failed (torn down); 2 usage or no `pulumi` CLI; 4 deploy failed;
 * 5 teardown failed or the cloud still holds resources tagged with the stack (each named).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { ConfigError, type WanVaceConfig } from "../infra/config";
import { ossBackendProblems, ossBackendUrl } from "../ops/backend";
import { instanceCreatedAt, listTagged, taggedWithStack } from "../ops/cloud/inventory";
import { credentialsFromEnv, RpcClient, type Service } from "../ops/cloud/rpc";
import { runE2e, type SmokeOutcome } from "../ops/e2e";
import { e2eReport, renderE2eJUnit } from "../ops/e2e-report";
import { LifecycleError, LifecycleExit } from "../ops/errors";
import {
  findOnPath,
  listStacks,
  type OpenOptions,
  type Outputs,
  requirePulumi,
  StackDriver,
} from "../ops/pulumi/driver";
import { reap } from "../ops/reap";
import { DOUBLE_NOTICE, startRehearsal } from "../ops/rehearse";
import { formatSpendMarkdown, formatSpendTable, priceFor, worstCase } from "../ops/spend";
import { stackConfig as loadStackConfig } from "../ops/stack-config";
import { formatStatus, type OutsideColdStart, outsideFrom, statusRows } from "../ops/status";
import { firstLine, teardown } from "../ops/teardown";
import { readInstanceTimeline } from "../smoke/cold-start";
import { runProfile } from "../smoke/full";
import { PROFILE_NAMES, type ProfileName } from "../smoke/profiles";
import type { ContentMode } from "../smoke/verify";
import { CliError, type ExitCode } from "./errors";
import { userPath } from "./run";
import { planSmoke, redact, writeReports } from "./smoke";

export const say = (line: string) => process.stdout.write(`${line}\n`);

/** Whether an executable named `bin` is on PATH. */
const onPath = async (bin: string) => (await findOnPath(bin)) !== undefined;
export const driverOptions = () => ({
  workDir: process.cwd(),
  write: (chunk: string) => process.stdout.write(chunk),
});

/**
 * Opens (or creates) a stack; a backend that refuses (a wrong passphrase, no access to the state
 * bucket) ends the command with `code`: nothing was deployed (4), or nothing could be torn down (5).
 */
async function openStack(
  name: string,
  code: LifecycleExit,
  open?: OpenOptions,
): Promise<StackDriver> {
  try {
    return await StackDriver.open(name, driverOptions(), open);
  } catch (e) {
    if (e instanceof LifecycleError) throw e;
    throw new LifecycleError(code, `cannot open stack ${name}: ${firstLine(e)}`);
  }
}

/** Turns ops/ and config failures into the CLI's errors, keeping their exit codes. */
export async function guarded(work: () => Promise<number>): Promise<void> {
  try {
    const code = await work();
    if (code !== 0) process.exitCode = code;
  } catch (e) {
    if (e instanceof LifecycleError) throw new CliError(e.exitCode as ExitCode, e.message);
    if (e instanceof ConfigError) throw new CliError(LifecycleExit.usage, e.message);
    throw e;
  }
}

/** The stack's validated config (ops/stack-config.ts), from the project folder. */
const stackConfig = (stack: string, configFile?: string) =>
  loadStackConfig({ root: process.cwd(), stack, configFile });

/**
 * A cloud API client for a region, from ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET. WAN_VACE_ALIYUN_URL
 * points every service at one base URL (`<url>/<service>`): tests use it for the loopback fake.
 */
export function cloudClient(region: string): { client?: RpcClient; why?: string } {
  const credentials = credentialsFromEnv();
  if (!credentials) {
    return {
      why: "no cloud credentials (set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)",
    };
  }
  const base = process.env.WAN_VACE_ALIYUN_URL;
  return {
    client: new RpcClient({
      credentials,
      region,
      ...(base && { endpoint: (s: Service) => `${base.replace(/\/$/, "")}/${s}` }),
      retryDelayMs: Number(process.env.WAN_VACE_ALIYUN_RETRY_MS ?? 1000),
      onRetry: (e, n) => say(`cloud API: ${e.message} (retry ${n})`),
    }),
  };
}

/** SIGINT/SIGTERM → one abort; later signals only say that teardown is under way. */
export function interrupts(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      say(`${sig}: teardown is under way; waiting for it to finish`);
      return;
    }
    say(`${sig}: cancelling the running operation, then tearing down`);
    controller.abort();
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    signal: controller.signal,
    release: () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}

interface SmokeRun {
  profile: ProfileName;
  content: ContentMode;
  outDir: string;
  /** When `pulumi up` started: report.json's coldStart measures from it (docs/cold-start.md). */
  deployStartedAt?: Date;
}

/** `vace status --report FILE`: what that run measured from outside; a usage error otherwise. */
async function readOutside(file: string): Promise<OutsideColdStart> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new CliError(LifecycleExit.usage, `--report ${file}: ${firstLine(e)}`);
  }
  try {
    return outsideFrom(file, text);
  } catch (e) {
    throw new CliError(LifecycleExit.usage, `--report ${(e as Error).message}`);
  }
}

/** Runs the smoke against a deployed stack's outputs (url, token, pinned certificate). */
async function smokeStack(outputs: Outputs, run: SmokeRun): Promise<SmokeOutcome> {
  const token = typeof outputs.token === "string" ? outputs.token : undefined;
  const url = String(outputs.url ?? "");
  await mkdir(run.outDir, { recursive: true });
  let ca: string | undefined;
  if (typeof outputs.caCertificate === "string" && outputs.caCertificate) {
    ca = join(run.outDir, "endpoint-ca.pem");
    await writeFile(ca, outputs.caCertificate);
  }
  const plan = await planSmoke(
    {
      url,
      profile: run.profile,
      out: run.outDir,
      junit: join(run.outDir, "smoke-junit.xml"),
      ca,
      content: run.content,
      deployStartedAt: run.deployStartedAt?.toISOString(),
    },
    token,
  );
  // The profile's runs, as `vace smoke` makes them (full adds the v2v edit).
  const report = await runProfile({ ...plan.options, log: (l) => say(redact(l, token)) });
  for (const w of await writeReports(report, plan, token)) say(`warning: ${w}`);
  return {
    ok: !report.error,
    summary: report.error
      ? redact(`${report.error.phase}: ${report.error.message}`, token)
      : `verified ${report.video?.file}`,
    report,
    egressBytes: report.video?.bytes,
  };
}

function printDeployed(outputs: Outputs, config: WanVaceConfig): void {
  const price = priceFor(
    typeof outputs.instanceType === "string" ? outputs.instanceType : undefined,
    config.region,
    typeof outputs.hourlyPrice === "number" ? outputs.hourlyPrice : null,
  );
  const expires = typeof outputs.expiresAt === "string" ? outputs.expiresAt : "unknown";
  const left = Date.parse(expires) - Date.now();
  say(`url:            ${outputs.url}`);
  say(
    `expires:        ${expires}${Number.isFinite(left) ? ` (${Math.round(left / 60_000)} min left)` : ""}`,
  );
  say(`instance type:  ${outputs.instanceType}`);
  say(
    `price per hour: ${price.pricePerHour === null ? "unknown" : `${price.pricePerHour} ${price.currency}`} (${price.priceSource})`,
  );
  say("token:          pulumi stack output token --show-secrets   (never printed here)");
}

const profileOption = () =>
  new Option(
    "--profile <name>",
    "smoke profile: ci (cheapest 480P H.264 proof) or full (the seed's settings, then a v2v edit of a MOV at 832x480)",
  )
    .choices(PROFILE_NAMES)
    .default("ci");
const contentOption = () =>
  new Option("--content <mode>", "smoke content checks: auto, require, skip")
    .choices(["auto", "require", "skip"])
    .default("auto");

export function registerLifecycle(program: Command): void {
  program
    .command("up")
    .description(
      "create the stack when missing (from --config or the example), deploy, and print URL, expiry, type and price",
    )
    .requiredOption("--stack <name>", "the stack (environment) to deploy")
    .option("--config <file>", "a YAML file shaped like Pulumi.<stack>.yaml for a new stack")
    .option("--smoke", "run the smoke against the endpoint after deploying")
    .addOption(profileOption())
    .addOption(contentOption())
    .option("--out <dir>", "where the smoke's report and video go", "out/up")
    .action(
      (o: {
        stack: string;
        config?: string;
        smoke?: boolean;
        profile: ProfileName;
        content: ContentMode;
        out: string;
      }) =>
        guarded(async () => {
          const { config, configFile } = await configForCommand(o.stack, o.config);
          say(worstCase(priceFor(config.instanceTypes[0], config.region), config.ttlMinutes));
          const stack = await openStack(o.stack, LifecycleExit.deployFailed, {
            create: true,
            configFile,
          });
          const { signal, release } = interrupts();
          let outputs: Outputs;
          const deployStartedAt = new Date();
          try {
            outputs = await stack.up(signal);
          } catch (e) {
            throw new LifecycleError(
              LifecycleExit.deployFailed,
              `deploy of ${o.stack} failed; what was created stays in the stack: fix and rerun, or remove it with: vace down --stack ${o.stack}\n${(e as Error).message.split("\n").slice(-5).join("\n")}`,
            );
          } finally {
            release();
          }
          printDeployed(outputs, config);
          if (!o.smoke) return LifecycleExit.ok;
          const s = await smokeStack(outputs, {
            profile: o.profile,
            content: o.content,
            outDir: userPath(o.out),
            deployStartedAt,
          });
          say(`smoke ${s.ok ? "passed" : "FAILED"}: ${s.summary}`);
          return s.ok ? LifecycleExit.ok : LifecycleExit.smokeFailed;
        }),
    );

  program
    .command("status")
    .description(
      "per stack: target, state, expiry and time left, URL, type, price per hour, spend so far",
    )
    .option("--stack <name>", "one stack")
    .option("--all", "every stack in the backend")
    .option(
      "--report <file>",
      "with --stack: also show what this smoke or e2e report.json measured from outside",
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["table", "json"]).default("table"),
    )
    .action((o: { stack?: string; all?: boolean; report?: string; format: "table" | "json" }) =>
      guarded(async () => {
        if (!o.stack === !o.all)
          throw new CliError(LifecycleExit.usage, "give --stack NAME or --all");
        if (o.report !== undefined && !o.stack)
          throw new CliError(
            LifecycleExit.usage,
            "--report goes with --stack: it is one stack's run",
          );
        const outside = o.report === undefined ? undefined : await readOutside(userPath(o.report));
        const names = o.all ? await listStacks(driverOptions()) : [o.stack as string];
        const rows = await statusRows(names, {
          outside,
          bootTimeline: (outputs) =>
            readInstanceTimeline({
              url: String(outputs.url),
              token: String(outputs.token ?? ""),
              ca: typeof outputs.caCertificate === "string" ? outputs.caCertificate : undefined,
            }),
          open: (n) => StackDriver.open(n, { ...driverOptions(), write: () => {} }),
          region: (n) => {
            try {
              return stackConfig(n).region;
            } catch {
              return undefined;
            }
          },
          cloud: cloudClient,
        });
        process.stdout.write(
          o.format === "json" ? `${JSON.stringify(rows, null, 2)}\n` : formatStatus(rows),
        );
        return LifecycleExit.ok;
      }),
    );

  program
    .command("down")
    .description(
      "destroy the stack, verify nothing is left (state and a cloud query by its tags), remove it",
    )
    .requiredOption("--stack <name>", "the stack to destroy")
    .action((o: { stack: string }) =>
      guarded(async () => {
        await requirePulumi();
        const region = teardownRegion(o.stack);
        const { client, why } = cloudClient(region);
        const names = await listStacks(driverOptions());
        if (!names.includes(o.stack)) {
          // Nothing in the backend (already torn down, or state lost): the cloud must agree.
          const left = client ? await listTagged(client, { stack: o.stack }) : undefined;
          if (left === undefined)
            throw new LifecycleError(
              LifecycleExit.teardownFailed,
              `no stack ${o.stack} in the backend, and ${why}: cannot check the cloud`,
            );
          if (left.length === 0) {
            say(
              `no stack ${o.stack} in the backend and nothing tagged with it in ${region}: nothing to do`,
            );
            return LifecycleExit.ok;
          }
          throw new LifecycleError(
            LifecycleExit.teardownFailed,
            `no stack ${o.stack} in the backend, but the cloud still holds (vace reap deletes them once expired):\n${left.map((r) => `  ${r.kind} ${r.id}`).join("\n")}`,
          );
        }
        const stack = await openStack(o.stack, LifecycleExit.teardownFailed);
        // The state knows the stack's region even where its config file is missing (a new runner).
        const stateRegion = await stack.region();
        const cloud =
          stateRegion && stateRegion !== region ? cloudClient(stateRegion) : { client, why };
        const t = await teardown(stack, {
          cloud: cloud.client && taggedWithStack(cloud.client, o.stack),
          cloudUnavailable: cloud.why,
          log: say,
        });
        return t.ok ? LifecycleExit.ok : LifecycleExit.teardownFailed;
      }),
    );

  program
    .command("e2e")
    .description(
      "up → smoke → destroy (destroy always runs; SIGINT/SIGTERM cancel, then destroy), then prove nothing is left",
    )
    .requiredOption("--stack <name>", "a throw-away stack name, e.g. ci-$GITHUB_RUN_ID")
    .option("--config <file>", "a YAML file shaped like Pulumi.<stack>.yaml for the new stack")
    .addOption(profileOption())
    .addOption(contentOption())
    .option("--keep", "keep the stack after the smoke (destroy later with vace down)")
    .option("--out <dir>", "report.json, junit.xml, the video and spend.json go here", "out/e2e")
    .action(
      (o: {
        stack: string;
        config?: string;
        profile: ProfileName;
        content: ContentMode;
        keep?: boolean;
        out: string;
      }) =>
        guarded(async () => {
          const { config, configFile } = await configForCommand(o.stack, o.config);
          const outDir = userPath(o.out);
          await mkdir(outDir, { recursive: true });
          say(worstCase(priceFor(config.instanceTypes[0], config.region), config.ttlMinutes));
          const { client, why } = cloudClient(config.region);
          const stack = await openStack(o.stack, LifecycleExit.deployFailed, {
            create: true,
            configFile,
          });
          const { signal, release } = interrupts();
          const deployStartedAt = new Date();
          try {
            const result = await runE2e({
              stack,
              target: config.target,
              region: config.region,
              smoke: (outputs) =>
                smokeStack(outputs, {
                  profile: o.profile,
                  content: o.content,
                  outDir,
                  deployStartedAt,
                }),
              cloud: client && taggedWithStack(client, o.stack),
              cloudUnavailable: why,
              instanceCreatedAt: client && (() => instanceCreatedAt(client, o.stack)),
              keep: o.keep ?? false,
              signal,
              log: say,
            });
            await writeFile(
              join(outDir, "report.json"),
              `${JSON.stringify(e2eReport(result), null, 2)}\n`,
            );
            await writeFile(join(outDir, "junit.xml"), renderE2eJUnit(result));
            await writeFile(
              join(outDir, "spend.json"),
              `${JSON.stringify(result.spend, null, 2)}\n`,
            );
            process.stdout.write(formatSpendTable(result.spend));
            const summary = process.env.GITHUB_STEP_SUMMARY;
            if (summary) await writeFile(summary, formatSpendMarkdown(result.spend), { flag: "a" });
            say(`e2e ${o.stack}: exit ${result.exitCode}; reports in ${outDir}`);
            // An interrupted smoke may still be waiting on the (now destroyed) endpoint: once
            // teardown is done, nothing else is worth waiting for. unref: a clean run exits first.
            if (result.interrupted) setTimeout(() => process.exit(result.exitCode), 1000).unref();
            return result.exitCode;
          } finally {
            release();
          }
        }),
    );

  program
    .command("rehearse")
    .description(
      "run the smoke through the real gateway against the ComfyUI protocol DOUBLE on loopback: the client path and CI wiring without a cloud or GPU",
    )
    .addOption(profileOption())
    .addOption(contentOption())
    .option("--out <dir>", "where report.json and the video go", "out/rehearse")
    .action((o: { profile: ProfileName; content: ContentMode; out: string }) =>
      guarded(async () => {
        for (const bin of ["caddy", "ffmpeg"]) {
          if (!(await onPath(bin))) {
            throw new CliError(
              LifecycleExit.usage,
              `vace rehearse needs ${bin} (the real gateway is Caddy; the double renders its video with ffmpeg): sudo apt-get install -y ${bin}`,
            );
          }
        }
        for (const line of DOUBLE_NOTICE) say(line);
        const r = await startRehearsal();
        try {
          say(`gateway ${r.url} (Caddy, TLS internal CA pinned) → ComfyUI protocol double`);
          const s = await smokeStack(
            { url: r.url, token: r.token, caCertificate: r.ca },
            { profile: o.profile, content: o.content, outDir: userPath(o.out) },
          );
          say(`rehearsal smoke ${s.ok ? "passed" : "FAILED"} against the DOUBLE: ${s.summary}`);
          say(
            "a real deploy differs in: the GPU, the models, ComfyUI itself, the cloud (vace e2e covers them)",
          );
          return s.ok ? LifecycleExit.ok : ((s.report as { exitCode?: number })?.exitCode ?? 1);
        } finally {
          await r.stop();
        }
      }),
    );

  program
    .command("backend")
    .description("print the PULUMI_BACKEND_URL for state on Alibaba OSS (S3-compatible), for CI")
    .argument("<kind>", "oss (the only kind)")
    .requiredOption("--bucket <name>", "the OSS bucket holding the state")
    .requiredOption("--region <id>", "the bucket's region, e.g. ap-southeast-1")
    .option("--prefix <path>", "a folder inside the bucket, e.g. wan-vace/ci")
    .option("--internal", "the VPC-internal endpoint (runners inside the region)")
    .action(
      (kind: string, o: { bucket: string; region: string; prefix?: string; internal?: boolean }) =>
        guarded(async () => {
          if (kind !== "oss")
            throw new CliError(
              LifecycleExit.usage,
              `unknown backend kind ${JSON.stringify(kind)}; use: oss`,
            );
          const problems = ossBackendProblems(o);
          if (problems.length) throw new CliError(LifecycleExit.usage, problems.join("\n"));
          say(ossBackendUrl(o));
          process.stderr.write(
            "vace: export it as PULUMI_BACKEND_URL, with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set to a RAM AccessKey that may use the bucket\n",
          );
          return LifecycleExit.ok;
        }),
    );

  program
    .command("reap")
    .description(
      "destroy expired stacks, and delete expired wan-vace-tagged cloud resources no stack owns",
    )
    .option("--dry-run", "list what would be destroyed or deleted; change nothing")
    .option(
      "--region <id...>",
      "regions to sweep (default: $ALIBABA_CLOUD_REGION or ap-southeast-1)",
    )
    .action((o: { dryRun?: boolean; region?: string[] }) =>
      guarded(async () => {
        await requirePulumi();
        const regions = o.region ?? [process.env.ALIBABA_CLOUD_REGION ?? "ap-southeast-1"];
        const clients = regions.map((r) => cloudClient(r));
        const missing = clients.find((c) => !c.client);
        if (missing)
          throw new CliError(LifecycleExit.usage, `vace reap needs the cloud: ${missing.why}`);
        const r = await reap({
          stacks: {
            names: () => listStacks(driverOptions()),
            open: (n) => StackDriver.open(n, driverOptions()),
          },
          clients: clients.map((c) => c.client as RpcClient),
          clientFor: (region) => cloudClient(region).client,
          dryRun: o.dryRun ?? false,
          log: say,
        });
        for (const k of r.kept) say(`kept: ${k}`);
        for (const d of r.deleted) say(`deleted: ${d}`);
        for (const s of r.destroyedStacks) say(`destroyed stack: ${s}`);
        for (const f of r.failed) say(`FAILED: ${f}`);
        return r.failed.length ? LifecycleExit.teardownFailed : LifecycleExit.ok;
      }),
    );
}

/**
 * A teardown never stops at a config that no longer validates (a stale key, say): the region then
 * comes from the stack's state (where `down` prefers it anyway), else the environment.
 */
function teardownRegion(stack: string): string {
  try {
    return stackConfig(stack).region;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const fallback = process.env.ALIBABA_CLOUD_REGION ?? "ap-southeast-1";
    say(
      `the config of ${stack} does not validate (${e.issues.map((i) => `${i.key}: ${i.message}`).join("; ")}); destroying anyway, in the region its state names, else ${fallback}`,
    );
    return fallback;
  }
}

/** The stack's validated config (from --config, resolved where the user ran npm), once the pulumi CLI is known to exist. */
export async function configForCommand(stack: string, config: string | undefined) {
  const configFile = config === undefined ? undefined : userPath(config);
  const validated = stackConfig(stack, configFile);
  await requirePulumi();
  return { config: validated, configFile };
}
