import type { Command } from "commander";
import { Option } from "commander";
import { ConfigError } from "../infra/config";
import { type RenderResult, renderStack } from "../infra/offline/render";
import { CliError, ExitCode } from "./errors";

/** Inputs too long for a table cell; the JSON format carries them whole. */
const LONG_INPUTS = new Set(["userData", "policyDocument", "assumeRolePolicyDocument", "value"]);

function cell(v: unknown): string {
  const s = typeof v === "string" ? v : (JSON.stringify(v) ?? "(none)");
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
}

export function formatTable(r: RenderResult): string {
  const lines = [`target: ${r.target}`, "", "RESOURCES"];
  for (const res of r.resources) {
    lines.push(`  ${res.type}  ${res.name}`);
    for (const [k, v] of Object.entries(res.inputs)) {
      if (v === undefined || LONG_INPUTS.has(k)) continue;
      lines.push(`      ${k}: ${cell(v)}`);
    }
  }
  lines.push("", "OUTPUTS");
  for (const [k, v] of Object.entries(r.outputs)) lines.push(`  ${k}: ${cell(v)}`);
  if (r.userData !== undefined) lines.push("", "USER-DATA (decoded)", r.userData);
  lines.push("", `GATEWAY (${r.gateway.image})`);
  for (const [k, v] of Object.entries(r.gateway.env)) lines.push(`  ${k}=${v}`);
  lines.push("", r.gateway.caddyfile, "PLACEHOLDERS", ...r.placeholders.map((p) => `  ${p}`));
  return `${lines.join("\n")}\n`;
}

export function registerRender(program: Command): void {
  program
    .command("render")
    .description(
      "show what `pulumi up` would create, offline, without credentials (secrets print as [secret])",
    )
    .option("--stack <name>", "stack whose Pulumi.<name>.yaml to render", "dev")
    .option(
      "--config <file>",
      "a YAML file shaped like Pulumi.<stack>.yaml, instead of the stack file",
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["json", "table"]).default("table"),
    )
    .action(async (opts: { stack: string; config?: string; format: "json" | "table" }) => {
      let result: RenderResult;
      try {
        result = await renderStack({
          stack: opts.stack,
          root: process.cwd(),
          ...(opts.config !== undefined && { configFile: opts.config }),
        });
      } catch (e) {
        if (e instanceof ConfigError) throw new CliError(ExitCode.usage, e.message);
        throw e;
      }
      // Config warnings reach stderr from the program itself (pulumi.log.warn), as in `pulumi up`.
      process.stdout.write(
        opts.format === "json" ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result),
      );
    });
}
