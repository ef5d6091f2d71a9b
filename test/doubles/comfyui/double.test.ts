/**
 * The double must behave like ComfyUI and the node packs at the commits the image pins
 * (docker/comfyui/Dockerfile) where a client can tell: these tests pin the rules the smoke relies on,
 * so a passing smoke means something.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { FormData, request, WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../binaries";
import { smallWorkflow as workflow } from "./harness";
import { PINNED } from "./nodes";
import { type ComfyDouble, startComfyDouble } from "./server";

let d: ComfyDouble;
beforeAll(async () => {
  requireBinary("ffmpeg");
  d = await startComfyDouble();
});
afterAll(async () => {
  await d.close();
});

type Frame = { type: string; data: Record<string, unknown> };
/** A text frame as `{type, data}`; a binary one as `binary:N` with its payload decoded (server.py encode_bytes). */
function decodeFrame(data: unknown): Frame {
  if (typeof data === "string") return JSON.parse(data);
  const b = Buffer.from(data as ArrayBuffer);
  const event = b.readUInt32BE(0);
  if (event === 3) {
    const len = b.readUInt32BE(4);
    return {
      type: "binary:3",
      data: { node: b.subarray(8, 8 + len).toString(), text: b.subarray(8 + len).toString() },
    };
  }
  const image = b.subarray(8);
  return {
    type: `binary:${event}`,
    data: {
      imageType: b.readUInt32BE(4),
      soi: image.subarray(0, 2).toString("hex"),
      eoi: image.subarray(-2).toString("hex"),
    },
  };
}

async function get(path: string) {
  const res = await request(`${d.url}${path}`);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}
async function postJson(path: string, body: unknown) {
  const res = await request(`${d.url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}
async function upload(name: string, bytes: Uint8Array, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new Blob([bytes]), name);
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const res = await request(`${d.url}/upload/image`, { method: "POST", body: form });
  const text = await res.body.text();
  return { status: res.statusCode, json: res.statusCode === 200 ? JSON.parse(text) : undefined };
}
describe("ComfyUI double: node specs", () => {
  it("were transcribed at the commits docker/comfyui/Dockerfile pins (re-read the sources when they move)", () => {
    const text = readFileSync(join(__dirname, "../../../docker/comfyui/Dockerfile"), "utf8");
    const args = Object.fromEntries(
      DockerfileParser.parse(text)
        .getARGs()
        .map((a) => [a.getProperty()?.getName(), a.getProperty()?.getValue()]),
    );
    expect({
      comfyui: args.COMFYUI_COMMIT,
      kjnodes: args.KJNODES_COMMIT,
      vhs: args.VHS_COMMIT,
    }).toEqual(PINNED);
  });

  it("rejects options only newer KJNodes/VHS offer, as the pinned image's server does", async () => {
    const up = await upload("newer.png", new Uint8Array([5, 5]));
    const wf = workflow(up.json.name);
    Object.assign((wf["22"] as { inputs: Record<string, unknown> }).inputs, {
      upscale_method: "nvidia_rtx_vsr",
      keep_proportion: "total_pixels",
    });
    (wf["32"] as { inputs: Record<string, unknown> }).inputs.format = "video/gifski";
    const r = await postJson("/prompt", { prompt: wf });
    expect(r.status).toBe(400);
    const details = (id: string) =>
      r.json.node_errors[id].errors.map((e: { details: string }) => e.details.split(" not in ")[0]);
    expect(details("22")).toEqual([
      "upscale_method: 'nvidia_rtx_vsr'",
      "keep_proportion: 'total_pixels'",
    ]);
    expect(details("32")).toEqual(["format: 'video/gifski'"]);
  });

  it("serves V3 nodes (WanVaceToVideo) in V1 shape: an options dict on every input, null display name", async () => {
    const r = JSON.parse((await get("/object_info/WanVaceToVideo")).text).WanVaceToVideo;
    expect(r.input.required.positive).toEqual(["CONDITIONING", {}]);
    expect(r.input.optional.reference_image).toEqual(["IMAGE", {}]);
    expect(r).toMatchObject({
      display_name: null,
      output_name: ["positive", "negative", "latent", "trim_latent"],
      output_tooltips: [null, null, null, null],
      python_module: "comfy_extras.nodes_wan",
    });
  });
});

describe("ComfyUI double: POST /prompt validation", () => {
  it("answers 400 no_prompt without a prompt", async () => {
    const r = await postJson("/prompt", {});
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: {
        type: "no_prompt",
        message: "No prompt provided",
        details: "No prompt provided",
        extra_info: {},
      },
      node_errors: {},
    });
  });

  it("answers 400 invalid_prompt for an unknown node class, also under /api", async () => {
    const r = await postJson("/api/prompt", {
      prompt: { "1": { class_type: "NoSuchNode", inputs: {} } },
    });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({
      type: "invalid_prompt",
      message: "Cannot execute because node NoSuchNode does not exist.",
      details: "Node ID '#1'",
    });
  });

  it("lists node_errors for bad literals: combo miss, range, missing input", async () => {
    const up = await upload("v.png", new Uint8Array([1, 2, 3]));
    const wf = workflow(up.json.name);
    (wf["11"] as { inputs: Record<string, unknown> }).inputs.unet_name = "other.safetensors";
    (wf["17"] as { inputs: Record<string, unknown> }).inputs.length = 0;
    delete (wf["24"] as { inputs: Record<string, unknown> }).inputs.steps;
    const r = await postJson("/prompt", { prompt: wf });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe("prompt_outputs_failed_validation");
    expect(r.json.node_errors["11"]).toMatchObject({
      class_type: "UNETLoader",
      dependent_outputs: ["32"],
      errors: [
        {
          type: "value_not_in_list",
          details: "unet_name: 'other.safetensors' not in ['wan21_vace_1_3_b.safetensors']",
        },
      ],
    });
    expect(r.json.node_errors["17"].errors[0]).toMatchObject({
      type: "value_smaller_than_min",
      message: "Value 0 smaller than min of 1",
    });
    expect(r.json.node_errors["24"].errors[0]).toMatchObject({
      type: "required_input_missing",
      details: "steps",
    });
    // Downstream nodes are invalid too, but carry no reasons of their own, so ComfyUI leaves them out.
    expect(Object.keys(r.json.node_errors).sort()).toEqual(["11", "17", "24"]);
  });

  it("answers 200 with node_errors when one output fails and another passes, and runs only the good one", async () => {
    // Its own double: the run renders a file, which would shift the shared double's file counter.
    const own = await startComfyDouble();
    try {
      const form = new FormData();
      form.set("image", new Blob([new Uint8Array([4, 2])]), "two.png");
      await (await request(`${own.url}/upload/image`, { method: "POST", body: form })).body.dump();
      const wf = workflow("two.png");
      const bad = structuredClone(wf["32"]) as { inputs: Record<string, unknown> };
      bad.inputs.format = "video/gifski";
      const res = await request(`${own.url}/prompt`, {
        method: "POST",
        body: JSON.stringify({ prompt: { ...wf, "33": bad } }),
      });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as {
        prompt_id: string;
        node_errors: Record<string, unknown>;
      };
      expect(Object.keys(body.node_errors)).toEqual(["33"]);
      expect(body.node_errors["33"]).toMatchObject({
        class_type: "VHS_VideoCombine",
        dependent_outputs: ["33"],
        errors: [{ type: "value_not_in_list", extra_info: { input_name: "format" } }],
      });
      let entry: { outputs: Record<string, unknown>; prompt: unknown[] } | undefined;
      while (!entry) {
        const h = await request(`${own.url}/history/${body.prompt_id}`);
        entry = ((await h.body.json()) as Record<string, typeof entry>)[body.prompt_id];
        await new Promise((r) => setTimeout(r, 20));
      }
      // execute_outputs is the valid outputs only.
      expect(entry.prompt[4]).toEqual(["32"]);
      expect(Object.keys(entry.outputs)).toEqual(["32"]);
    } finally {
      await own.close();
    }
  });

  it("checks LoadImage's file with a custom validation error, not the combo", async () => {
    const r = await postJson("/prompt", { prompt: workflow("never-uploaded.png") });
    expect(r.status).toBe(400);
    expect(r.json.node_errors["18"].errors[0]).toMatchObject({
      type: "custom_validation_failed",
      details: "image - Invalid image file: never-uploaded.png",
    });
  });
});

describe("ComfyUI double: execution, socket order, history", () => {
  it("sends ComfyUI's message order, binary frames included, and writes history only after execution_success", async () => {
    d.scenario = { historyDelayMs: 150, previews: true };
    const framesBefore = d.received.binaryFrames.length;
    const up = await upload("order.png", new Uint8Array([9, 9, 9]));
    const clientId = "c0ffee";
    const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws?clientId=${clientId}`);
    ws.binaryType = "arraybuffer";
    const seen: Frame[] = [];
    let historyAtSuccess: unknown;
    let promptId = "";
    const done = new Promise<void>((resolve) => {
      ws.addEventListener("message", async (ev) => {
        const msg = decodeFrame(ev.data);
        seen.push(msg);
        if (msg.type === "execution_success")
          historyAtSuccess = JSON.parse((await get(`/history/${promptId}`)).text);
        if (msg.type === "executing" && msg.data.node === null) resolve();
      });
    });
    await new Promise((r) => ws.addEventListener("open", r));
    const posted = await postJson("/prompt", {
      prompt: workflow(up.json.name),
      client_id: clientId,
    });
    expect(posted.status).toBe(200);
    expect(posted.json).toMatchObject({ number: expect.any(Number), node_errors: {} });
    promptId = posted.json.prompt_id;
    await done;
    ws.close();
    d.scenario = {};

    // One token per frame: the type, plus the node for executing/progress and the event for binary.
    const tokens = seen.map((m) =>
      m.type === "executing" || m.type === "progress" ? `${m.type}:${m.data.node}` : m.type,
    );
    const from = (a: string, b: string) => tokens.slice(tokens.indexOf(a) - 1, tokens.indexOf(b));
    expect(tokens.slice(0, 5)).toEqual([
      "status",
      "status",
      "status",
      "execution_start",
      "execution_cached",
    ]);
    // Each node: progress_state (running), executing, its own frames, progress_state (finished).
    expect(from("executing:22", "executing:17")).toEqual([
      "progress_state",
      "executing:22",
      "binary:3",
      "progress_state",
      "progress_state",
    ]);
    // Each sampler step (main.py hijack_progress): progress_state, progress, then the preview.
    expect(from("executing:24", "executing:30")).toEqual([
      "progress_state",
      "executing:24",
      ...["progress_state", "progress:24", "binary:1"],
      ...["progress_state", "progress:24", "binary:1"],
      "progress_state",
      "progress_state",
    ]);
    expect(tokens.slice(tokens.indexOf("executing:32") - 1)).toEqual([
      "progress_state",
      "executing:32",
      ...Array.from({ length: 5 }, () => ["progress_state", "progress:32"]).flat(),
      "executed",
      "progress_state",
      "execution_success",
      "status",
      "executing:null",
    ]);
    // progress_state lists every node that has started, never a pending one.
    // The frame before node 30's start: node 24's finish.
    const finished24 = seen[tokens.indexOf("executing:30") - 2]?.data.nodes as Record<
      string,
      Record<string, unknown>
    >;
    expect(finished24["24"]).toEqual({
      value: 2,
      max: 2,
      state: "finished",
      node_id: "24",
      prompt_id: promptId,
      display_node_id: "24",
      parent_node_id: null,
      real_node_id: "24",
    });
    expect(finished24["22"]).toMatchObject({ state: "finished", value: 1, max: 1 });
    expect(finished24["30"]).toBeUndefined();
    const text = seen.find((m) => m.type === "binary:3")?.data;
    expect(text).toEqual({
      node: "22",
      text: "<tr><td>Output: </td><td><b>1</b> x <b>64</b> x <b>64 | 0.05MB</b></td></tr>",
    });
    const jpeg = seen.find((m) => m.type === "binary:1")?.data;
    expect(jpeg).toMatchObject({ imageType: 1, soi: "ffd8", eoi: "ffd9" });
    expect(d.received.binaryFrames.slice(framesBefore)).toEqual([
      { event: 3, to: "*" },
      { event: 1, to: clientId },
      { event: 1, to: clientId },
    ]);
    expect(seen[0]?.data).toMatchObject({ sid: clientId });
    expect(historyAtSuccess).toEqual({});
    expect(d.received.emptyHistoryAfterSuccess).toBe(1);
    const executed = seen.find((m) => m.type === "executed")?.data;
    expect(executed).toMatchObject({
      node: "32",
      output: {
        gifs: [
          {
            filename: "VACE_video_00001.mp4",
            subfolder: "",
            type: "output",
            format: "video/h264-mp4",
          },
        ],
      },
    });
    const history = JSON.parse((await get(`/history/${promptId}`)).text)[promptId];
    expect(history.status).toMatchObject({ status_str: "success", completed: true });
    expect(history.status.messages.map((m: [string]) => m[0])).toEqual([
      "execution_start",
      "execution_cached",
      "execution_success",
    ]);
    expect(history.prompt[1]).toBe(promptId);

    const video = await get("/view?filename=VACE_video_00001.mp4&subfolder=&type=output");
    expect(video.status).toBe(200);
    expect(video.headers["content-type"]).toBe("video/mp4");
    expect(video.headers["content-disposition"]).toBe('filename="VACE_video_00001.mp4"');
  });

  it("reports execution_error in history with status error", async () => {
    d.scenario = { failAt: { node: "31", exceptionType: "RuntimeError", message: "boom" } };
    const up = await upload("err.png", new Uint8Array([7]));
    const posted = await postJson("/prompt", { prompt: workflow(up.json.name, { seed: 2 }) });
    let entry:
      | { status: { status_str: string; messages: Array<[string, Record<string, unknown>]> } }
      | undefined;
    while (!entry) {
      entry = JSON.parse((await get(`/history/${posted.json.prompt_id}`)).text)[
        posted.json.prompt_id
      ];
      await new Promise((r) => setTimeout(r, 20));
    }
    d.scenario = {};
    expect(entry.status.status_str).toBe("error");
    expect(entry.status.messages.at(-1)).toEqual([
      "execution_error",
      expect.objectContaining({
        node_id: "31",
        node_type: "VAEDecode",
        exception_type: "RuntimeError",
        exception_message: "boom",
      }),
    ]);
  });
});

describe("ComfyUI double: /view and /upload/image rules", () => {
  it.each([
    ["/view", 404],
    ["/view?filename=", 400],
    ["/view?filename=../secret", 400],
    ["/view?filename=/etc/passwd", 400],
    ["/view?filename=x.mp4&type=elsewhere", 400],
    ["/view?filename=x.mp4&subfolder=../../", 403],
    ["/view?filename=missing.mp4", 404],
  ])("GET %s → %i", async (path, status) => {
    expect((await get(path)).status).toBe(status);
  });

  it("keeps the name for identical bytes and renames different ones", async () => {
    const a = await upload("ref.png", new Uint8Array([1, 1]));
    const same = await upload("ref.png", new Uint8Array([1, 1]));
    const other = await upload("ref.png", new Uint8Array([2, 2]));
    const third = await upload("ref.png", new Uint8Array([3, 3]));
    expect([a.json.name, same.json.name, other.json.name, third.json.name]).toEqual([
      "ref.png",
      "ref.png",
      "ref (1).png",
      "ref (2).png",
    ]);
    expect(a.json).toEqual({ name: "ref.png", subfolder: "", type: "input" });
    const over = await upload("ref.png", new Uint8Array([4]), { overwrite: "true" });
    expect(over.json.name).toBe("ref.png");
    expect((await upload("x.png", new Uint8Array([1]), { subfolder: "../../etc" })).status).toBe(
      400,
    );
  });
});

describe("ComfyUI double as gateway (token set)", () => {
  it("answers 401 with a Basic challenge without the token, and /healthz without one", async () => {
    const g = await startComfyDouble({ token: "tok" });
    try {
      const denied = await request(`${g.url}/system_stats`);
      await denied.body.dump();
      expect(denied.statusCode).toBe(401);
      expect(denied.headers["www-authenticate"]).toBe('Basic realm="vace"');
      for (const headers of [
        { authorization: "Bearer tok" },
        { authorization: `Basic ${Buffer.from("vace:tok").toString("base64")}` },
      ]) {
        const ok = await request(`${g.url}/system_stats`, { headers });
        await ok.body.dump();
        expect(ok.statusCode).toBe(200);
      }
      const health = await request(`${g.url}/healthz`);
      expect([health.statusCode, await health.body.text()]).toEqual([200, "ok"]);
    } finally {
      await g.close();
    }
  });
});

describe("ComfyUI double: injected faults", () => {
  it("serves each fault once, on the next matching path, then answers normally", async () => {
    d.scenario.faults = [
      { path: "/system_stats", fault: 502 },
      { path: "/system_stats", fault: "html" },
      { path: "/queue", fault: "reset" },
      { path: "/queue", fault: "reset-body" },
    ];
    try {
      expect(await get("/system_stats")).toMatchObject({ status: 502 });
      const html = await get("/api/system_stats");
      expect([html.status, html.headers["content-type"]]).toEqual([
        200,
        "text/html; charset=utf-8",
      ]);
      expect(html.text).toMatch(/^<!doctype html>/);
      await expect(get("/queue")).rejects.toMatchObject({ code: "UND_ERR_SOCKET" });
      const cut = await request(`${d.url}/queue`);
      expect(cut.statusCode).toBe(200);
      await expect(cut.body.text()).rejects.toMatchObject({ code: "UND_ERR_SOCKET" });
      expect(d.received.faults).toEqual([
        "502 GET /system_stats",
        "html GET /system_stats",
        "reset GET /queue",
        "reset-body GET /queue",
      ]);
      expect(d.scenario.faults).toEqual([]);
      expect((await get("/system_stats")).status).toBe(200);
    } finally {
      d.scenario.faults = undefined;
    }
  });
});
