/**
 * report.json's cold start: the pure pieces on constructed input, then the smoke against the
 * ComfyUI double playing the gateway, with an instance timeline in ComfyUI's output folder
 * exactly where the ECS host puts it (and without one).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deployStart } from "../cli/smoke";
import { TEST_TOKEN, useSmokeHarness } from "../test/doubles/comfyui/harness";
import {
  BOOT_PHASES,
  coldStartReport,
  parseInstanceTimeline,
  readInstanceTimeline,
  stageTimes,
  TIMELINE_VIEW,
} from "./cold-start";
import { NODE } from "./workflow";

/** What boot_timeline.py writes: epoch seconds per phase, the warm-up's result with "models". */
const T0 = 1_767_000_000;
const INSTANCE = {
  version: 1,
  boots: ["b1", "b2"],
  phases: {
    gateway: { at: T0 + 301 },
    "cloud-init": { at: T0 },
    driver: { at: T0 + 190.5 },
    docker: { at: T0 + 230 },
    images: { at: T0 + 260 },
    comfyui: { at: T0 + 280 },
    models: { at: T0 + 300, ok: true, seconds: 19.9, promptId: "w-1" },
  },
};

describe("cold start, pure", () => {
  it("orders the instance's phases by boot order and times them from cloud-init", () => {
    const t = parseInstanceTimeline(INSTANCE);
    expect(t.boots).toBe(2);
    expect(t.phases.map((p) => [p.phase, p.sinceCloudInitS])).toEqual([
      ["cloud-init", 0],
      ["driver", 190.5],
      ["docker", 230],
      ["images", 260],
      ["comfyui", 280],
      ["models", 300],
      ["gateway", 301],
    ]);
    expect(t.phases[5]).toMatchObject({ detail: { ok: true, seconds: 19.9, promptId: "w-1" } });
    expect(t.phases[0]?.at).toBe(new Date(T0 * 1000).toISOString());
    expect(() => parseInstanceTimeline({ boots: [] })).toThrow(/no phases/);
  });

  it("measures healthz and the verified video from the deploy start, when one is given", () => {
    const start = new Date(T0 * 1000);
    const r = coldStartReport({
      deployStartedAt: start,
      firstHealthzMs: (T0 + 150.25) * 1000,
      videoVerifiedMs: (T0 + 170) * 1000,
      instance: null,
      instanceNote: "no timeline",
    });
    expect(r).toMatchObject({
      healthzAfterDeployS: 150.25,
      videoAfterDeployS: 170,
      instanceNote: "no timeline",
    });
    const without = coldStartReport({ firstHealthzMs: 1, instance: null, instanceNote: null });
    expect(without).toMatchObject({
      deployStartedAt: null,
      healthzAfterDeployS: null,
      videoVerifiedAt: null,
    });
  });

  it("splits node time into model load, text encoding, sampling, decode and output", () => {
    const classes: Record<string, string> = {
      "11": "UNETLoader",
      "13": "CLIPLoader",
      "14": "VAELoader",
      "15": "CLIPTextEncode",
      "24": "KSampler",
      "31": "VAEDecode",
      "32": "VHS_VideoCombine",
      "27": "ModelSamplingSD3",
    };
    const at = (node: string | null, atMs: number) => ({ type: "executing" as const, node, atMs });
    const s = stageTimes(
      [
        { type: "cached", nodes: ["14"], atMs: 0 },
        at("11", 0),
        at("13", 4000),
        at("15", 9000),
        at("27", 9500),
        at("24", 9600),
        at("31", 30_000),
        at("32", 31_000),
        at(null, 32_500),
      ],
      (id) => classes[id],
    );
    expect(s).toMatchObject({
      modelLoadS: 9,
      textEncodeS: 0.5,
      samplingS: 20.4,
      decodeS: 1,
      outputS: 1.5,
      otherS: 0.1,
      cachedNodes: ["14"],
    });
    expect(s?.nodes.map((n) => n.classType)).toEqual([
      "UNETLoader",
      "CLIPLoader",
      "CLIPTextEncode",
      "ModelSamplingSD3",
      "KSampler",
      "VAEDecode",
      "VHS_VideoCombine",
    ]);
    expect(stageTimes([{ type: "executing", node: null, atMs: 1 }], () => undefined)).toBeNull();
  });

  it("--deploy-started-at takes ISO 8601 with a zone or Unix seconds, and nothing else", () => {
    const now = Date.parse("2026-01-02T04:00:00Z");
    expect(deployStart("2026-01-02T03:04:05Z", now)?.toISOString()).toBe(
      "2026-01-02T03:04:05.000Z",
    );
    expect(deployStart("2026-01-02T03:04:05+08:00", now)?.toISOString()).toBe(
      "2026-01-01T19:04:05.000Z",
    );
    expect(deployStart("1767323045", now)?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(deployStart(undefined, now)).toBeUndefined();
    for (const bad of ["yesterday", "2026-01-02 03:04:05", "2026-01-02T03:04:05"]) {
      expect(() => deployStart(bad, now)).toThrow(/is not a time: use ISO 8601 with a zone/);
    }
    expect(() => deployStart("2026-01-02T05:00:00Z", now)).toThrow(/is in the future/);
  });
});

const { double, smoke } = useSmokeHarness("vace-cold-start-");

describe("cold start in report.json, against the double", () => {
  it("records deploy → /healthz → verified video, the instance's timeline, and per-stage times", async () => {
    const d = await double({ token: TEST_TOKEN });
    const folder = join(d.dirs.output, TIMELINE_VIEW.subfolder);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, TIMELINE_VIEW.filename), JSON.stringify(INSTANCE));
    const deployStartedAt = new Date(Date.now() - 5_000);
    const r = await smoke(d, { deployStartedAt });
    expect(r.exitCode, r.error?.message).toBe(0);
    const c = r.coldStart;
    expect(c.deployStartedAt).toBe(deployStartedAt.toISOString());
    expect(c.healthzAfterDeployS).toBeGreaterThanOrEqual(5);
    expect(c.videoAfterDeployS).toBeGreaterThanOrEqual(c.healthzAfterDeployS as number);
    expect(c.instance?.phases.map((p) => p.phase)).toEqual([...BOOT_PHASES]);
    // Fetched with the token, like every other request through the gateway.
    const views = d.received.requests.filter((q) => q.path === "/view");
    expect(views.length).toBeGreaterThanOrEqual(2);
    expect(views.every((q) => q.bearer)).toBe(true);
    // Every node that ran is timed, and the sampler lands in sampling.
    expect(r.stages?.nodes.map((n) => n.node)).toContain(NODE.sampler);
    expect(r.stages?.nodes.find((n) => n.node === NODE.sampler)?.classType).toBe("KSampler");
    expect(r.stages?.samplingS).toBeGreaterThanOrEqual(0);
  });

  it("without an instance timeline (ACS, compose) the smoke still passes and says why", async () => {
    const d = await double({ token: TEST_TOKEN });
    const r = await smoke(d);
    expect(r.exitCode).toBe(0);
    expect(r.coldStart.instance).toBeNull();
    expect(r.coldStart.instanceNote).toBe(
      "the server has no boot timeline (only ECS hosts record one)",
    );
    expect(r.coldStart.firstHealthzAt).not.toBeNull();
    expect(r.coldStart.healthzAfterDeployS).toBeNull();
  });
});

describe("vace status's read of the timeline, against the double", () => {
  it("reads it with the token; a wrong token or nothing listening is a note, never a throw", async () => {
    const d = await double({ token: TEST_TOKEN });
    const folder = join(d.dirs.output, TIMELINE_VIEW.subfolder);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, TIMELINE_VIEW.filename), JSON.stringify(INSTANCE));
    const read = await readInstanceTimeline({ url: d.url, token: TEST_TOKEN });
    expect(read.note).toBeNull();
    expect(read.instance?.phases.map((p) => p.phase)).toEqual([...BOOT_PHASES]);
    const refused = await readInstanceTimeline({ url: d.url, token: "wrong-token" });
    expect(refused.instance).toBeNull();
    expect(refused.note).toMatch(/^the boot timeline could not be read: .*token/i);
    const url = d.url;
    await d.close();
    const down = await readInstanceTimeline({ url, token: TEST_TOKEN }, 2_000);
    expect(down.instance).toBeNull();
    expect(down.note).toMatch(/^the boot timeline could not be read: /);
  });
});
