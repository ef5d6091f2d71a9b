/**
 * Exit codes shared by every `vace` subcommand. Each subcommand documents which it uses
 * (design.md contracts 2–5); the numbers never change meaning between subcommands.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  unreachable: 4,
  /** Lifecycle (contract 7): teardown failed, or the cloud still holds the stack's resources. */
  teardown: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

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
