/**
 * One smoke run, phase by phase: ready → preflight → upload → submit/queue → execution → download →
 * verify. Each phase has its own deadline inside the overall one. `runSmoke` never throws for a failed
 * run: it returns the report, whose `error` names the phase and whose `exitCode` is contract 4's.
 */
import { randomInt, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { FormData } from "undici";
import { coldStartReport, fetchInstanceTimeline, stageTimes } from "./cold-start";
import { withDeadline } from "./deadline";
import { exitCodeFor, type Phase, SmokeError } from "./errors";
import { EventSocket } from "./events";
import { ComfyHttp, parseJson } from "./http";
import { referenceImage } from "./png";
import { checkPreflight, type NodeInfo } from "./preflight";
import { PROFILES, type Profile, type ProfileName, samplingCost } from "./profiles";
import { waitReady } from "./ready";
import { type ContentReport, type SmokeReport, serverInfo } from "./report";
import { type HistoryEntry, trackPrompt } from "./track";
import {
  type ContentMode,
  ContentToolMissingError,
  contentChecksAvailable,
  UnreadableVideoError,
  verifyVideo,
} from "./verify";
import {
  type ApiWorkflow,
  buildWorkflow,
  type EditFiles,
  NODE,
  parseWorkflowParams,
  type WorkflowName,
  type WorkflowParams,
} from "./workflow";

export const DEFAULT_PROMPT = "A girl secretly takes a bite of an apple";
/** The seed's negative prompt (only used when cfg ≠ 1). */
export const DEFAULT_NEGATIVE =
  "vivid colors, overexposed, static, blurry details, subtitles, style, artwork, painting, picture, still, overall gray, worst quality, low quality, JPEG compression artifacts, ugly, incomplete";

/** Image types ComfyUI's LoadImage reads, by file extension. */
export const IMAGE_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
};
/** Upload types by extension: images, and the MP4s `vace run` makes of its video inputs. */
const UPLOAD_TYPES: Record<string, string> = { ...IMAGE_TYPES, ".mp4": "video/mp4" };

/** A file the run uploads, by the role it plays in the workflow. */
export interface JobUpload {
  role: keyof EditFiles;
  /** The name to upload under (ComfyUI may rename it). */
  name: string;
  data: Uint8Array;
  /** Where it came from, for the report: a path, or "generated". */
  source: string;
}

/**
 * A workflow other than the smoke's r2v run (`vace run`): what to upload, and how to build the
 * workflow from the names ComfyUI stored the uploads under.
 */
export interface SmokeJob {
  workflow: WorkflowName;
  uploads: JobUpload[];
  /** The workflow for the run's parameters and the names ComfyUI stored the uploads under. */
  build(files: EditFiles, params: WorkflowParams): ApiWorkflow;
}

/** Per-phase limits; each is also capped by what is left of the overall timeout. */
export const DEFAULT_PHASE_TIMEOUTS_MS: Record<Phase, number> = {
  // A fresh ECS instance installs the driver (one reboot), Docker and the container toolkit and pulls
  // the images before /healthz answers 200: 15–25 minutes (README). 30 leaves margin.
  ready: 1_800_000,
  preflight: 60_000,
  upload: 60_000,
  // Another job may hold the GPU; model loading happens inside execution, not here.
  queueWait: 600_000,
  execution: 1_800_000,
  download: 300_000,
  verify: 120_000,
};

export interface SmokeOptions {
  url: string;
  token: string;
  /** PEM text of the certificate to trust (the gateway's pinned certificate). */
  ca?: string;
  profile: ProfileName;
  /** Receives the video (and, from the CLI, report.json). */
  outDir: string;
  prompt?: string;
  negative?: string;
  /** A reference image; when absent one is generated in-process. */
  image?: { name: string; data: Uint8Array; source: string };
  /** Fixed seed for reproduction; by default a fresh one, so ComfyUI's cache cannot replay a run. */
  seed?: number;
  /** Settings that replace the profile's (`--size`; `vace run`'s frames and steps). */
  settings?: Partial<Profile>;
  /** Run this workflow instead of the smoke's r2v (see SmokeJob). */
  job?: SmokeJob;
  timeoutMs: number;
  phaseTimeoutsMs?: Partial<Record<Phase, number>>;
  /** The verifier's content checks (blank, frozen, noise): see {@link contentPlan}. Default auto. */
  content?: ContentMode;
  /** Polling intervals (ms) with a healthy socket and without one; readiness backoff bounds. */
  pollMs?: { slow?: number; fast?: number };
  readyBackoffMs?: { initial?: number; max?: number };
  /** Set to false to track by polling only (the benchmark's baseline, and a socket-less gateway). */
  useSocket?: boolean;
  log?: (line: string) => void;
  /** When the deployment started (the e2e driver knows): report.json measures cold start from it. */
  deployStartedAt?: Date;
  /** Called once the run is known to be complete (benchmarks time this). */
  onComplete?: () => void;
}

/** Pure: a phase's limit, min(its own, what is left of the overall budget). */
export function phaseLimitMs(
  phase: Phase,
  overrides: Partial<Record<Phase, number>> | undefined,
  remainingMs: number,
): number {
  return Math.max(0, Math.min(overrides?.[phase] ?? DEFAULT_PHASE_TIMEOUTS_MS[phase], remainingMs));
}

/**
 * Pure: whether the content checks run, and if not, why (for report.json, JUnit and a warning).
 * `auto` skips them without ffmpeg, which must never pass unnoticed: the skip is recorded and warned about.
 */
export function contentPlan(mode: ContentMode, ffmpegOnPath: boolean): ContentReport {
  if (mode === "skip") return { mode, ran: false, skipped: "skipped by --content skip" };
  if (!ffmpegOnPath) {
    if (mode === "require") throw new ContentToolMissingError();
    return {
      mode,
      ran: false,
      skipped:
        "ffmpeg is not on PATH, so the content checks (blank, frozen, noise) did not run; " +
        "install ffmpeg or pass --content require",
    };
  }
  return { mode, ran: true, skipped: null };
}

/** Throws WorkflowParamsError (a usage error) before any network traffic if the inputs are bad. */
export function smokeParams(
  o: Pick<SmokeOptions, "profile" | "prompt" | "negative" | "seed" | "settings">,
) {
  const p = { ...PROFILES[o.profile], ...o.settings };
  return parseWorkflowParams({
    prompt: o.prompt ?? DEFAULT_PROMPT,
    negative: o.negative ?? DEFAULT_NEGATIVE,
    seed: o.seed ?? randomInt(1, 2 ** 48 - 1),
    width: p.width,
    height: p.height,
    frames: p.frames,
    fps: p.fps,
    steps: p.steps,
    cfg: p.cfg,
    image: "reference.png",
  });
}

export async function runSmoke(o: SmokeOptions): Promise<SmokeReport> {
  const log = o.log ?? (() => {});
  const params = smokeParams(o);
  const job = o.job ?? referenceJob(o.image);
  const contentMode = o.content ?? "auto";
  // Before any traffic: --content require without ffmpeg is the caller's mistake, not the server's.
  contentPlan(contentMode, contentChecksAvailable(contentMode));
  const startedAt = new Date();
  const deadline = Date.now() + o.timeoutMs;
  const http = new ComfyHttp({ url: o.url, token: o.token, ca: o.ca });
  const clientId = randomUUID();
  const report: SmokeReport = {
    ok: false,
    exitCode: 1,
    profile: o.profile,
    url: http.displayUrl(),
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    workflow: job.workflow,
    params: {
      ...params,
      image: {
        source: job.uploads.find((u) => u.role === "image")?.source ?? "none",
        uploadedAs: null,
      },
    },
    uploads: job.uploads.map((u) => ({ role: u.role, source: u.source, uploadedAs: null })),
    cost: samplingCost(params),
    clientId,
    promptId: null,
    tracking: null,
    historyRetries: 0,
    transientErrors: 0,
    server: null,
    timings: {},
    video: null,
    verification: null,
    content: null,
    error: null,
    coldStart: coldStartReport({ instance: null, instanceNote: "not reached" }),
    stages: null,
  };
  /** Outside cold-start marks (ms since the epoch). */
  const marks: { firstHealthzMs?: number; videoVerifiedMs?: number } = {};
  let events: EventSocket | undefined;
  /** Where the run is, so an unexpected error still names a phase. */
  let current: Phase = "ready";

  /** Runs one timed phase under min(its own limit, what is left overall). */
  const phase = async <T>(
    name: Phase,
    status: () => string,
    fn: (signal: AbortSignal, limitMs: number) => Promise<T>,
  ) => {
    const t0 = performance.now();
    const limit = phaseLimitMs(name, o.phaseTimeoutsMs, deadline - Date.now());
    current = name;
    try {
      return await withDeadline(name, limit, status, (signal) => fn(signal, limit));
    } finally {
      report.timings[name] = round3((performance.now() - t0) / 1000);
    }
  };

  try {
    // --- ready ---------------------------------------------------------------------------------
    const ready: { last: string; healthzOkMs?: number } = { last: "no answer yet" };
    const stats = await phase(
      "ready",
      () => ready.last,
      (signal, limitMs) =>
        waitReady(
          http,
          signal,
          {
            log,
            limitMs,
            initialDelayMs: o.readyBackoffMs?.initial,
            maxDelayMs: o.readyBackoffMs?.max,
          },
          ready,
        ),
    );
    report.server = serverInfo(stats);
    marks.firstHealthzMs = ready.healthzOkMs;
    const s = report.server;
    log(
      `[ready] ${report.timings.ready} s: ComfyUI ${s.comfyuiVersion ?? "?"}, PyTorch ${s.pytorchVersion ?? "?"}, ` +
        `GPU ${s.gpu ?? "none reported"}`,
    );

    // --- preflight -----------------------------------------------------------------------------
    // The inputs are not uploaded yet; preflight skips those inputs (UPLOADED_INPUTS).
    const asNamed = Object.fromEntries(job.uploads.map((u) => [u.role, u.name]));
    await phase(
      "preflight",
      () => "waiting for /object_info",
      (signal) => preflight(http, job.build(asNamed, params), signal),
    );
    log(`[preflight] ${report.timings.preflight} s: every node class and model file is present`);

    // --- upload --------------------------------------------------------------------------------
    const stored: EditFiles = {};
    await phase(
      "upload",
      () => "waiting for /upload/image",
      async (signal) => {
        for (const [i, u] of job.uploads.entries()) {
          const name = await uploadFile(http, u.name, u.data, signal);
          stored[u.role] = name;
          const entry = report.uploads?.[i];
          if (entry) entry.uploadedAs = name;
        }
      },
    );
    report.params.image.uploadedAs = stored.image ?? null;
    const workflow = job.build(stored, params);
    const names = job.uploads.map((u) => `${u.role} stored as ${stored[u.role]}`).join(", ");
    log(`[upload] ${report.timings.upload} s: ${names}`);

    // --- submit, queue wait, execution ----------------------------------------------------------
    const tQueue = performance.now();
    let tStart = tQueue;
    const submitted = await phase(
      "queueWait",
      () => "waiting for the WebSocket and POST /prompt",
      async (signal) => {
        if (o.useSocket !== false) {
          // Opened before the POST: ComfyUI drops messages for a client with no open socket.
          const opened = await EventSocket.open(http, clientId, 10_000);
          if ("error" in opened) log(`  ${opened.error}; tracking by polling /history instead`);
          else events = opened;
        }
        return submitPrompt(http, workflow, clientId, signal);
      },
    );
    report.promptId = submitted;
    log(`[submit] prompt ${submitted} (seed ${params.seed})`);
    // The queue wait's own limit counts from before the POST; what is left overall counts from now.
    const queueLeft =
      phaseLimitMs("queueWait", o.phaseTimeoutsMs, Number.POSITIVE_INFINITY) -
      (performance.now() - tQueue);
    const tracked = await trackPrompt({
      http,
      events,
      promptId: submitted,
      queueTimeoutMs: phaseLimitMs("queueWait", { queueWait: queueLeft }, deadline - Date.now()),
      executionTimeoutMs: phaseLimitMs("execution", o.phaseTimeoutsMs, deadline - Date.now()),
      slowPollMs: o.pollMs?.slow,
      fastPollMs: o.pollMs?.fast,
      nodeClass: (id) => workflow[id]?.class_type,
      log,
      onStarted: () => {
        tStart = performance.now();
        current = "execution";
        report.timings.queueWait = round3((tStart - tQueue) / 1000);
      },
      onTransientError: () => {
        report.transientErrors++;
      },
    }).finally(() => {
      const now = performance.now();
      if (tStart === tQueue) report.timings.queueWait = round3((now - tQueue) / 1000);
      else report.timings.execution = round3((now - tStart) / 1000);
    });
    o.onComplete?.();
    report.stages = events ? stageTimes(events.execution, (id) => workflow[id]?.class_type) : null;
    report.tracking = tracked.tracking;
    report.historyRetries = tracked.historyRetries;
    log(
      `[execution] queued ${report.timings.queueWait} s, ran ${report.timings.execution} s (tracked by ${tracked.tracking})`,
    );

    // --- download ------------------------------------------------------------------------------
    const output = videoOutput(tracked.history, workflow);
    report.video = await phase(
      "download",
      () => `downloading ${output.filename}`,
      (signal) => download(http, output, o.outDir, signal),
    );
    log(
      `[download] ${report.timings.download} s: ${report.video.file} (${report.video.bytes} bytes)`,
    );

    // --- verify --------------------------------------------------------------------------------
    const file = report.video.file;
    const content = contentPlan(contentMode, contentChecksAvailable(contentMode));
    report.content = content;
    if (content.skipped) log(`  warning: content checks skipped: ${content.skipped}`);
    const verification = await phase(
      "verify",
      () => `verifying ${file}`,
      async () => {
        try {
          return await verifyVideo(
            file,
            { width: params.width, height: params.height, frames: params.frames, fps: params.fps },
            // "auto" was resolved above; passing the decision keeps the record and the checks in step.
            { content: content.ran ? "require" : "skip" },
          );
        } catch (err) {
          if (err instanceof UnreadableVideoError) {
            throw new SmokeError(
              "check",
              "verify",
              `the server's video is unreadable: ${err.message}`,
            );
          }
          throw err;
        }
      },
    );
    report.verification = verification;
    if (!verification.ok) {
      const failed = verification.checks
        .filter((c) => !c.ok)
        .map(
          (c) =>
            `${c.name}: expected ${JSON.stringify(c.expected)}, got ${JSON.stringify(c.actual)}`,
        );
      throw new SmokeError(
        "check",
        "verify",
        `the server's video failed verification: ${failed.join("; ")}`,
      );
    }
    log(
      `[verify] ${report.timings.verify} s: ${verification.codec} ${verification.width}×${verification.height}, ` +
        `${verification.frames} frames at ${verification.fps} fps`,
    );
    marks.videoVerifiedMs = Date.now();
    report.ok = true;
    report.exitCode = 0;
  } catch (caught) {
    // Anything else is a bug in the smoke; it still gets a report naming where it happened.
    const err =
      caught instanceof SmokeError
        ? caught
        : new SmokeError("internal", current, `unexpected error: ${describeUnexpected(caught)}`);
    if (!(caught instanceof SmokeError) && caught instanceof Error && caught.stack) {
      log(`  ${caught.stack}`);
    }
    report.error = { phase: err.phase, kind: err.kind, message: err.message };
    report.exitCode = exitCodeFor(err.kind);
    const unfinished = err.kind === "timeout" || err.kind === "check" || err.kind === "internal";
    if (report.promptId && unfinished && !report.video) {
      await cancelPrompt(http, report.promptId, log);
    }
  } finally {
    events?.close();
    // Read after the run, when the instance has recorded its last phase; only from a server that
    // answered, and never for long: it is a record, not a check.
    const timeline = report.server
      ? await fetchInstanceTimeline(http, AbortSignal.timeout(10_000))
      : { instance: null, note: "the server never became ready" };
    report.coldStart = coldStartReport({
      deployStartedAt: o.deployStartedAt,
      ...marks,
      instance: timeline.instance,
      instanceNote: timeline.note,
    });
    await http.close();
    report.finishedAt = new Date().toISOString();
  }
  return report;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function describeUnexpected(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Fetches the object_info of each class the workflow uses (in parallel) and fails on any problem. */
async function preflight(
  http: ComfyHttp,
  workflow: ApiWorkflow,
  signal: AbortSignal,
): Promise<void> {
  const classes = [...new Set(Object.values(workflow).map((n) => n.class_type))];
  const infos = await Promise.all(
    classes.map((cls) =>
      http.json<Record<string, NodeInfo>>(`object_info/${encodeURIComponent(cls)}`, {
        phase: "preflight",
        signal,
      }),
    ),
  );
  const problems = checkPreflight(workflow, Object.assign({}, ...infos));
  if (problems.length > 0) {
    throw new SmokeError(
      "check",
      "preflight",
      `the server cannot run the workflow (nothing was queued):\n  ${problems.map((p) => p.message).join("\n  ")}`,
    );
  }
}

/** The smoke's own job: r2v with the given reference image, or one generated in-process. */
function referenceJob(image: SmokeOptions["image"]): SmokeJob {
  const ref = image ?? {
    name: "vace-smoke-reference.png",
    data: referenceImage(),
    source: "generated",
  };
  return {
    workflow: "r2v",
    uploads: [{ role: "image", ...ref }],
    build: (files, params) => buildWorkflow({ ...params, image: files.image ?? params.image }),
  };
}

/** Uploads one file; returns the name the loader node must use (ComfyUI may rename it). */
async function uploadFile(
  http: ComfyHttp,
  name: string,
  data: Uint8Array,
  signal: AbortSignal,
): Promise<string> {
  const form = new FormData();
  const type = UPLOAD_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream";
  form.set("image", new Blob([data], { type }), name);
  form.set("type", "input");
  const res = await http.json<{ name?: unknown; subfolder?: unknown }>("upload/image", {
    phase: "upload",
    method: "POST",
    form,
    signal,
  });
  if (typeof res.name !== "string" || !res.name) {
    throw new SmokeError(
      "check",
      "upload",
      `POST /upload/image answered without a file name: ${JSON.stringify(res)}`,
    );
  }
  return typeof res.subfolder === "string" && res.subfolder
    ? `${res.subfolder}/${res.name}`
    : res.name;
}

interface NodeError {
  class_type?: string;
  errors?: Array<{ message?: string; details?: string }>;
  /** The output nodes this error made ComfyUI drop. */
  dependent_outputs?: string[];
}

/** Pure: one line per node error, e.g. `node 18 (LoadImage): Custom validation failed for node: image - …`. */
export function describeNodeErrors(nodeErrors: Record<string, NodeError>): string[] {
  return Object.entries(nodeErrors).flatMap(([id, e]) =>
    (e.errors?.length ? e.errors : [{ message: "invalid", details: "" }]).map(
      (x) =>
        `node ${id} (${e.class_type ?? "?"}): ${x.message ?? ""}${x.details ? `: ${x.details}` : ""}`,
    ),
  );
}

/** POSTs the workflow; returns the prompt id. A 400, or node_errors on a 200, is a check failure. */
export async function submitPrompt(
  http: ComfyHttp,
  workflow: ApiWorkflow,
  clientId: string,
  signal: AbortSignal,
): Promise<string> {
  const res = await http.send("prompt", {
    phase: "queueWait",
    method: "POST",
    json: { prompt: workflow, client_id: clientId },
    signal,
  });
  const text = await http.readText(res, { phase: "queueWait", signal }, "POST /prompt");
  const body = parseJson<{
    prompt_id?: unknown;
    error?: { type?: string; message?: string };
    node_errors?: Record<string, NodeError>;
  }>(text, res, "queueWait", "POST /prompt");
  const nodeErrors = describeNodeErrors(body.node_errors ?? {});
  if (res.status !== 200) {
    const head = body.error ? `${body.error.type}: ${body.error.message}` : `HTTP ${res.status}`;
    throw new SmokeError(
      "check",
      "queueWait",
      `ComfyUI rejected the workflow (${head})${nodeErrors.length ? `:\n  ${nodeErrors.join("\n  ")}` : ""}`,
    );
  }
  if (typeof body.prompt_id !== "string") {
    throw new SmokeError(
      "check",
      "queueWait",
      `POST /prompt answered 200 without a prompt_id: ${text.slice(0, 200)}`,
    );
  }
  if (nodeErrors.length > 0) {
    // A 200 with node_errors: ComfyUI queued the outputs that passed validation and silently dropped
    // the rest (execution.py validate_prompt). The smoke wants all of them, so it cancels the prompt.
    const dropped = [
      ...new Set(Object.values(body.node_errors ?? {}).flatMap((e) => e.dependent_outputs ?? [])),
    ];
    await cancelPrompt(http, body.prompt_id, () => {});
    throw new SmokeError(
      "check",
      "queueWait",
      `ComfyUI queued prompt ${body.prompt_id} without output node${dropped.length === 1 ? "" : "s"} ` +
        `${dropped.join(", ") || "?"}, which failed validation, so the smoke asked ComfyUI to cancel it:\n  ${nodeErrors.join("\n  ")}\n` +
        "set those inputs to values this server offers (GET /object_info/<class> lists them) or update the node package that lacks them",
    );
  }
  return body.prompt_id;
}

interface VideoRef {
  filename: string;
  subfolder: string;
  type: string;
}

/** Pure: the video VHS_VideoCombine reported in the history entry, or a check failure saying what is there. */
export function videoOutput(history: HistoryEntry, workflow: ApiWorkflow): VideoRef {
  const out = history.outputs?.[NODE.video] as { gifs?: Array<Partial<VideoRef>> } | undefined;
  const v = out?.gifs?.[0];
  if (!v || typeof v.filename !== "string") {
    throw new SmokeError(
      "check",
      "execution",
      `the run succeeded but node ${NODE.video} (${workflow[NODE.video]?.class_type}) reported no video; ` +
        `history outputs: ${JSON.stringify(history.outputs ?? {}).slice(0, 300)}`,
    );
  }
  return { filename: v.filename, subfolder: v.subfolder ?? "", type: v.type ?? "output" };
}

/** Streams `/view` to `outDir` (via a temporary name, so a partial download never looks complete). */
async function download(http: ComfyHttp, v: VideoRef, outDir: string, signal: AbortSignal) {
  await mkdir(outDir, { recursive: true });
  const res = await http.send("view", {
    phase: "download",
    query: { filename: v.filename, subfolder: v.subfolder, type: v.type },
    signal,
    // /view answers 403 itself when the subfolder escapes the output directory.
    ownStatuses: [403],
  });
  if (res.status !== 200) {
    const text = await res.body.text().catch(() => "");
    throw new SmokeError(
      "check",
      "download",
      `GET /view for ${v.type}/${v.subfolder ? `${v.subfolder}/` : ""}${v.filename} answered HTTP ${res.status}` +
        `${text ? `: ${text.slice(0, 200)}` : ""}: ComfyUI reported a video it cannot serve`,
    );
  }
  // The server names the file; basename() keeps a hostile name inside outDir.
  const file = join(outDir, basename(v.filename));
  const partial = `${file}.partial`;
  try {
    await pipeline(res.body, createWriteStream(partial), { signal });
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    if (signal.aborted) throw signal.reason;
    throw new SmokeError(
      "unreachable",
      "download",
      `downloading ${v.filename} failed: ${(err as Error).message}`,
    );
  }
  return { file, bytes: (await stat(file)).size, ...v };
}

/** Best effort: stop a prompt the smoke gave up on, so it does not hold the GPU. */
async function cancelPrompt(
  http: ComfyHttp,
  promptId: string,
  log: (line: string) => void,
): Promise<void> {
  const signal = AbortSignal.timeout(5_000);
  try {
    const del = await http.send("queue", {
      phase: "execution",
      method: "POST",
      json: { delete: [promptId] },
      signal,
    });
    await del.body.dump();
    const int = await http.send("interrupt", {
      phase: "execution",
      method: "POST",
      json: { prompt_id: promptId },
      signal,
    });
    await int.body.dump();
    log(`  cancelled prompt ${promptId} (removed from the queue, interrupted if running)`);
  } catch {
    log(`  could not cancel prompt ${promptId}; it may still occupy the GPU`);
  }
}
