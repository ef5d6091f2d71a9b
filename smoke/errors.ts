/**
 * How a smoke run fails. Every failure names its phase and one of five kinds; the kind alone decides
 * the exit code (design.md contract 4), so the CLI never has to guess from a message.
 */
import { ExitCode } from "../infra/common/exit-codes";

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
  | "execution"
  /** The smoke itself failed unexpectedly (a bug): recorded so report.json is still written. */
  | "internal";

export interface SmokeErrorDetail {
  /** The HTTP status, when the failure is a server's answer. */
  status?: number;
  /** A TLS handshake or certificate failure: retrying cannot help, so readiness does not wait it out. */
  tls?: boolean;
}

export class SmokeError extends Error {
  readonly status?: number;
  readonly tls: boolean;
  constructor(
    readonly kind: FailureKind,
    readonly phase: Phase,
    message: string,
    detail: SmokeErrorDetail = {},
  ) {
    super(message);
    this.name = "SmokeError";
    this.status = detail.status;
    this.tls = detail.tls ?? false;
  }
}

/**
 * Pure: whether a failed background request may succeed if simply repeated: the server could not be
 * reached or the connection dropped (but not a TLS failure), or it answered 5xx (a gateway restarting,
 * ComfyUI busy). A rejected token, any other 4xx and a malformed answer are final.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof SmokeError)) return false;
  if (err.kind === "unreachable") return !err.tls;
  return err.kind === "check" && err.status !== undefined && err.status >= 500;
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
    case "internal":
      return ExitCode.failed;
  }
}
