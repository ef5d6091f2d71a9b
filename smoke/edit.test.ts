/**
 * Every workflow through the real gateway (docker/gateway/run → Caddy, internal TLS, token) in front
 * of the ComfyUI double, with MP4 (H.264), AVI (MJPEG) and MOV (ProRes) inputs made by ffmpeg, at
 * 832×480, 480×832 and 480×480. The video workflows form a Latin square (each meets every container
 * and every size once), which keeps the run short on two cores; r2v adds the two non-square sizes.
 * Each output is verified by codec, size and frame count. Then `vace run` itself: help, exit codes.
 */

import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../test/binaries";
import { captureCli } from "../test/cli";
import { type BehindGateway, startBehindGateway } from "../test/doubles/comfyui/behind-gateway";
import type { ComfyDouble } from "../test/doubles/comfyui/server";
import {
  type ClipCodec,
  type ClipContainer,
  makeClip,
  makeStill,
  makeTone,
  tempDir,
} from "../test/fixtures/video";
import { prepareEdit, type Size } from "./edit";
import type { MaskSource } from "./inputs";
import { runSmoke } from "./run";
import { NODE, type WorkflowName } from "./workflow";

const TOKEN = randomBytes(24).toString("hex");
let comfy: ComfyDouble;
let gateway: BehindGateway["gateway"];
let ca: string;
let caFile: string;
let behind: BehindGateway | undefined;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  requireBinary("ffprobe");
  tmp = await tempDir("vace-edit-");
  behind = await startBehindGateway(TOKEN);
  ({ comfy, gateway, ca, caFile } = behind);
});
afterAll(async () => {
  await behind?.stop();
  await tmp?.cleanup();
});

const CONTAINERS: Record<ClipContainer & ("mp4" | "avi" | "mov"), ClipCodec> = {
  mp4: "h264",
  avi: "mjpeg",
  mov: "prores",
};

interface Case {
  workflow: WorkflowName;
  container?: keyof typeof CONTAINERS;
  size: Size;
  mask?: "box" | "image" | "video";
}
const CASES: Case[] = [
  { workflow: "v2v", container: "mp4", size: "832x480" },
  { workflow: "v2v", container: "avi", size: "480x832" },
  { workflow: "v2v", container: "mov", size: "480x480" },
  { workflow: "inpaint", container: "avi", size: "832x480", mask: "box" },
  { workflow: "inpaint", container: "mov", size: "480x832", mask: "image" },
  { workflow: "inpaint", container: "mp4", size: "480x480", mask: "video" },
  { workflow: "outpaint", container: "mov", size: "832x480" },
  { workflow: "outpaint", container: "mp4", size: "480x832" },
  { workflow: "outpaint", container: "avi", size: "480x480" },
  { workflow: "r2v", size: "832x480" },
  { workflow: "r2v", size: "480x832" },
];

/** A small source clip: portrait when the target is landscape (so outpaint has a border to make). */
async function source(c: Case, dir: string) {
  const landscape = c.size === "832x480";
  const [w, h] = landscape ? [48, 96] : [96, 64];
  const container = c.container ?? "mp4";
  const file = await makeClip(dir, `in.${container}`, {
    codec: CONTAINERS[container],
    container,
    width: w,
    height: h,
    fps: 30,
    frames: 10, // 5 frames at 16 fps
  });
  let mask: MaskSource | undefined;
  if (c.mask === "box") mask = { kind: "box", x: 4, y: 4, w: 20, h: 20 };
  if (c.mask === "image") {
    const png = await makeStill(dir, "mask.png", {
      width: w,
      height: h,
      box: { x: 8, y: 8, w: 16, h: 16 },
    });
    mask = { kind: "file", file: png };
  }
  if (c.mask === "video") {
    const mv = await makeClip(dir, "mask.mp4", {
      width: w,
      height: h,
      fps: 30,
      frames: 10,
      pattern: "moving-box",
    });
    mask = { kind: "file", file: mv };
  }
  return { file, mask };
}

describe("every workflow through the real gateway (Caddy, TLS, token)", () => {
  it.each(
    CASES.map((c) => ({
      ...c,
      label: `${c.workflow} ${c.container ? `from ${c.container}` : "from an image"} at ${c.size}${c.mask ? `, mask from ${c.mask === "box" ? "--box" : `an ${c.mask}`}` : ""}`,
    })),
  )("$label", async (c) => {
    const dir = join(tmp.dir, randomUUID());
    await mkdir(dir);
    const input = c.container ? await source(c, dir) : undefined;
    const image = await makeStill(dir, "ref.png", { width: 64, height: 64 });
    const prepared = await prepareEdit({
      workflow: c.workflow,
      video: input?.file,
      mask: input?.mask,
      image: c.workflow === "r2v" || c.workflow === "v2v" ? image : undefined,
      size: c.size,
      frames: c.workflow === "r2v" ? 5 : undefined,
      steps: 2,
      workDir: dir,
    });
    const r = await runSmoke({
      url: gateway.url,
      token: TOKEN,
      ca,
      profile: "ci",
      outDir: dir,
      timeoutMs: 30_000,
      readyBackoffMs: { initial: 50, max: 200 },
      prompt: "一只猫 / a cat",
      job: prepared.job,
      settings: prepared.settings,
    });
    expect(r.error).toBeNull();
    const [width, height] = c.size.split("x").map(Number);
    expect(r.verification).toMatchObject({ ok: true, width, height, frames: 5, fps: 16 });
    expect(r.verification?.codec).toMatch(/^avc1/);
    expect(r.workflow).toBe(c.workflow);
    // What reached ComfyUI: the uploads under their stored names, wired as the workflow says.
    const sent = comfy.received.prompts.find((p) => p.clientId === r.clientId)?.prompt;
    const vace = sent?.[NODE.vace]?.inputs;
    expect(vace).toMatchObject({ width, height, length: 5 });
    if (c.workflow !== "r2v") {
      expect(sent?.[NODE.controlVideo]?.inputs.video).toBe(r.uploads?.[0]?.uploadedAs);
      expect(r.uploads?.[0]).toMatchObject({ role: "video", source: input?.file });
    }
    if (c.workflow === "inpaint") {
      expect(vace?.control_masks).toEqual([NODE.mask, 0]);
      expect(sent?.[NODE.maskVideo]?.inputs.video).toBe(r.uploads?.[1]?.uploadedAs);
    }
    if (c.workflow === "outpaint") expect(vace?.control_masks).toEqual([NODE.pad, 3]);
    if (c.workflow === "v2v") expect(vace?.reference_image).toEqual([NODE.resize, 0]);
    if (c.workflow !== "r2v" && c.container !== "mp4") {
      expect(prepared.changes.join("\n")).toContain("→ H.264 MP4 for upload");
    }
  });
});

/** `vace run` in-process: exit code and everything printed. */
const cli = (args: string[], env: Record<string, string> = {}) => captureCli(["run", ...args], env);

describe("vace run (CLI)", () => {
  it("--help shows an example per workflow", async () => {
    const { code, printed } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const w of ["r2v", "v2v", "inpaint", "outpaint"]) {
      expect(printed).toMatch(new RegExp(`vace run --url \\S+ --workflow ${w} `));
    }
  });

  it("edits a MOV through the gateway, prints what changed, writes --out, exit 0", async () => {
    const clip = await makeClip(tmp.dir, "cli.mov", {
      codec: "prores",
      container: "mov",
      width: 96,
      height: 64,
      fps: 24,
      frames: 8,
    });
    const out = join(tmp.dir, "cli-out", "edited.mp4");
    const { code, printed } = await cli(
      [
        ...["--url", gateway.url, "--ca", caFile, "--workflow", "v2v", "--video", clip],
        ...["--size", "480x480", "--steps", "2", "--prompt", "watercolor", "--out", out],
      ],
      { VACE_TOKEN: TOKEN },
    );
    expect(printed).toContain("changed: resampled 24 fps → 16 fps");
    expect(printed).toContain(
      "changed: resized 96×64 → 480×480 (scaled to 720×480, centre-cropped)",
    );
    expect(printed).toContain(`run passed: ${out} verified (avc1`);
    expect(code).toBe(0);
    expect(printed).not.toContain(TOKEN);
  });

  it("exits 2 before any traffic on bad inputs, naming what is wrong", async () => {
    // The gateway's own health probe (GET /prompt, once a second) is the only other traffic.
    const traffic = () =>
      comfy.received.requests.filter((q) => `${q.method} ${q.path}` !== "GET /prompt").length;
    const before = traffic();
    const junk = join(tmp.dir, "junk.avi");
    await writeFile(junk, "junk");
    const tone = await makeTone(tmp.dir, "tone.mp4");
    const long = await makeClip(tmp.dir, "long.mp4", {
      width: 32,
      height: 32,
      fps: 16,
      frames: 90,
    });
    const small = await makeClip(tmp.dir, "small.mp4", {
      width: 16,
      height: 16,
      fps: 16,
      frames: 9,
    });
    const base = ["--url", gateway.url, "--prompt", "p", "--out", join(tmp.dir, "x.mp4")];
    const cases: Array<[string[], string]> = [
      [["--workflow", "v2v", "--video", junk], `cannot read --video ${junk}`],
      [["--workflow", "v2v", "--video", tone], "has no video stream: audio only (aac)"],
      [["--workflow", "v2v", "--video", long], "over the limit of 81"],
      [
        ["--workflow", "inpaint", "--video", long, "--frames", "9", "--mask", small],
        "the mask must have the video's size",
      ],
      [
        ["--workflow", "inpaint", "--video", long],
        "--workflow inpaint needs --mask FILE or --box x,y,w,h",
      ],
      [["--workflow", "r2v"], "--workflow r2v needs --image"],
      [["--workflow", "v2v", "--video", long, "--frames", "10"], "--frames must be 4n+1"],
    ];
    for (const [args, message] of cases) {
      const { code, printed } = await cli([...base, ...args], { VACE_TOKEN: TOKEN });
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(printed).toContain(message);
    }
    expect(traffic()).toBe(before);
  });

  it("exits 3 on a rejected token and 4 when the endpoint is unreachable", async () => {
    const image = await makeStill(tmp.dir, "r.png", { width: 32, height: 32 });
    const args = [
      "--workflow",
      "r2v",
      "--image",
      image,
      "--prompt",
      "p",
      "--out",
      join(tmp.dir, "y.mp4"),
    ];
    const bad = await cli(["--url", gateway.url, "--ca", caFile, "--ready-timeout", "5", ...args], {
      VACE_TOKEN: "wrong-token-123",
    });
    expect(bad.code).toBe(3);
    const down = await cli(["--url", "http://127.0.0.1:9", "--timeout", "2", ...args], {
      VACE_TOKEN: TOKEN,
    });
    expect(down.code).toBe(4);
    expect(down.printed).toContain("run failed in ready");
  });
});

describe("vace smoke: --size and the full profile's v2v edit", () => {
  const smokeCli = (args: string[], env: Record<string, string> = { VACE_TOKEN: TOKEN }) =>
    captureCli(["smoke", "--url", gateway.url, "--ca", caFile, ...args], env);

  it("ci stays one run, at the --size asked for", async () => {
    const out = join(tmp.dir, "smoke-size");
    const { code, printed } = await smokeCli(["--size", "480x832", "--out", out]);
    expect(printed).toContain("smoke passed");
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
    expect(report.verification).toMatchObject({ ok: true, width: 480, height: 832, frames: 9 });
    expect(report.edit).toBeUndefined();
    expect(printed).not.toContain("v2v");
  });

  it("full also edits its own video, re-wrapped as a MOV, with v2v at 832×480", async () => {
    const out = join(tmp.dir, "smoke-full");
    const before = comfy.received.prompts.length;
    const { code, printed } = await smokeCli(["--profile", "full", "--out", out]);
    expect(printed).toContain("v2v edit passed:");
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
    expect(report.verification).toMatchObject({ ok: true, width: 480, height: 480, frames: 49 });
    expect(report.edit).toMatchObject({
      ok: true,
      workflow: "v2v",
      uploads: [{ role: "video", source: expect.stringMatching(/r2v\.mov$/) }],
      verification: { ok: true, width: 832, height: 480, frames: 49, fps: 16 },
    });
    expect(printed).toContain("re-encoded h264 in mov → H.264 MP4 for upload");
    const [, v2v] = comfy.received.prompts.slice(before);
    expect(v2v?.prompt[NODE.vace]?.inputs).toMatchObject({
      width: 832,
      height: 480,
      length: 49,
      control_video: [NODE.controlVideo, 0],
    });
  });

  it("full exits 2 before any traffic when ffmpeg is missing", async () => {
    const { code, printed } = await smokeCli(["--profile", "full", "--out", join(tmp.dir, "nf")], {
      VACE_TOKEN: TOKEN,
      PATH: tmp.dir,
    });
    expect(code).toBe(2);
    expect(printed).toContain("--profile full also edits a MOV with v2v, which needs ffmpeg");
  });
});
