/**
 * A `vace` with only the `models` command, for the image's models stage. That stage copies just
 * this, the fetcher and docker/models.json, and points the `vace` npm script here, so contract 5's
 * exact command runs there while an edit anywhere else in the repository (infra, smoke, the rest of
 * the CLI) leaves the 11 GB download layer cached. cli/index.ts would pull all of those in.
 * Exit codes are cli/index.ts's: usage errors 2, a CliError its own code, anything else 1.
 */
import { Command } from "commander";
import { CliError, ExitCode } from "../errors";
import { registerModels } from "../models";

const program = new Command("vace")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? ExitCode.ok : ExitCode.usage));
registerModels(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  const known = err instanceof CliError;
  const text = err instanceof Error ? (known ? err.message : (err.stack ?? err.message)) : err;
  process.stderr.write(`vace: ${String(text)}\n`);
  process.exitCode = known ? err.exitCode : ExitCode.failed;
});
