import { ExitCode } from "../infra/common/exit-codes";

// The codes live beside the contracts (smoke/ and ops/ use them too); the CLI re-exports them.
export { ExitCode };

/** An error that ends the command with a specific exit code and a message for a person. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}
