/**
 * Teardown shared by `vace e2e`, `down` and `reap`: destroy (a failed try is retried with refresh),
 * then prove nothing is left two ways: the stack's state holds no resource, and a cloud query by the
 * stack's tags finds nothing. Only then is the stack removed from the backend.
 */
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import { type CloudResource, describe } from "./cloud/inventory";

/** What teardown needs from a stack (ops/pulumi StackDriver implements it). */
export interface Destroyable {
  readonly name: string;
  destroy(refresh: boolean): Promise<void>;
  /** Clears a lock left by a CLI that was killed mid-update (`pulumi cancel`). */
  cancel?(): Promise<void>;
  resources(): Promise<string[]>;
  remove(): Promise<void>;
}

/** Lists what the cloud still holds tagged with this stack; undefined when it cannot be asked. */
export type CloudCheck = (() => Promise<CloudResource[]>) | undefined;

export interface TeardownResult {
  ok: boolean;
  /** Everything still there, each named; or why it could not be checked. */
  remaining: string[];
  /** When the destroy finished (the GPU's billing end, as far as this run knows). */
  destroyedAt?: Date;
  attempts: number;
}

export interface TeardownOptions {
  /** Destroy attempts in all; every one after the first refreshes first. */
  attempts?: number;
  cloud: CloudCheck;
  /** Why the cloud cannot be asked, when `cloud` is undefined. */
  cloudUnavailable?: string;
  log: (line: string) => void;
  now?: () => Date;
}

export async function teardown(stack: Destroyable, opts: TeardownOptions): Promise<TeardownResult> {
  const attempts = opts.attempts ?? 3;
  const now = opts.now ?? (() => new Date());
  let destroyedAt: Date | undefined;
  let attempt = 0;
  while (attempt < attempts && destroyedAt === undefined) {
    attempt++;
    const refresh = attempt > 1;
    opts.log(
      `destroy ${stack.name} (attempt ${attempt}/${attempts}${refresh ? ", with refresh" : ""})`,
    );
    try {
      await stack.destroy(refresh);
      destroyedAt = now();
    } catch (e) {
      opts.log(`destroy attempt ${attempt} failed: ${firstLine(e)}`);
      if (isLocked(e) && stack.cancel) {
        opts.log("the stack is locked by an update that never finished: pulumi cancel, then retry");
        await stack.cancel().catch((c) => opts.log(`pulumi cancel failed: ${firstLine(c)}`));
      }
    }
  }

  const remaining: string[] = [];
  try {
    const urns = await stack.resources();
    remaining.push(...urns.map((u) => `in the stack's state: ${u}`));
  } catch (e) {
    remaining.push(`the stack's state could not be read: ${firstLine(e)}`);
  }
  if (opts.cloud) {
    try {
      const left = await opts.cloud();
      remaining.push(...left.map((r) => `in the cloud, tagged with the stack: ${describe(r)}`));
    } catch (e) {
      remaining.push(`the cloud query by tags failed: ${firstLine(e)}`);
    }
  } else {
    remaining.push(`the cloud query by tags did not run: ${opts.cloudUnavailable ?? "no client"}`);
  }

  if (remaining.length === 0) {
    // A backend that refuses now (a lock, the network) must not turn a finished teardown into a
    // crash that skips the caller's report: the stack is empty, only its record stays.
    await stack.remove().then(
      () =>
        opts.log(
          `stack ${stack.name}: nothing left (state empty, no tagged resource in the cloud); removed`,
        ),
      (e) =>
        remaining.push(`the emptied stack could not be removed from the backend: ${firstLine(e)}`),
    );
  }
  for (const r of remaining) opts.log(`LEFT: ${r}`);
  return { ok: remaining.length === 0, remaining, destroyedAt, attempts: attempt };
}

/** The backend refused because another (or a dead) update holds the stack's lock. */
export function isLocked(e: unknown): boolean {
  if (e instanceof ConcurrentUpdateError) return true;
  return /currently locked|Another update is currently in progress/.test(
    String((e as Error)?.message),
  );
}

/**
 * The most telling line of an error. The SDK's CommandError carries the CLI's whole output; the
 * resource's own error (`… error: [ERROR] OperationDenied.NoStock …`) beats the summary line
 * (`error: update failed`).
 */
export function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const errors = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /\berror: /.test(l))
    .map((l) => l.slice(l.search(/\berror: /)));
  const generic = /^error: (update|destroy|refresh|preview) (failed|canceled)$/;
  return (
    errors.find((l) => !generic.test(l)) ??
    errors[0] ??
    text.split("\n").find((l) => l.trim()) ??
    text
  );
}
