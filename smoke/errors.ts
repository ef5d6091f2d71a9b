/**
 * How a smoke run fails. Every failure names its phase and one of five kinds; the kind alone decides
 * the exit code (design.md contract 4), so the CLI never has to guess from a message.
 */
import { ExitCode } from "../cli/errors";

/** The phases of a run, in order; `report.json` times each one. */
export const PHASES = [
  "ready",
  "preflight",
  "upload",
  "queueWait",
  "execution",
  "download",
  "verify",
] as const;
export type Phase = (typeof PHASES)[number];

export type FailureKind =
  /** The gateway refused the token (401/403). */
  | "auth"
  /** The server could not be reached. */
  | "unreachable"
  /** A phase ran past its deadline. */
  | "timeout"
  /** The server ran, but something it did or produced is wrong (missing node, bad video, 400 …). */
  | "check"
  /** ComfyUI reported execution_error or execution_interrupted. */
  | "execution";

export class SmokeError extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
    this.name = "SmokeError";
  }
}

export function exitCodeFor(kind: FailureKind): ExitCode {
  switch (kind) {
    case "auth":
      return ExitCode.auth;
    case "unreachable":
    case "timeout":
      return ExitCode.unreachable;
    case "check":
    case "execution":
      return ExitCode.failed;
  }
}
