/**
 * The double must behave like ComfyUI (server.py/execution.py at a125cd84) where a client can tell:
 * these tests pin the rules the smoke relies on, so a passing smoke means something.
 */
import { FormData, request, WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorkflow } from "../../../smoke/workflow";
import { requireBinary } from "../../binaries";
import { type ComfyDouble, startComfyDouble } from "./server";

let d: ComfyDouble;
beforeAll(async () => {
  requireBinary("ffmpeg");
  d = await startComfyDouble();
});
afterAll(async () => {
  await d.close();
});

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
const workflow = (image: string, over: Partial<Parameters<typeof buildWorkflow>[0]> = {}) =>
  buildWorkflow({
    prompt: "p",
    negative: "n",
    seed: 1,
    width: 64,
    height: 64,
    frames: 5,
    fps: 16,
    steps: 2,
    cfg: 1,
    image,
    ...over,
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
  it("sends ComfyUI's message order and writes history only after execution_success", async () => {
    d.scenario = { historyDelayMs: 150 };
    const up = await upload("order.png", new Uint8Array([9, 9, 9]));
    const clientId = "c0ffee";
    const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws?clientId=${clientId}`);
    const seen: Array<{ type: string; data: Record<string, unknown> }> = [];
    let historyAtSuccess: unknown;
    let promptId = "";
    const done = new Promise<void>((resolve) => {
      ws.addEventListener("message", async (ev) => {
        const msg = JSON.parse(String(ev.data));
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

    const types = seen.map((m) => m.type).filter((t, i, a) => t !== a[i - 1]);
    expect(types).toEqual([
      "status",
      "execution_start",
      "execution_cached",
      "executing",
      "progress",
      "executing",
      "executed",
      "execution_success",
      "status",
      "executing",
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
