/**
 * A ComfyUI protocol double for tests and benchmarks (never shipped). It speaks ComfyUI's HTTP and
 * WebSocket API as `server.py`, `execution.py`, `main.py` and `comfy_execution/progress.py` do at
 * Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 (0.3.64, 2025-10-08, the commit
 * docker/comfyui/Dockerfile pins), with the nodes of nodes.ts:
 * - every route also under `/api` (`add_routes`);
 * - `POST /prompt`: validation with 400 + node_errors (see validate.ts), `{prompt_id, number, node_errors}`;
 *   a 200 may carry node_errors too, for outputs that failed while another passed (`validate_prompt`);
 * - one prompt at a time; `GET /queue` lists running and pending items as `[number, id, prompt, extra_data, outputs]`;
 * - `GET /history/{id}` is `{}` until `task_done` writes the entry;
 * - socket messages in ComfyUI's order (see `execute` below), to the socket whose clientId is the
 *   prompt's client_id; `executing`/`executed` only when the prompt has one, `progress`/`progress_state`
 *   to every socket when it has none. `/history` can be empty right after execution_success (the history race);
 * - binary frames (`server.py` encode_bytes: a big-endian uint32 event type, then the payload):
 *   type 3 TEXT from ImageResizeKJv2 to every socket, and with `previews` type 1 PREVIEW_IMAGE JPEGs;
 * - `GET /view`: 404 without filename, 400 for `/`-prefixed or `..` names and unknown types,
 *   403 for a subfolder outside the directory, 404 for a missing file;
 * - `POST /upload/image`: same-content uploads reuse the name; others become "stem (1).ext", …;
 * - `/object_info`, `/object_info/{class}` (`{}` for an unknown class), `/models/{folder}`, `/system_stats`.
 * The output node really renders: ffmpeg writes an H.264 MP4 (moov at the end, like VideoHelperSuite)
 * of the size and frame count the workflow asks for, unless a scenario says otherwise.
 * Not modelled: caching (execution_cached is always empty) and feature_flags negotiation, so never
 * PREVIEW_IMAGE_WITH_METADATA (type 4), which ComfyUI sends only to clients that announce it.
 *
 * Scenarios script the failures a smoke must diagnose, including network faults on chosen routes. With `token` set the double also plays the
 * gateway (design.md contract 6: Bearer, Basic vace:token or ?token=; `/healthz` without a token).
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, extname, isAbsolute, join, normalize, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type WebSocket, WebSocketServer } from "ws";
import { makeClip } from "../../fixtures/video";
import { nodeSpecs, type ServerFiles } from "./nodes";
import { validatePrompt } from "./validate";

export interface DoubleScenario {
  /** Play the token gateway too: requests without this token get 401. */
  token?: string;
  /** Node classes this server lacks (a custom-node package not installed). */
  missingClasses?: string[];
  /** Model files missing from models/. */
  missingModels?: string[];
  /** Uploads succeed but LoadImage cannot see them (two replicas behind one balancer): a 400 on /prompt. */
  loseUploads?: boolean;
  /** Fail with execution_error when this node runs. */
  failAt?: { node: string; exceptionType?: string; message?: string };
  /** Hang forever (until /interrupt) when this node starts. */
  stallAt?: string;
  /** Delay between execution_success and the history write: ComfyUI's history race, widened. */
  historyDelayMs?: number;
  /**
   * Send latent previews, as ComfyUI started with `--preview-method auto` does (the image passes no
   * such flag, so by default ComfyUI sends none): a binary PREVIEW_IMAGE JPEG after each sampler step.
   */
  previews?: boolean;
  /** Render something other than what the workflow asks for. */
  output?: { width?: number; height?: number; frames?: number; codec?: "h264" | "hevc" };
  /** Simulated time per node and per sampler step. */
  nodeMs?: number;
  stepMs?: number;
  /**
   * Network faults: each answers the next request whose path (without `/api`) starts with `path`, once,
   * in order. Consumed entries are removed, so the scenario shows which faults are still pending.
   */
  faults?: Array<{ path: string; fault: Fault }>;
}

/**
 * - a status code: that status with a short text body (what a proxy answers while its upstream restarts);
 * - `reset`: the connection is destroyed before any answer;
 * - `reset-body`: a 200 JSON header promising 4096 bytes, a fragment, then the connection is destroyed;
 * - `html`: a 200 HTML page (a login or captive portal in front of the server).
 */
export type Fault = number | "reset" | "reset-body" | "html";

export interface Received {
  prompts: Array<{ promptId: string; clientId?: string; prompt: Prompt }>;
  uploads: Array<{ name: string; bytes: number }>;
  /** Every HTTP request: path (no query) and which credentials it carried. */
  requests: Array<{ method: string; path: string; bearer: boolean; tokenQuery: boolean }>;
  sockets: Array<{ clientId: string; bearer: boolean; tokenQuery: boolean }>;
  /** GET /history/{id} answers of `{}` after execution_success was sent for id. */
  emptyHistoryAfterSuccess: number;
  interrupts: string[];
  /** Each fault served, e.g. `502 GET /history/abc`. */
  faults: string[];
  /** Binary frames sent: event type (1 preview, 3 text) and the clientId, or `*` for every socket. */
  binaryFrames: Array<{ event: number; to: string }>;
}

export interface ComfyDouble {
  url: string;
  /** Mutable: tests change it between runs. */
  scenario: DoubleScenario;
  received: Received;
  /** performance.now() at which each prompt's history entry was written. */
  finishedAt: Map<string, number>;
  /** ComfyUI's input, output and temp folders (a test may place files for /view there). */
  dirs: { input: string; output: string; temp: string };
  close(): Promise<void>;
}

type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
interface Item {
  number: number;
  promptId: string;
  prompt: Prompt;
  extraData: Record<string, unknown>;
  outputs: string[];
}

export const DEFAULT_MODELS = {
  diffusion_models: ["wan21_vace_1_3_b.safetensors"],
  text_encoders: ["umt5_xxl_fp8_e4m3fn.safetensors"],
  vae: ["wan21_vace_vae.safetensors"],
};

/**
 * What the double answers on /system_stats (server.py at the pinned commit; the frontend and
 * template versions are those its requirements.txt pins, which the image installs).
 */
export const DOUBLE_SYSTEM_STATS = {
  system: {
    os: "posix",
    ram_total: 135_000_000_000,
    ram_free: 120_000_000_000,
    comfyui_version: "0.3.64",
    required_frontend_version: "1.27.10",
    installed_templates_version: "0.1.94",
    required_templates_version: "0.1.94",
    python_version: "3.12.3 (protocol double)",
    pytorch_version: "2.8.0+cu128",
    embedded_python: false,
    argv: ["main.py", "--listen", "127.0.0.1", "--port", "8188"],
  },
  devices: [
    {
      name: "cuda:0 ComfyUI protocol double (no GPU) : native",
      type: "cuda",
      index: 0,
      vram_total: 85_000_000_000,
      vram_free: 84_000_000_000,
      torch_vram_total: 0,
      torch_vram_free: 0,
    },
  ],
};

const run = promisify(execFile);

const MIME: Record<string, string> = {
  ".mp4": "video/mp4",
  ".png": "image/png",
  ".webm": "video/webm",
  ".json": "application/json",
};

/** A self-signed certificate for 127.0.0.1 (test-only; made with openssl, valid to 2036) and its key. */
export const LOOPBACK_CERT = join(__dirname, "tls", "loopback-cert.pem");
const LOOPBACK_KEY = join(__dirname, "tls", "loopback-key.pem");
/** Another self-signed certificate for 127.0.0.1 (its key was discarded): a wrong `--ca` to pin. */
export const UNRELATED_CERT = join(__dirname, "tls", "unrelated-cert.pem");

/**
 * Starts the double on 127.0.0.1 (an ephemeral port). With `tls`, it serves HTTPS with LOOPBACK_CERT,
 * as a gateway with a self-signed certificate would.
 */
export async function startComfyDouble(
  scenario: DoubleScenario = {},
  options: { tls?: boolean } = {},
): Promise<ComfyDouble> {
  const root = await mkdtemp(join(tmpdir(), "comfy-double-"));
  const dirs: Record<string, string> = {
    input: join(root, "input"),
    output: join(root, "output"),
    temp: join(root, "temp"),
  };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });

  const received: Received = {
    prompts: [],
    uploads: [],
    requests: [],
    sockets: [],
    emptyHistoryAfterSuccess: 0,
    interrupts: [],
    faults: [],
    binaryFrames: [],
  };
  const finishedAt = new Map<string, number>();
  const history = new Map<string, unknown>();
  const successNotWritten = new Set<string>();
  const sockets = new Map<string, WebSocket>();
  const pending: Item[] = [];
  let running: Item | undefined;
  let lastNode: string | undefined;
  let counter = 0;
  let number = 0;
  let closed = false;
  let interrupt: (() => void) | undefined;
  let interrupted = false;
  const state: ComfyDouble = {
    url: "",
    scenario,
    received,
    finishedAt,
    dirs: { input: dirs.input as string, output: dirs.output as string, temp: dirs.temp as string },
    close: async () => {},
  };

  const files = (): ServerFiles => {
    const missing = new Set(state.scenario.missingModels ?? []);
    const keep = (l: string[]) => l.filter((f) => !missing.has(f));
    return {
      diffusion_models: keep(DEFAULT_MODELS.diffusion_models),
      text_encoders: keep(DEFAULT_MODELS.text_encoders),
      vae: keep(DEFAULT_MODELS.vae),
      input: state.scenario.loseUploads ? [] : received.uploads.map((u) => u.name),
    };
  };
  const specs = () => {
    const all = nodeSpecs(files());
    for (const c of state.scenario.missingClasses ?? []) delete all[c];
    return all;
  };

  // --- socket messages ---------------------------------------------------------------------------
  const send = (type: string, data: unknown, sid?: string) => {
    const text = JSON.stringify({ type, data });
    if (sid === undefined) for (const ws of sockets.values()) ws.send(text);
    else sockets.get(sid)?.send(text);
  };
  /** server.py send_bytes: the event type as a big-endian uint32, then the payload. */
  const sendBinary = (event: number, payload: Buffer, sid?: string) => {
    const frame = Buffer.concat([uint32(event), payload]);
    received.binaryFrames.push({ event, to: sid ?? "*" });
    if (sid === undefined) for (const ws of sockets.values()) ws.send(frame);
    else sockets.get(sid)?.send(frame);
  };
  const queueInfo = () => ({ exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } });
  const queueUpdated = () => send("status", { status: queueInfo() });
  let previewJpeg: Promise<Buffer> | undefined;

  // --- the prompt worker (main.py prompt_worker + execution.py PromptExecutor) ----------------------
  const pump = () => {
    if (running || closed || pending.length === 0) return;
    pending.sort((a, b) => a.number - b.number);
    running = pending.shift();
    queueUpdated();
    void execute(running as Item).finally(() => {
      running = undefined;
      lastNode = undefined;
      pump();
    });
  };

  /**
   * execution.py `execute_async`/`execute` with progress.py's WebUIProgressHandler. Per node:
   * progress_state (running), executing, the node's own messages, executed (output nodes),
   * progress_state (finished). A step of a node with a progress bar (KSampler per sampler step,
   * VHS_VideoCombine per frame) is main.py's `hijack_progress` hook: progress_state, progress, then
   * the preview frame if previews are on. An error or interrupt leaves the node "running".
   */
  const execute = async (item: Item) => {
    const sc = state.scenario;
    const sid = typeof item.extraData.client_id === "string" ? item.extraData.client_id : undefined;
    const promptId = item.promptId;
    const messages: Array<[string, unknown]> = [];
    const add = (type: string, data: Record<string, unknown>, broadcast = false) => {
      const d = { ...data, timestamp: Date.now() };
      messages.push([type, d]);
      if (sid !== undefined || broadcast) send(type, d, sid);
    };
    // ProgressRegistry.nodes: only nodes that started are listed (pending ones are left out).
    const nodeProgress = new Map<string, { value: number; max: number; state: string }>();
    const setProgress = (id: string, value: number, max: number, nodeState: string) => {
      nodeProgress.set(id, { value, max, state: nodeState });
      const nodes = Object.fromEntries(
        [...nodeProgress].map(([node, p]) => [
          node,
          {
            ...p,
            node_id: node,
            prompt_id: promptId,
            display_node_id: node,
            parent_node_id: null,
            real_node_id: node,
          },
        ]),
      );
      send("progress_state", { prompt_id: promptId, nodes }, sid);
    };
    /** Only the sampler's callback (latent_preview.py prepare_callback) passes a preview image. */
    const step = async (id: string, value: number, max: number, sampler = false) => {
      setProgress(id, value, max, "running");
      send("progress", { value, max, prompt_id: promptId, node: id }, sid);
      if (sampler && sc.previews) {
        // send_image: image type 1 (JPEG) after the event type.
        sendBinary(1, Buffer.concat([uint32(1), await preview(item.prompt)]), sid);
      }
    };
    interrupted = false;
    add("execution_start", { prompt_id: promptId });
    add("execution_cached", { nodes: [], prompt_id: promptId });
    const ui: Record<string, unknown> = {};
    const executed: string[] = [];
    let ok = true;
    for (const id of executionOrder(item.prompt, item.outputs)) {
      const node = item.prompt[id] as Prompt[string];
      lastNode = id;
      setProgress(id, 0, 1, "running");
      if (sid !== undefined)
        send("executing", { node: id, display_node: id, prompt_id: promptId }, sid);
      const stop = (exceptionType: string, message: string) => {
        ok = false;
        add("execution_error", {
          prompt_id: promptId,
          node_id: id,
          node_type: node.class_type,
          executed,
          exception_message: message,
          exception_type: exceptionType,
          traceback: [`  File "execution.py", line 496, in execute\n`],
          current_inputs: {},
          current_outputs: [],
        });
      };
      if (sc.stallAt === id) await new Promise<void>((r) => (interrupt = r));
      if (sc.failAt?.node === id) {
        stop(
          sc.failAt.exceptionType ?? "torch.OutOfMemoryError",
          sc.failAt.message ?? "Allocation on device",
        );
        break;
      }
      let max = 1;
      if (node.class_type === "KSampler") {
        max = Number(node.inputs.steps);
        for (let i = 1; i <= max && !interrupted; i++) {
          await sleep(sc.stepMs ?? 1);
          // The hook checks for an interrupt before it reports the step.
          if (!interrupted) await step(id, i, max, true);
        }
      } else {
        await sleep(sc.nodeMs ?? 1);
      }
      if (interrupted || closed) {
        ok = false;
        add(
          "execution_interrupted",
          { prompt_id: promptId, node_id: id, node_type: node.class_type, executed },
          true,
        );
        break;
      }
      if (node.class_type === "ImageResizeKJv2") {
        // KJNodes' send_progress_text(text, unique_id) passes no sid: it goes to every socket.
        sendBinary(3, progressText(id, resizeText(node.inputs)));
      }
      if (node.class_type === "VHS_VideoCombine") {
        // ProgressBar(num_frames), updated once per frame fed to ffmpeg.
        max = framesOf(item.prompt, id);
        for (let i = 1; i <= max; i++) await step(id, i, max);
        try {
          ui[id] = await render(item.prompt, id);
        } catch (e) {
          stop("RuntimeError", `ffmpeg failed in the double: ${(e as Error).message}`);
          break;
        }
        if (sid !== undefined)
          send(
            "executed",
            { node: id, display_node: id, output: ui[id], prompt_id: promptId },
            sid,
          );
      }
      setProgress(id, max, max, "finished");
      executed.push(id);
    }
    if (ok) add("execution_success", { prompt_id: promptId });
    successNotWritten.add(promptId);
    if (sc.historyDelayMs) await sleep(sc.historyDelayMs);
    // PromptQueue.task_done: history is written only now, after the outcome message went out.
    history.set(promptId, {
      prompt: [item.number, promptId, item.prompt, item.extraData, item.outputs],
      outputs: ui,
      status: { status_str: ok ? "success" : "error", completed: ok, messages },
      meta: Object.fromEntries(
        Object.keys(ui).map((id) => [
          id,
          { node_id: id, display_node: id, parent_node: null, real_node_id: id },
        ]),
      ),
    });
    successNotWritten.delete(promptId);
    finishedAt.set(promptId, performance.now());
    running = undefined;
    queueUpdated();
    if (sid !== undefined) send("executing", { node: null, prompt_id: promptId }, sid);
  };

  /**
   * latent_preview.py: a Latent2RGB preview is latent-sized (1/8 of the video) and server.py
   * send_image scales it with ImageOps.contain to fit --preview-size 512 (up as well as down), as JPEG.
   * One real JPEG per double (ffmpeg's test pattern), made on first use.
   */
  const preview = (prompt: Prompt) => {
    const vace = vaceInputs(prompt);
    const [w, h] = [Number(vace.width ?? 832), Number(vace.height ?? 480)];
    const size = w >= h ? `512x${Math.round((512 * h) / w)}` : `${Math.round((512 * w) / h)}x512`;
    previewJpeg ??= run(
      "ffmpeg",
      ["-v", "error", "-f", "lavfi", "-i", `testsrc2=size=${size}`, "-frames:v", "1"].concat([
        "-f",
        "mjpeg",
        "-q:v",
        "2",
        "pipe:1",
      ]),
      { encoding: "buffer" },
    ).then((r) => r.stdout);
    return previewJpeg;
  };

  /** The frames VHS_VideoCombine `id` receives (see decodedFrames). */
  const framesOf = (prompt: Prompt, id: string) =>
    state.scenario.output?.frames ?? decodedFrames(prompt, id);

  /** VHS_VideoCombine: an MP4 named like VideoHelperSuite's, `{prefix}_{counter:05}.mp4`. */
  const render = async (prompt: Prompt, id: string) => {
    const vhs = (prompt[id] as Prompt[string]).inputs;
    const vace = vaceInputs(prompt);
    const o = state.scenario.output ?? {};
    const format = String(vhs.format);
    if (format !== "video/h264-mp4" && format !== "video/h265-mp4")
      throw new Error(`format ${format} is not rendered by the double`);
    const prefix = String(vhs.filename_prefix ?? "AnimateDiff");
    const subfolder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    const filename = `${basename(prefix)}_${String(++counter).padStart(5, "0")}.mp4`;
    const type = vhs.save_output === false ? "temp" : "output";
    const dir = join(dirs[type] as string, subfolder);
    await mkdir(dir, { recursive: true });
    await makeClip(dir, filename, {
      codec: o.codec ?? (format === "video/h265-mp4" ? "hevc" : "h264"),
      width: o.width ?? Number(vace.width ?? 832),
      height: o.height ?? Number(vace.height ?? 480),
      frames: framesOf(prompt, id),
      fps: Number(vhs.frame_rate ?? 8),
      layout: "moov-at-end",
      pattern: "testsrc2",
    });
    const fullpath = join(dir, filename);
    return {
      gifs: [
        {
          filename,
          subfolder,
          type,
          format,
          frame_rate: Number(vhs.frame_rate ?? 8),
          workflow: filename.replace(/\.mp4$/, ".png"),
          fullpath,
        },
      ],
    };
  };

  // --- HTTP --------------------------------------------------------------------------------------
  const authorized = (req: IncomingMessage, url: URL) => {
    const token = state.scenario.token;
    if (token === undefined) return true;
    const auth = req.headers.authorization ?? "";
    return (
      auth === `Bearer ${token}` ||
      auth === `Basic ${Buffer.from(`vace:${token}`).toString("base64")}` ||
      url.searchParams.get("token") === token
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://double");
    const path = url.pathname.replace(/^\/api(?=\/)/, "");
    const method = req.method ?? "GET";
    received.requests.push({
      method,
      path,
      bearer: /^Bearer /.test(req.headers.authorization ?? ""),
      tokenQuery: url.searchParams.has("token"),
    });
    const json = (body: unknown, status = 200) => {
      res
        .writeHead(status, { "content-type": "application/json; charset=utf-8" })
        .end(JSON.stringify(body));
    };
    const status = (code: number, text = "") =>
      res.writeHead(code, { "content-type": "text/plain; charset=utf-8" }).end(text);

    if (state.scenario.token !== undefined) {
      if (path === "/healthz") return status(200, "ok");
      if (!authorized(req, url)) {
        return res
          .writeHead(401, {
            "www-authenticate": 'Basic realm="vace"',
            "content-type": "text/plain",
          })
          .end("unauthorized");
      }
    }
    const faults = state.scenario.faults ?? [];
    const f = faults.findIndex((x) => path.startsWith(x.path));
    if (f >= 0) {
      const { fault } = faults.splice(f, 1)[0] as { fault: Fault };
      received.faults.push(`${fault} ${method} ${path}`);
      return injectFault(fault, req, res);
    }
    const body = async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    };

    if (method === "GET" && path === "/system_stats") return json(DOUBLE_SYSTEM_STATS);
    if (method === "GET" && path === "/object_info") return json(specs());
    if (method === "GET" && path.startsWith("/object_info/")) {
      const cls = decodeURIComponent(path.slice("/object_info/".length));
      const s = specs()[cls];
      return json(s ? { [cls]: s } : {});
    }
    if (method === "GET" && path.startsWith("/models/")) {
      const folder = path.slice("/models/".length) as keyof ServerFiles;
      const list = folder === "input" ? undefined : files()[folder];
      return list ? json(list) : status(404);
    }
    if (method === "GET" && path === "/prompt") return json(queueInfo());
    if (method === "POST" && path === "/prompt") {
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(await body());
      } catch {
        return status(500, "500 Internal Server Error");
      }
      const num = "number" in data ? Number(data.number) : data.front ? -number++ : number++;
      if (!("prompt" in data)) {
        return json(
          {
            error: {
              type: "no_prompt",
              message: "No prompt provided",
              details: "No prompt provided",
              extra_info: {},
            },
            node_errors: {},
          },
          400,
        );
      }
      const prompt = data.prompt as Prompt;
      const promptId = String(data.prompt_id ?? randomUUID());
      const inputDir = dirs.input as string;
      const v = validatePrompt(prompt, specs(), {
        LoadImage: {
          image: (value) =>
            !state.scenario.loseUploads && existsSync(join(inputDir, String(value)))
              ? undefined
              : `Invalid image file: ${String(value)}`,
        },
        // VHS LoadVideoUpload.VALIDATE_INPUTS
        VHS_LoadVideo: {
          video: (value) =>
            !state.scenario.loseUploads && existsSync(join(inputDir, String(value)))
              ? undefined
              : `Invalid video file: ${String(value)}`,
        },
      });
      const extraData = { ...((data.extra_data as Record<string, unknown>) ?? {}) };
      if ("client_id" in data) extraData.client_id = data.client_id;
      if (!v.ok) return json({ error: v.error, node_errors: v.nodeErrors }, 400);
      received.prompts.push({
        promptId,
        clientId: extraData.client_id as string | undefined,
        prompt,
      });
      pending.push({ number: num, promptId, prompt, extraData, outputs: v.outputs });
      queueUpdated();
      pump();
      return json({ prompt_id: promptId, number: num, node_errors: v.nodeErrors });
    }
    if (method === "GET" && path === "/queue") {
      const row = (i: Item) => [i.number, i.promptId, i.prompt, i.extraData, i.outputs];
      return json({
        queue_running: running ? [row(running)] : [],
        queue_pending: pending.map(row),
      });
    }
    if (method === "POST" && path === "/queue") {
      const data = JSON.parse((await body()) || "{}");
      if (data.clear) pending.length = 0;
      for (const id of data.delete ?? []) {
        const i = pending.findIndex((p) => p.promptId === id);
        if (i >= 0) pending.splice(i, 1);
      }
      queueUpdated();
      return status(200);
    }
    if (method === "POST" && path === "/interrupt") {
      let target: unknown;
      try {
        target = JSON.parse((await body()) || "{}").prompt_id;
      } catch {}
      if (running && (target === undefined || target === running.promptId)) {
        received.interrupts.push(running.promptId);
        interrupted = true;
        interrupt?.();
      }
      return status(200);
    }
    if (method === "POST" && path === "/free") return status(200);
    if (method === "GET" && path === "/history") return json(Object.fromEntries(history));
    if (method === "GET" && path.startsWith("/history/")) {
      const id = decodeURIComponent(path.slice("/history/".length));
      const entry = history.get(id);
      if (!entry && successNotWritten.has(id)) received.emptyHistoryAfterSuccess++;
      return json(entry ? { [id]: entry } : {});
    }
    if (method === "POST" && path === "/history") {
      const data = JSON.parse((await body()) || "{}");
      if (data.clear) history.clear();
      for (const id of data.delete ?? []) history.delete(id);
      return status(200);
    }
    if (method === "GET" && path === "/view") return view(url, res, status);
    if (method === "POST" && path === "/upload/image") return upload(req, url, json, status);
    return status(404, "404: Not Found");
  };

  /** server.py view_image. */
  const view = (url: URL, res: ServerResponse, status: (c: number) => void) => {
    const q = url.searchParams;
    const raw = q.get("filename");
    if (raw === null) return status(404);
    let filename = raw;
    let dir: string | undefined;
    const annotated = /^(.*) \[(output|input|temp)\]$/.exec(raw);
    if (annotated) {
      filename = annotated[1] as string;
      dir = dirs[annotated[2] as string];
    }
    if (!filename) return status(400);
    if (filename.startsWith("/") || filename.includes("..")) return status(400);
    dir ??= dirs[q.get("type") ?? "output"];
    if (!dir) return status(400);
    const sub = q.get("subfolder");
    if (sub !== null) {
      const full = resolve(dir, sub);
      const rel = relative(dir, full);
      if (rel.startsWith("..") || isAbsolute(rel)) return status(403);
      dir = full;
    }
    const file = join(dir, basename(filename));
    if (!existsSync(file) || !statSync(file).isFile()) return status(404);
    res.writeHead(200, {
      "content-type": MIME[extname(file)] ?? "application/octet-stream",
      "content-length": statSync(file).size,
      "content-disposition": `filename="${basename(filename)}"`,
    });
    createReadStream(file).pipe(res);
  };

  /** server.py image_upload. */
  const upload = async (
    req: IncomingMessage,
    url: URL,
    json: (b: unknown) => void,
    status: (c: number) => void,
  ) => {
    const form = await new Request(url, {
      method: "POST",
      headers: req.headers as Record<string, string>,
      body: Readable.toWeb(req) as ReadableStream,
      duplex: "half",
    } as RequestInit).formData();
    const image = form.get("image");
    if (!(image instanceof File)) return status(400);
    if (!image.name) return status(400);
    const type = String(form.get("type") ?? "input");
    const base = dirs[type];
    if (!base) return status(400);
    const subfolder = String(form.get("subfolder") ?? "");
    const folder = join(base, normalize(subfolder));
    let name = image.name;
    let path = resolve(folder, name);
    const rel = relative(base, path);
    if (rel.startsWith("..") || isAbsolute(rel)) return status(400);
    await mkdir(folder, { recursive: true });
    const data = Buffer.from(await image.arrayBuffer());
    const overwrite = form.get("overwrite");
    let duplicate = false;
    if (overwrite !== "true" && overwrite !== "1") {
      const ext = extname(name);
      const stem = name.slice(0, name.length - ext.length);
      for (let i = 1; existsSync(path); i++) {
        if (sha256(await readFile(path)) === sha256(data)) {
          duplicate = true;
          break;
        }
        name = `${stem} (${i})${ext}`;
        path = join(folder, name);
      }
    }
    if (!duplicate) await writeFile(path, data);
    if (type === "input") {
      const stored = subfolder ? `${subfolder}/${name}` : name;
      if (!received.uploads.some((u) => u.name === stored))
        received.uploads.push({ name: stored, bytes: data.length });
    }
    return json({ name, subfolder, type });
  };

  // --- server and socket upgrade --------------------------------------------------------------------
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    });
  };
  const server = options.tls
    ? createHttpsServer(
        { cert: await readFile(LOOPBACK_CERT), key: await readFile(LOOPBACK_KEY) },
        listener,
      )
    : createServer(listener);
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://double");
    const path = url.pathname.replace(/^\/api(?=\/)/, "");
    if (path !== "/ws") return socket.destroy();
    if (!authorized(req, url)) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="vace"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = url.searchParams.get("clientId") || randomUUID().replaceAll("-", "");
      sockets.get(sid)?.close();
      sockets.set(sid, ws);
      received.sockets.push({
        clientId: sid,
        bearer: /^Bearer /.test(req.headers.authorization ?? ""),
        tokenQuery: url.searchParams.has("token"),
      });
      ws.on("close", () => {
        if (sockets.get(sid) === ws) sockets.delete(sid);
      });
      send("status", { status: queueInfo(), sid }, sid);
      if (running?.extraData.client_id === sid && lastNode !== undefined)
        send("executing", { node: lastNode }, sid);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    closed = true;
    interrupted = true;
    interrupt?.();
    for (const ws of sockets.values()) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    // Let a render in flight finish writing before its directory goes.
    while (running) await sleep(5);
    await rm(root, { recursive: true, force: true });
  };
  return state;
}

function injectFault(fault: Fault, req: IncomingMessage, res: ServerResponse): void {
  if (typeof fault === "number") {
    res
      .writeHead(fault, { "content-type": "text/plain" })
      .end(`${fault} (fault injected by the double)`);
  } else if (fault === "reset") {
    req.socket.destroy();
  } else if (fault === "reset-body") {
    res.writeHead(200, { "content-type": "application/json", "content-length": 4096 });
    res.write('{"partial": ', () => req.socket.destroy());
  } else {
    res
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end("<!doctype html><html><body><form>Sign in</form></body></html>");
  }
}

/** Dependencies before dependents, for the nodes the outputs need (ExecutionList's order, simplified). */
export function executionOrder(prompt: Prompt, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !prompt[id]) return;
    seen.add(id);
    for (const v of Object.values(prompt[id].inputs)) {
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string") visit(v[0]);
    }
    order.push(id);
  };
  for (const o of [...outputs].sort()) visit(o);
  return order;
}

/**
 * The frames a video output node receives, following its `images` link back through VAEDecode,
 * TrimVideoLatent and KSampler to WanVaceToVideo (comfy_extras/nodes_wan.py): the latent has
 * (length-1)//4+1 frames plus one for a reference image, TrimVideoLatent cuts `trim_amount` of them
 * (WanVaceToVideo's trim_latent output when wired, a literal otherwise, nothing when absent), and the
 * VAE decodes n latent frames into 4(n-1)+1. So a reference image without the trim wired gives
 * length + 4 frames, the first of them the reference.
 */
export function decodedFrames(prompt: Prompt, outputId: string): number {
  const linked = (id: string | undefined, input: string) => {
    const v = id === undefined ? undefined : prompt[id]?.inputs[input];
    return Array.isArray(v) && typeof v[0] === "string" ? (v as [string, number]) : undefined;
  };
  let at = linked(outputId, "images")?.[0];
  if (at !== undefined && prompt[at]?.class_type === "VAEDecode") at = linked(at, "samples")?.[0];
  let trim: unknown = 0;
  if (at !== undefined && prompt[at]?.class_type === "TrimVideoLatent") {
    trim = prompt[at]?.inputs.trim_amount;
    at = linked(at, "samples")?.[0];
  }
  if (at !== undefined && prompt[at]?.class_type === "KSampler")
    at = linked(at, "latent_image")?.[0];
  const vace = at === undefined ? undefined : prompt[at];
  if (vace?.class_type !== "WanVaceToVideo") return 1;
  const ref = vace.inputs.reference_image === undefined ? 0 : 1;
  const latent = Math.floor((Number(vace.inputs.length ?? 81) - 1) / 4) + 1 + ref;
  const cut = Array.isArray(trim) ? (trim[0] === at && trim[1] === 3 ? ref : 0) : Number(trim);
  return 4 * (Math.max(1, latent - cut) - 1) + 1;
}

const vaceInputs = (prompt: Prompt) =>
  Object.values(prompt).find((n) => n.class_type === "WanVaceToVideo")?.inputs ?? {};

/** A big-endian uint32, as struct.pack(">I", n). */
const uint32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** server.py send_progress_text: the node id's length (uint32), the node id, then UTF-8 text. */
export function progressText(nodeId: string, text: string): Buffer {
  const id = Buffer.from(nodeId, "utf8");
  return Buffer.concat([uint32(id.length), id, Buffer.from(text, "utf8")]);
}

/**
 * The "Output" line ImageResizeKJv2 sends after resizing (KJNodes nodes/image_nodes.py at the pinned
 * commit): batch × width × height and the float32 RGB tensor's size in MB. Sizes as `stretch` and
 * `crop` (what the workflow uses) give them, rounded down to `divisible_by`; one image from LoadImage.
 */
export function resizeText(inputs: Record<string, unknown>): string {
  const by = Number(inputs.divisible_by ?? 2);
  const roundDown = (n: number) => (by > 1 ? n - (n % by) : n);
  const [w, h] = [roundDown(Number(inputs.width)), roundDown(Number(inputs.height))];
  const mb = ((w * h * 3 * 4) / (1024 * 1024)).toFixed(2);
  return `<tr><td>Output: </td><td><b>1</b> x <b>${w}</b> x <b>${h} | ${mb}MB</b></td></tr>`;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
