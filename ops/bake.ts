/**
 * `vace bake`: a custom ECS image made by the same program in a separate stack (`<stack>-bake`), in
 * two stages (docs/cold-start.md "Baking an image"; the interface with infra/ is BAKE-CONTRACT):
 *   1. `bakeStage=builder`: up → one builder instance that installs, pulls, cleans, prints ONE verdict
 *      line to its serial console and powers off;
 *   2. wait until DescribeInstances says Stopped, then read the LAST verdict line from
 *      GetInstanceConsoleOutput;
 *   3. `bakeStage=image` + `bakeContents`: up → an ECS image from the builder's disk (kept on destroy);
 *   4. ALWAYS destroy the bake stack, as `vace e2e` does: on success, on every failure, and after
 *      SIGINT/SIGTERM (cancel, then destroy; a failed destroy is retried with refresh).
 * Where the destroy cannot finish, the builder's own autoReleaseTime still releases it: the result
 * names the instance and that time.
 */
import { BAKE_TTL_MINUTES } from "../infra/bake/plan";
import { type BakeContents, parseBakeContents } from "../infra/config";
import type { InstanceState } from "./cloud/instance";
import { ecsTime } from "./cloud/inventory";
import type { E2eStack } from "./e2e";
import { LifecycleError, LifecycleExit } from "./errors";
import { cancelInterrupted, pause } from "./interrupt";
import type { Outputs } from "./pulumi/driver";
import { type CloudCheck, firstLine, type TeardownResult, teardown } from "./teardown";

/** The prefix of the builder's one verdict line (BAKE-CONTRACT). */
export const VERDICT_PREFIX = "WAN_VACE_BAKE_RESULT";
export const STAGE_KEY = "wan-vace:bakeStage";
export const CONTENTS_KEY = "wan-vace:bakeContents";
/** The builder's autoReleaseTime is at most this long after its creation (infra/bake). */
export const BUILDER_TTL_MINUTES = BAKE_TTL_MINUTES;
/** The longest wait allowed: the image stage needs the builder's disk before the TTL releases it. */
export const MAX_WAIT_MINUTES = 90;
export const DEFAULT_WAIT_MINUTES = 60;
/** How long the program lets CreateImage run (infra/bake's create timeout). */
export const IMAGE_STAGE_MINUTES = 60;

/** The bake stack's name for a source stack. */
export const bakeStackName = (stack: string) => `${stack}-bake`;

/**
 * The verdict as the builder printed it. A pass carries its fields unchecked here: they are checked,
 * with the commit, by the parser the program itself applies to wan-vace:bakeContents, so a verdict
 * the image stage would refuse fails the wait instead, before the image stage runs.
 */
export type Verdict = { ok: true; fields: Record<string, unknown> } | { ok: false; error: string };

/** Terminal escapes and carriage returns a serial console carries around its lines. */
const sanitize = (s: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the escapes being removed
  s.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Z0-9]|\r/g, "");

/**
 * The LAST verdict line in the console text; undefined when there is none. A line that is not the
 * contract's JSON is a failed verdict (naming what is wrong), never a pass.
 */
export function parseVerdict(consoleText: string): Verdict | undefined {
  const line = sanitize(consoleText)
    .split("\n")
    .filter((l) => l.includes(`${VERDICT_PREFIX} `))
    .at(-1);
  if (line === undefined) return undefined;
  const json = line.slice(line.indexOf(VERDICT_PREFIX) + VERDICT_PREFIX.length).trim();
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch {
    return { ok: false, error: `the verdict line is not JSON: ${json.slice(0, 200)}` };
  }
  const ok = (body as { ok?: unknown })?.ok;
  if (ok === false) {
    const error = (body as { error?: unknown }).error;
    return { ok: false, error: typeof error === "string" && error ? error : "(no error given)" };
  }
  if (ok !== true) return { ok: false, error: `the verdict line has no boolean "ok": ${json}` };
  const { ok: _, ...fields } = body as Record<string, unknown>;
  return { ok: true, fields };
}

/** The console's last `lines` non-blank lines, for a failure message. */
export function consoleTail(consoleText: string, lines = 30): string[] {
  return sanitize(consoleText)
    .split("\n")
    .filter((l) => l.trim())
    .slice(-lines);
}

/** What the bake needs from its stack (ops/pulumi StackDriver implements it). */
export interface BakeStack extends E2eStack {
  setConfig(key: string, value: string): Promise<void>;
  /** Cloud ids of the state's resources of a type (ops/pulumi StackDriver.idsOf). */
  idsOf(type: string): Promise<string[]>;
}

/** The stage-2 image's Pulumi type (infra/bake: an ecs.Image with retainOnDelete). */
export const IMAGE_RESOURCE_TYPE = "alicloud:ecs/image:Image";

/** The builder as the cloud sees it (ops/cloud/instance.ts over the RPC client). */
export interface BuilderProbe {
  state(id: string): Promise<InstanceState | undefined>;
  console(id: string): Promise<string>;
}

export interface BakeOptions {
  stack: BakeStack;
  builder: BuilderProbe;
  /** The project's git commit, recorded in the image's vace-commit tag. */
  commit: string;
  /** How long to wait for the builder to power off, from the end of stage 1. */
  timeoutMs: number;
  /** Between two DescribeInstances (default 15 s). */
  pollMs?: number;
  /** The cloud query by the bake stack's tags (teardown's proof that nothing is left). */
  cloud: CloudCheck;
  cloudUnavailable?: string;
  signal: AbortSignal;
  log: (line: string) => void;
  now?: () => Date;
  /** Values never to print (the stack's secrets): a builder's console could echo one. */
  secrets?: string[];
  /** Told after each stage, so bake.json names the builder even if this process dies later. */
  onProgress?: (progress: BakeProgress) => Promise<void>;
}

export type BakePhase = "builder" | "wait" | "image" | "done";

export interface BakeResult {
  exitCode: LifecycleExit;
  /** The bake stack. */
  stack: string;
  interrupted: boolean;
  /** Where the bake stopped: the stage that failed, or "done". */
  phase: BakePhase;
  error?: string;
  imageId?: string;
  /**
   * Images stage 2 created although it failed (CreateImage went through, the wait for it did not):
   * the destroy keeps them (retainOnDelete) and the reaper never deletes an image.
   */
  keptImages?: string[];
  /** What the builder reported, plus the commit: the image's tags. */
  contents?: BakeContents;
  builder: { instanceId?: string; autoReleaseTime?: string };
  /** Stage 1 up to the builder's power-off. */
  builderSeconds?: number;
  /** Stage 2 (the image). */
  imageSeconds?: number;
  consoleTail?: string[];
  teardown: TeardownResult;
}

/** A bake under way: no exit code or teardown yet. */
export type BakeProgress = Omit<BakeResult, "exitCode" | "teardown"> &
  Partial<Pick<BakeResult, "exitCode" | "teardown">>;

/** A failure the bake reports with its exit code (the error's message is the whole story). */
class BakeFailure extends Error {
  constructor(
    message: string,
    readonly consoleTail?: string[],
  ) {
    super(message);
  }
}

const seconds = (from: Date, to: Date) => Math.round((to.getTime() - from.getTime()) / 100) / 10;

export async function runBake(o: BakeOptions): Promise<BakeResult> {
  const now = o.now ?? (() => new Date());
  const result: Omit<BakeResult, "exitCode" | "teardown" | "interrupted"> = {
    stack: o.stack.name,
    phase: "builder",
    builder: {},
  };
  try {
    if (o.signal.aborted) throw new Error("interrupted before the builder");
    o.log(`bake stage 1/2 (builder) in ${o.stack.name}`);
    await o.stack.setConfig(STAGE_KEY, "builder");
    const started = now();
    const builderOut = await o.stack.up(o.signal);
    const id = stringOutput(builderOut, "builderInstanceId");
    result.builder.instanceId = id;
    if (typeof builderOut.expiresAt === "string")
      result.builder.autoReleaseTime = builderOut.expiresAt;
    o.log(`builder ${id} is up (released by ECS at ${result.builder.autoReleaseTime ?? "?"})`);

    result.phase = "wait";
    await progress(o, result);
    result.contents = await waitForVerdict(o, id, result.builder);
    result.builderSeconds = seconds(started, now());
    o.log(`builder verdict ok after ${result.builderSeconds}s: ${JSON.stringify(result.contents)}`);

    result.phase = "image";
    await progress(o, result);
    warnIfReleasedSoon(o, result.builder.autoReleaseTime, now());
    o.log(`bake stage 2/2 (image) in ${o.stack.name}`);
    await o.stack.setConfig(CONTENTS_KEY, JSON.stringify(result.contents));
    await o.stack.setConfig(STAGE_KEY, "image");
    const imageStarted = now();
    const imageOut = await o.stack.up(o.signal);
    result.imageSeconds = seconds(imageStarted, now());
    const imageId = stringOutput(imageOut, "imageId");
    if (!/^m-[a-z0-9]+$/.test(imageId))
      throw new BakeFailure(
        `stage image gave imageId ${JSON.stringify(imageId)}, not an ECS image`,
      );
    result.imageId = imageId;
    o.log(
      `image ${imageId} created in ${result.imageSeconds}s; it stays after the bake stack goes`,
    );
    result.phase = "done";
    await progress(o, result);
  } catch (e) {
    result.error = redact(firstLine(e), o.secrets);
    if (e instanceof BakeFailure && e.consoleTail)
      result.consoleTail = e.consoleTail.map((l) => redact(l, o.secrets));
    o.log(`bake FAILED in stage ${result.phase}: ${result.error}`);
    for (const l of result.consoleTail ?? []) o.log(`  console | ${l}`);
    const updating = result.phase === "builder" || result.phase === "image";
    if (o.signal.aborted && updating) await cancelInterrupted(o.stack, o.log);
    if (result.phase === "image") await findKeptImages(o, result);
  }
  // Teardown below always runs: everything above that can throw is inside the try.

  const t = await teardown(o.stack, {
    cloud: o.cloud,
    cloudUnavailable: o.cloudUnavailable,
    log: o.log,
    now,
  });
  if (!t.ok) {
    await findBuilder(o, result.builder);
    const b = result.builder;
    o.log(
      b.instanceId
        ? `the bake stack could not be destroyed; its builder ${b.instanceId} is released by ECS itself at ${b.autoReleaseTime ?? "its autoReleaseTime (unknown here)"}. Remove the rest with: vace down --stack ${o.stack.name}`
        : `the bake stack could not be destroyed (no builder instance was found). Remove the rest with: vace down --stack ${o.stack.name}`,
    );
  }
  const exitCode = !t.ok
    ? LifecycleExit.teardownFailed
    : result.phase === "done"
      ? LifecycleExit.ok
      : result.phase === "wait"
        ? LifecycleExit.bakeFailed
        : LifecycleExit.deployFailed;
  return { ...result, exitCode, interrupted: o.signal.aborted, teardown: t };
}

/**
 * After a failed stage 2, the images its state holds: the destroy will keep them, so they are named
 * now (log and bake.json), while the state still has them.
 */
async function findKeptImages(o: BakeOptions, result: { keptImages?: string[] }): Promise<void> {
  const ids = await o.stack.idsOf(IMAGE_RESOURCE_TYPE).catch((e) => {
    o.log(
      `could not read the bake stack's state for an image stage 2 may have made: ${firstLine(e)}`,
    );
    return [];
  });
  result.keptImages = ids;
  for (const id of ids)
    o.log(
      `stage 2 failed, but the bake stack holds image ${id}, which its destroy keeps: it may be unusable or still being made; check it (aliyun ecs DescribeImages --ImageId ${id}), then use it or delete it (aliyun ecs DeleteImage --ImageId ${id})`,
    );
}

/** The image needs the builder's disk: say so when ECS may release it before CreateImage is done. */
function warnIfReleasedSoon(o: BakeOptions, releaseAt: string | undefined, at: Date): void {
  const left = releaseAt ? (Date.parse(releaseAt) - at.getTime()) / 60_000 : Number.NaN;
  if (left < IMAGE_STAGE_MINUTES)
    o.log(
      `warning: ECS releases the builder at ${releaseAt}, in ${Math.max(0, Math.floor(left))} min, and the image may take up to ${IMAGE_STAGE_MINUTES}; if the image stage fails, bake again with a shorter build`,
    );
}

/** Reports progress; a failure to record it is logged, never fatal to the bake. */
async function progress(o: BakeOptions, result: Omit<BakeProgress, "interrupted">): Promise<void> {
  await o
    .onProgress?.({ ...result, interrupted: o.signal.aborted })
    .catch((e) => o.log(`could not record progress: ${firstLine(e)}`));
}

/** `text` with every secret value replaced (values too short to be secrets are left alone). */
export function redact(text: string, secrets: readonly string[] = []): string {
  return secrets
    .filter((s) => s.length >= 8)
    .reduce((out, s) => out.split(s).join("[redacted]"), text);
}

/**
 * A bake stack an earlier run left behind (killed before its teardown) is destroyed before a new
 * bake starts: its stopped builder would otherwise pass its old verdict off as this bake's.
 */
export async function destroyLeftover(
  stack: BakeStack,
  o: { cloud: CloudCheck; cloudUnavailable?: string; log: (line: string) => void },
): Promise<void> {
  o.log(`an earlier bake left stack ${stack.name}: destroying it before this one starts`);
  const t = await teardown(stack, {
    cloud: o.cloud,
    cloudUnavailable: o.cloudUnavailable,
    log: o.log,
  });
  if (!t.ok)
    throw new LifecycleError(
      LifecycleExit.teardownFailed,
      `stack ${stack.name}, left by an earlier bake, could not be destroyed (see above); nothing new was created. Retry, or: vace down --stack ${stack.name}`,
    );
}

function stringOutput(outputs: Outputs, key: string): string {
  const v = outputs[key];
  if (typeof v !== "string" || !v)
    throw new BakeFailure(
      `the stack has no ${key} output (is index.ts the bake program? see BAKE-CONTRACT)`,
    );
  return v;
}

/** Polls the builder until it is Stopped, then reads its verdict from the console: ok, or throws. */
async function waitForVerdict(
  o: BakeOptions,
  id: string,
  builder: BakeResult["builder"],
): Promise<BakeContents> {
  const now = o.now ?? (() => new Date());
  const started = now();
  let last = "";
  for (;;) {
    if (o.signal.aborted) throw new Error("interrupted while waiting for the builder");
    const state = await o.builder.state(id);
    if (!state)
      throw new BakeFailure(`the builder ${id} no longer exists (released before it finished?)`);
    if (state.autoReleaseTime) builder.autoReleaseTime = isoTime(state.autoReleaseTime);
    if (state.status !== last) {
      o.log(`builder ${id}: ${state.status} (${seconds(started, now())}s into the wait)`);
      last = state.status;
    }
    if (state.status === "Stopped") break;
    if (now().getTime() - started.getTime() >= o.timeoutMs) {
      const tail = await o.builder
        .console(id)
        .then((c) => consoleTail(c))
        .catch((e) => [`(console output unavailable: ${firstLine(e)})`]);
      throw new BakeFailure(
        `the builder did not power off within ${duration(o.timeoutMs)} (still ${state.status})`,
        tail,
      );
    }
    await pause(o.pollMs ?? 15_000, o.signal);
  }
  const text = await o.builder.console(id);
  const verdict = parseVerdict(text);
  if (!verdict)
    throw new BakeFailure(
      `the builder powered off without a ${VERDICT_PREFIX} line in its console output`,
      consoleTail(text),
    );
  if (!verdict.ok) throw new BakeFailure(`the builder failed: ${verdict.error}`, consoleTail(text));
  const checked = parseBakeContents({ ...verdict.fields, commit: o.commit });
  if (!checked.ok)
    throw new BakeFailure(
      `the builder's verdict cannot tag an image: ${checked.errors.map((e) => e.message).join("; ")}`,
      consoleTail(text),
    );
  return checked.contents;
}

const duration = (ms: number) =>
  ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 100) / 10}s`;

/** ECS's `2026-12-02T08:00Z` as ISO 8601 with seconds; anything else as given. */
function isoTime(t: string): string {
  const d = ecsTime(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString();
}

/** When stage 1 failed before its outputs, the builder may still exist: ask the cloud by tags. */
async function findBuilder(o: BakeOptions, builder: BakeResult["builder"]): Promise<void> {
  if (builder.instanceId || !o.cloud) return;
  const found = await o.cloud().catch(() => []);
  const instance = found.find((r) => r.kind === "instance");
  if (!instance) return;
  builder.instanceId = instance.id;
  const t = instance.instance?.autoReleaseTime;
  if (t) builder.autoReleaseTime = isoTime(t);
}

/**
 * bake.json: the contract's keys first ({imageId, contents, builderSeconds, imageSeconds, destroyed}),
 * written after each stage and at the end.
 */
export function bakeReport(r: BakeProgress) {
  return {
    imageId: r.imageId ?? null,
    contents: r.contents ?? null,
    builderSeconds: r.builderSeconds ?? null,
    imageSeconds: r.imageSeconds ?? null,
    destroyed: r.teardown?.ok ?? false,
    ok: r.exitCode === LifecycleExit.ok,
    /** false while the bake runs: a bake.json left so names a run that died (see builder). */
    finished: r.exitCode !== undefined,
    exitCode: r.exitCode ?? null,
    stack: r.stack,
    phase: r.phase,
    interrupted: r.interrupted,
    error: r.error ?? null,
    builder: {
      instanceId: r.builder.instanceId ?? null,
      autoReleaseTime: r.builder.autoReleaseTime ?? null,
    },
    remaining: r.teardown?.remaining ?? null,
    /** Images a failed stage 2 made, kept by the destroy (null unless stage 2 failed). */
    keptImages: r.keptImages ?? null,
    consoleTail: r.consoleTail ?? null,
  };
}
