/**
 * Exit codes shared by every `vace` subcommand (design.md contracts 2–7). They belong to the
 * contracts, not to the CLI, so smoke/ and ops/ take them from here and cli/ re-exports them;
 * each subcommand documents which it uses, and a number never changes meaning between them.
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
