import { basename } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { acsBillingLines, manifestLines } from "../infra/acs/summary";
import { formatMinutes } from "../infra/common/duration";
import { ConfigError } from "../infra/config";
import { type RenderResult, renderStack } from "../infra/offline/render";
import { priceFor, worstCase } from "../ops/spend";
import { CliError, ExitCode } from "./errors";
import { userPath } from "./run";

/** Inputs too long for a table row; the JSON format carries them whole. */
const LONG_INPUTS = new Set(["userData", "policyDocument", "assumeRolePolicyDocument", "value"]);

const INSTANCE = "alicloud:ecs/instance:Instance";
const EIP = "alicloud:ecs/eipAddress:EipAddress";

/** A value whole, on one line: a reviewer must see every tag and name exactly as deployed. */
function cell(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? "(none)");
}

/**
 * The few lines a reviewer reads first: how many resources of each type, what bills and how,
 * and when the cloud ends it. Derived from the rendered inputs, so it cannot drift from them.
 */
export function formatSummary(r: RenderResult, stack: string, now = new Date()): string[] {
  const counts = new Map<string, number>();
  for (const res of r.resources) counts.set(res.type, (counts.get(res.type) ?? 0) + 1);
  const lines = [
    `SUMMARY  stack ${stack}, target ${r.target}`,
    `  ${r.resources.length} resources:`,
    ...[...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, n]) => `    ${String(n).padStart(2)}  ${type}`),
    "  bills while it exists:",
  ];
  // ACS: pods, cluster, NAT and load balancers, and what the ttl does there (infra/acs/summary.ts).
  if (r.target === "acs") return [...lines, ...acsBillingLines(r)];
  const vm = r.resources.find((x) => x.type === INSTANCE)?.inputs;
  if (vm) {
    const spot = vm.spotStrategy === "NoSpot" ? "" : `, spot (${cell(vm.spotStrategy)})`;
    lines.push(
      `    GPU instance ${cell(vm.instanceType)}: ${cell(vm.instanceChargeType)} (pay-as-you-go)${spot}, ` +
        "per second while running; once the idle watchdog stops it (StopCharging), its vCPU, memory and GPU stop billing",
      `    system disk ${cell(vm.systemDiskCategory)} ${cell(vm.systemDiskSize)} GiB: until released, also while stopped`,
    );
  }
  const eip = r.resources.find((x) => x.type === EIP)?.inputs;
  if (eip) {
    lines.push(
      `    EIP ${cell(eip.bandwidth)} Mbps peak, ${cell(eip.internetChargeType)}: per GB sent, ` +
        "plus a small hourly fee while allocated (also while stopped)",
    );
  }
  const price = r.outputs.hourlyPrice;
  lines.push(
    typeof price === "number"
      ? `    hourly price of the instance: ${price} (BSS lookup)`
      : "    hourly price: not looked up offline (set wan-vace:priceLookup: true for the hourlyPrice output at deploy)",
    "    everything else (VPC, security group, RAM, OOS secret parameter): free or negligible",
  );
  const release = vm?.autoReleaseTime;
  if (typeof release === "string") {
    const left = Date.parse(release) - now.getTime();
    lines.push(
      `  TTL: the cloud releases the instance at ${release}` +
        (Number.isFinite(left) && left > 0
          ? ` (in ${formatMinutes(Math.round(left / 60_000))}: wan-vace:ttl + 10 min)`
          : "") +
        "; each `pulumi up` moves it to that run's start + ttl + 10 min",
    );
    // The most this deploy can cost if nothing stops it early (ops/spend.ts prices).
    const region = r.resources.find((x) => x.type === "pulumi:providers:alicloud")?.inputs.region;
    const worst = worstCase(
      priceFor(cell(vm?.instanceType), cell(region), typeof price === "number" ? price : null),
      Math.max(0, left / 60_000),
    );
    if (Number.isFinite(left)) lines.push(`  ${worst.replace("ttl", "until release")}`);
  }
  return lines;
}

export interface TableOptions {
  stack: string;
  /** Leave out the decoded user-data (about 1,000 lines) and the Caddyfile. */
  short?: boolean;
  now?: Date;
}

export function formatTable(r: RenderResult, o: TableOptions): string {
  const lines = [...formatSummary(r, o.stack, o.now), "", "RESOURCES"];
  for (const res of r.resources) {
    lines.push(`  ${res.type}  ${res.name}`);
    for (const [k, v] of Object.entries(res.inputs)) {
      if (v === undefined || LONG_INPUTS.has(k)) continue;
      lines.push(`      ${k}: ${cell(v)}`);
    }
  }
  if (r.manifests !== undefined) lines.push(...manifestLines(r.manifests, o.short ?? false));
  lines.push("", "OUTPUTS");
  for (const [k, v] of Object.entries(r.outputs)) lines.push(`  ${k}: ${cell(v ?? "(none)")}`);
  if (r.userData !== undefined) {
    if (o.short) {
      const n = r.userData.split("\n").length;
      lines.push("", `USER-DATA: ${n} lines left out by --short`);
    } else {
      lines.push("", "USER-DATA (decoded)", r.userData);
    }
  }
  lines.push("", `GATEWAY (${r.gateway.image})`);
  for (const [k, v] of Object.entries(r.gateway.env)) lines.push(`  ${k}=${v}`);
  // The Caddyfile is the same for every stack; the env above is what varies.
  lines.push(
    "",
    o.short
      ? "CADDYFILE: left out by --short (the same for every stack)"
      : r.gateway.caddyfile.trimEnd(),
  );
  lines.push("", "PLACEHOLDERS", ...r.placeholders.map((p) => `  ${p}`));
  return `${lines.join("\n")}\n`;
}

/**
 * The JSON document (design.md contract 2). Every output is present: one without a value (hourlyPrice
 * without priceLookup) is null, where JSON.stringify would silently drop it.
 */
export function formatJson(r: RenderResult, short = false): string {
  const outputs = Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v ?? null]));
  const doc: RenderResult = { ...r, outputs };
  if (short) delete doc.userData;
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** `Pulumi.<stack>.yaml` → `<stack>`; undefined for any other file name. */
export function stackOfFile(file: string): string | undefined {
  return /^Pulumi\.(.+)\.ya?ml$/.exec(basename(file))?.[1];
}

/**
 * Which stack name a render uses. Resource names derive from it, so it must be the one the file
 * will be deployed as: a `Pulumi.<stack>.yaml` names its own; `--stack` names any other file's.
 * Returns the name and, with --config, a line saying where it came from.
 */
export function chooseStack(
  stack: { value: string; given: boolean },
  config: string | undefined,
): { stack: string; note?: string } {
  if (config === undefined) return { stack: stack.value };
  const fromFile = stackOfFile(config);
  if (fromFile !== undefined) {
    if (stack.given && stack.value !== fromFile) {
      throw new CliError(
        ExitCode.usage,
        `--stack ${stack.value} and --config ${config} name different stacks ("${fromFile}" from the file name): drop one`,
      );
    }
    return {
      stack: fromFile,
      note: `rendering ${config} as stack "${fromFile}" (from its file name)`,
    };
  }
  return {
    stack: stack.value,
    note: stack.given
      ? `rendering ${config} as stack "${stack.value}" (--stack)`
      : `rendering ${config} as stack "${stack.value}", the default: resource names derive from it, so pass --stack with the name it will be deployed as`,
  };
}

export function registerRender(program: Command): void {
  program
    .command("render")
    .description(
      "show what `pulumi up` would create, offline, without credentials (secrets print as [secret])",
    )
    .option(
      "--stack <name>",
      "the stack: renders its Pulumi.<name>.yaml, and resource names derive from it",
      "dev",
    )
    .option(
      "--config <file>",
      "a YAML file shaped like Pulumi.<stack>.yaml, instead of the stack file; a file named Pulumi.<stack>.yaml sets the stack too",
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["json", "table"]).default("table"),
    )
    .option(
      "--short",
      "leave out the decoded user-data (about 1,000 lines) and, in the table, the gateway's Caddyfile",
    )
    .action(
      async (
        opts: { stack: string; config?: string; format: "json" | "table"; short?: boolean },
        cmd: Command,
      ) => {
        const { stack, note } = chooseStack(
          { value: opts.stack, given: cmd.getOptionValueSource("stack") !== "default" },
          opts.config,
        );
        if (note) process.stderr.write(`vace: ${note}\n`);
        let result: RenderResult;
        try {
          result = await renderStack({
            stack,
            root: process.cwd(),
            ...(opts.config !== undefined && { configFile: userPath(opts.config) }),
          });
        } catch (e) {
          if (e instanceof ConfigError) throw new CliError(ExitCode.usage, e.message);
          throw e;
        }
        // Config warnings reach stderr from the program itself (pulumi.log.warn), as in `pulumi up`.
        process.stdout.write(
          opts.format === "json"
            ? formatJson(result, opts.short)
            : formatTable(result, { stack, short: opts.short }),
        );
      },
    );
}
