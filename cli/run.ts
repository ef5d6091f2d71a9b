/**
 * How every `vace` entry runs a command tree: the full CLI (cli/index.ts) and the models-only one
 * the image build uses (cli/models/main.ts). Kept free of heavy imports for that reason.
 */
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { CliError, ExitCode } from "./errors";

/**
 * The folder the user ran the command in. `npm run` moves to the package root and records the
 * caller's folder in INIT_CWD; only trust it when npm is running our own script, since any other
 * npm script (a test run, say) passes its INIT_CWD down to the processes it starts.
 */
export function userDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_lifecycle_event === "vace" && env.INIT_CWD ? env.INIT_CWD : process.cwd();
}

/** A path the user typed (a flag or argument), made absolute against the folder they ran in. */
export function userPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(userDir(env), path);
}

/** A root command with our conventions: help after errors, and no process.exit from commander. */
export function newProgram(description: string): Command {
  return (
    new Command("vace")
      .description(description)
      .showHelpAfterError()
      // Commander exits 1 on usage errors; our contracts reserve 1 for failed checks, so usage is 2.
      .exitOverride()
  );
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

/** Runs a command tree and returns its exit code (never calls process.exit, so tests run it in-process). */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
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

/** Runs `build()`'s tree on process.argv when `entry` is the main module. */
export function runIfMain(entry: NodeJS.Module, build: () => Command): void {
  if (require.main === entry) {
    runProgram(build(), process.argv).then((code) => {
      process.exitCode = code;
    });
  }
}
