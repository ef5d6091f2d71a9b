#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { CliError, ExitCode } from "./errors";
import { registerModels } from "./models";
import { registerRender } from "./render";
import { registerSmoke } from "./smoke";
import { registerVerify } from "./verify";

/** A fresh command tree per run: commander keeps parsed state on the objects. */
export function buildProgram(): Command {
  const program = new Command("vace")
    .description("wan-vace: deploy, render, smoke-test and verify a Wan2.1-VACE ComfyUI endpoint")
    .showHelpAfterError()
    // Commander exits 1 on usage errors; our contracts reserve 1 for failed checks, so usage is 2.
    .exitOverride();
  registerModels(program);
  registerRender(program);
  registerSmoke(program);
  registerVerify(program);
  return program;
}

/**
 * Removes the endpoint token (from VACE_TOKEN or --token) from text we did not write ourselves,
 * such as a library's stack trace, before it reaches a CI log.
 */
export function redactToken(text: string, argv: readonly string[]): string {
  const i = argv.findIndex((a) => a === "--token" || a.startsWith("--token="));
  const fromArgs =
    i < 0 ? undefined : argv[i]?.startsWith("--token=") ? argv[i]?.slice(8) : argv[i + 1];
  return [process.env.VACE_TOKEN, fromArgs]
    .filter((t): t is string => typeof t === "string" && t.length >= 8)
    .reduce((out, t) => out.split(t).join("[redacted]"), text);
}

/** Runs the CLI and returns its exit code (never calls process.exit, so tests can run it in-process). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here too, with exit code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`vace: ${err.message}\n`);
      return err.exitCode;
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`vace: unexpected error: ${redactToken(detail, argv)}\n`);
    return ExitCode.failed;
  }
}

// Run only when executed directly (`npm run vace`), not when a test imports the module.
if (require.main === module) {
  runCli(process.argv).then((code) => {
    process.exitCode = code;
  });
}
