/**
 * Exit codes of the lifecycle commands (design.md contract 7): `up`, `status`, `down`, `e2e`, `reap`,
 * and `bake` (docs/cold-start.md "Baking an image": 1 there means the builder ran and failed).
 * They share their numbers with every other `vace` command; 4 and 5 mean what this table says here.
 */
export const LifecycleExit = {
  /** The smoke verified the video, and everything was torn down (or kept, with --keep). */
  ok: 0,
  /** The smoke ran and failed; torn down. */
  smokeFailed: 1,
  /** vace bake: the builder ran and failed (its verdict, none, or it never powered off); torn down. */
  bakeFailed: 1,
  /** Usage error, or no `pulumi` CLI. */
  usage: 2,
  /** Deploy failed; torn down. */
  deployFailed: 4,
  /** Teardown failed, or the cloud still holds resources tagged with the stack (each one named). */
  teardownFailed: 5,
} as const;
export type LifecycleExit = (typeof LifecycleExit)[keyof typeof LifecycleExit];

/** A lifecycle failure that ends the command with its exit code and a message for a person. */
export class LifecycleError extends Error {
  constructor(
    readonly exitCode: LifecycleExit,
    message: string,
  ) {
    super(message);
    this.name = "LifecycleError";
  }
}
