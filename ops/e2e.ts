/**
 * `vace e2e`: up → smoke → destroy, with the destroy in `finally`. An interrupt (SIGINT/SIGTERM,
 * passed in as `signal`) cancels the running update, then destroys. Exit codes: design.md contract 7.
 */

import { LifecycleExit } from "./errors";
import { cancelInterrupted, unlessAborted } from "./interrupt";
import type { Outputs } from "./pulumi/driver";
import { computeSpend, type Spend } from "./spend";
import {
  type CloudCheck,
  type Destroyable,
  firstLine,
  type TeardownResult,
  teardown,
} from "./teardown";

export interface E2eStack extends Destroyable {
  up(signal?: AbortSignal): Promise<Outputs>;
  cancel(): Promise<void>;
}

export interface SmokeOutcome {
  ok: boolean;
  /** One line for the log: what passed, or which phase failed and why. */
  summary: string;
  /** The smoke's report.json, embedded in e2e's. */
  report?: unknown;
  /** Bytes the smoke downloaded through the EIP (for the traffic estimate). */
  egressBytes?: number;
}

export interface E2eOptions {
  stack: E2eStack;
  target: string;
  region: string;
  smoke: (outputs: Outputs) => Promise<SmokeOutcome>;
  /** The cloud query by the stack's tags; undefined when there are no credentials. */
  cloud: CloudCheck;
  cloudUnavailable?: string;
  /** The GPU instance's CreationTime from the cloud, when it can be asked. */
  instanceCreatedAt?: () => Promise<Date | undefined>;
  keep: boolean;
  signal: AbortSignal;
  log: (line: string) => void;
  now?: () => Date;
}

export interface E2eResult {
  exitCode: LifecycleExit;
  stack: string;
  interrupted: boolean;
  deploy: { ok: boolean; error?: string; outputs: Record<string, unknown> };
  smoke?: SmokeOutcome;
  teardown?: TeardownResult;
  kept: boolean;
  spend: Spend;
}

/** Outputs safe to print and store: never the token or key material. */
export function publicOutputs(outputs: Outputs): Record<string, unknown> {
  const hidden = new Set(["token", "caCertificate"]);
  return Object.fromEntries(Object.entries(outputs).filter(([k]) => !hidden.has(k)));
}

export async function runE2e(o: E2eOptions): Promise<E2eResult> {
  const now = o.now ?? (() => new Date());
  let outputs: Outputs = {};
  const deploy: E2eResult["deploy"] = { ok: false, outputs: {} };
  let smoke: SmokeOutcome | undefined;
  let upEndedAt: Date | undefined;

  try {
    if (o.signal.aborted) throw new Error("interrupted before deploy");
    o.log(`deploy ${o.stack.name}`);
    outputs = await o.stack.up(o.signal);
    upEndedAt = now();
    deploy.ok = true;
    deploy.outputs = publicOutputs(outputs);
    o.log(
      `deployed: ${outputs.url} (${outputs.instanceType}, expires ${outputs.expiresAt}, price/h ${outputs.hourlyPrice ?? "unknown"})`,
    );
    smoke = await unlessAborted(o.smoke(outputs), o.signal);
    if (smoke) o.log(`smoke ${smoke.ok ? "passed" : "FAILED"}: ${smoke.summary}`);
    else o.log("interrupted during the smoke; tearing down");
  } catch (e) {
    if (!deploy.ok) {
      deploy.error = firstLine(e);
      o.log(`deploy FAILED: ${deploy.error}`);
    } else {
      smoke = { ok: false, summary: `the smoke itself failed: ${firstLine(e)}` };
      o.log(smoke.summary);
    }
    if (o.signal.aborted && !deploy.ok) await cancelInterrupted(o.stack, o.log);
  }
  // Teardown below always runs: everything above that can throw is inside the try.

  const createdAt = await o.instanceCreatedAt?.().catch(() => undefined);
  let result: TeardownResult | undefined;
  if (o.keep) {
    o.log(`--keep: ${o.stack.name} stays up; destroy it with: vace down --stack ${o.stack.name}`);
  } else {
    result = await teardown(o.stack, {
      cloud: o.cloud,
      cloudUnavailable: o.cloudUnavailable,
      log: o.log,
      now,
    });
  }

  const endedAt = result?.destroyedAt ?? (o.keep ? now() : undefined);
  const spend = computeSpend({
    stack: o.stack.name,
    target: o.target,
    region: o.region,
    instanceType: typeof outputs.instanceType === "string" ? outputs.instanceType : undefined,
    hourlyPrice: typeof outputs.hourlyPrice === "number" ? outputs.hourlyPrice : null,
    startedAt: createdAt ?? upEndedAt,
    startedFrom: createdAt ? "cloud" : upEndedAt ? "local clock" : "none",
    endedAt,
    endedFrom: endedAt ? "local clock" : "none",
    egressBytes: smoke?.egressBytes,
  });

  const interrupted = o.signal.aborted;
  const exitCode =
    result && !result.ok
      ? LifecycleExit.teardownFailed
      : !deploy.ok
        ? LifecycleExit.deployFailed
        : !smoke?.ok
          ? LifecycleExit.smokeFailed
          : LifecycleExit.ok;
  return {
    exitCode,
    stack: o.stack.name,
    interrupted,
    deploy,
    smoke,
    teardown: result,
    kept: o.keep,
    spend,
  };
}
