/**
 * Cold start as report.json records it (docs/cold-start.md), from both sides:
 * - outside, measured by the smoke: when the deploy started (given by the caller, e.g. the e2e
 *   driver, as --deploy-started-at), the first `/healthz` 200, the first verified video;
 * - inside, recorded by the instance (infra/ecs/boot/files/boot_timeline.py): when each boot phase
 *   first held, fetched through the token gateway from ComfyUI's /view;
 * - and, from the run's own WebSocket messages, how long each node ran, so model loading and
 *   sampling are told apart (after the boot warm-up, the loaders should take ~0 s).
 */
import { ComfyHttp, type HttpOptions } from "./http";

/** The instance's phases, in boot order (boot_timeline.py writes them). */
export const BOOT_PHASES = [
  "cloud-init",
  "driver",
  "docker",
  "images",
  "comfyui",
  "models",
  "gateway",
] as const;

/** Where the instance's timeline is served: ComfyUI's output folder, subfolder wan-vace. */
export const TIMELINE_VIEW = {
  filename: "boot-timeline.json",
  subfolder: "wan-vace",
  type: "output",
} as const;

export interface InstancePhase {
  phase: string;
  at: string;
  /** Seconds after cloud-init started on the first boot. */
  sinceCloudInitS: number | null;
  /** What the instance recorded with it, e.g. the warm-up's {ok, seconds, promptId, error}. */
  detail?: Record<string, unknown>;
}

export interface ColdStartReport {
  deployStartedAt: string | null;
  firstHealthzAt: string | null;
  videoVerifiedAt: string | null;
  /** Seconds from the deploy start; null without one. */
  healthzAfterDeployS: number | null;
  videoAfterDeployS: number | null;
  /** The instance's timeline; null when it has none (not ECS, an older image) or it was unreadable. */
  instance: { boots: number; phases: InstancePhase[] } | null;
  /** Why `instance` is null. */
  instanceNote: string | null;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const since = (from: Date | undefined, ms: number | undefined) =>
  from === undefined || ms === undefined ? null : round3((ms - from.getTime()) / 1000);

/** Pure: the instance's boot-timeline.json as report entries, in boot order; throws on a bad shape. */
export function parseInstanceTimeline(doc: unknown): NonNullable<ColdStartReport["instance"]> {
  const d = doc as { phases?: Record<string, { at?: unknown }>; boots?: unknown };
  if (typeof d !== "object" || d === null || typeof d.phases !== "object" || d.phases === null) {
    throw new Error("boot-timeline.json has no phases object");
  }
  const phases = d.phases;
  const start = phases["cloud-init"]?.at;
  const entries = Object.entries(phases)
    .filter(([, v]) => typeof v?.at === "number")
    .map(([phase, v]) => {
      const { at, ...detail } = v as { at: number } & Record<string, unknown>;
      return {
        phase,
        at: new Date(at * 1000).toISOString(),
        sinceCloudInitS: typeof start === "number" ? round3(at - start) : null,
        ...(Object.keys(detail).length > 0 ? { detail } : {}),
        order: (BOOT_PHASES as readonly string[]).indexOf(phase),
        atS: at,
      };
    })
    .sort((a, b) => (a.order < 0 ? 99 : a.order) - (b.order < 0 ? 99 : b.order) || a.atS - b.atS)
    .map(({ order: _o, atS: _a, ...p }) => p);
  return { boots: Array.isArray(d.boots) ? d.boots.length : 0, phases: entries };
}

/** Pure: the report section from what the smoke saw and what the instance recorded. */
export function coldStartReport(o: {
  deployStartedAt?: Date;
  firstHealthzMs?: number;
  videoVerifiedMs?: number;
  instance: ColdStartReport["instance"];
  instanceNote: string | null;
}): ColdStartReport {
  return {
    deployStartedAt: o.deployStartedAt?.toISOString() ?? null,
    firstHealthzAt: iso(o.firstHealthzMs),
    videoVerifiedAt: iso(o.videoVerifiedMs),
    healthzAfterDeployS: since(o.deployStartedAt, o.firstHealthzMs),
    videoAfterDeployS: since(o.deployStartedAt, o.videoVerifiedMs),
    instance: o.instance,
    instanceNote: o.instance ? null : o.instanceNote,
  };
}

/**
 * Best effort: the instance's timeline through the gateway, or why there is none. Never fails the
 * smoke: a deployment without a timeline (ACS, compose, an older image) still passes.
 */
export async function fetchInstanceTimeline(
  http: ComfyHttp,
  signal: AbortSignal,
): Promise<{ instance: ColdStartReport["instance"]; note: string | null }> {
  try {
    const res = await http.send("view", { phase: "verify", query: { ...TIMELINE_VIEW }, signal });
    const text = await res.body.text();
    if (res.status === 404) {
      return {
        instance: null,
        note: "the server has no boot timeline (only ECS hosts record one)",
      };
    }
    if (res.status !== 200)
      return {
        instance: null,
        note: `GET /view for the boot timeline answered HTTP ${res.status}`,
      };
    return { instance: parseInstanceTimeline(JSON.parse(text)), note: null };
  } catch (err) {
    return {
      instance: null,
      note: `the boot timeline could not be read: ${(err as Error).message}`,
    };
  }
}

/**
 * The timeline of a deployed endpoint, for `vace status`: one request through the gateway with
 * the stack's token (and pinned certificate), bounded by `timeoutMs`; never throws.
 */
export async function readInstanceTimeline(
  endpoint: HttpOptions,
  timeoutMs = 10_000,
): Promise<{ instance: ColdStartReport["instance"]; note: string | null }> {
  const http = new ComfyHttp(endpoint);
  try {
    return await fetchInstanceTimeline(http, AbortSignal.timeout(timeoutMs));
  } finally {
    await http.dispatcher.close();
  }
}

/** Pure: the cold-start section of a smoke's report.json, or of e2e's (which embeds it). */
export function coldStartOf(report: unknown): ColdStartReport | null {
  const r = report as { coldStart?: unknown; smoke?: { report?: { coldStart?: unknown } } } | null;
  const c = (r?.coldStart ?? r?.smoke?.report?.coldStart) as ColdStartReport | undefined;
  return c && typeof c === "object" && "healthzAfterDeployS" in c ? c : null;
}

/** One `executing` (node null: the end) or `execution_cached` message, with its arrival time. */
export type ExecutionEvent =
  | { type: "executing"; node: string | null; atMs: number }
  | { type: "cached"; nodes: string[]; atMs: number };

export interface StageTimes {
  /** Client-side: arrival times of the run's WebSocket messages (ComfyUI sends one as each node starts). */
  source: "websocket";
  /** UNETLoader, CLIPLoader, VAELoader: reading the model files (0 when ComfyUI had them cached). */
  modelLoadS: number;
  /** CLIPTextEncode: includes moving the text encoder to the GPU. */
  textEncodeS: number;
  /** KSampler: includes moving the diffusion model to the GPU when it was not resident yet. */
  samplingS: number;
  decodeS: number;
  /** VHS_VideoCombine: encoding and writing the MP4. */
  outputS: number;
  otherS: number;
  cachedNodes: string[];
  nodes: { node: string; classType: string; seconds: number }[];
}

function stageOf(classType: string): keyof Omit<StageTimes, "source" | "cachedNodes" | "nodes"> {
  if (/Loader$/.test(classType)) return "modelLoadS";
  if (classType === "CLIPTextEncode") return "textEncodeS";
  if (/^KSampler/.test(classType)) return "samplingS";
  if (classType === "VAEDecode") return "decodeS";
  if (classType === "VHS_VideoCombine") return "outputS";
  return "otherS";
}

/** Pure: per-node and per-stage seconds; null when no node start was seen (tracked by polling). */
export function stageTimes(
  events: readonly ExecutionEvent[],
  classOf: (node: string) => string | undefined,
): StageTimes | null {
  const starts = events.filter((e) => e.type === "executing");
  if (!starts.some((e) => e.node !== null)) return null;
  const out: StageTimes = {
    source: "websocket",
    modelLoadS: 0,
    textEncodeS: 0,
    samplingS: 0,
    decodeS: 0,
    outputS: 0,
    otherS: 0,
    cachedNodes: events.flatMap((e) => (e.type === "cached" ? e.nodes : [])),
    nodes: [],
  };
  starts.forEach((e, i) => {
    const next = starts[i + 1];
    if (e.node === null || !next) return;
    const classType = classOf(e.node) ?? "?";
    const seconds = round3((next.atMs - e.atMs) / 1000);
    out.nodes.push({ node: e.node, classType, seconds });
    const stage = stageOf(classType);
    out[stage] = round3(out[stage] + seconds);
  });
  return out;
}
