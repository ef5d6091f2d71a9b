import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { coldStartReport } from "./cold-start";
import { PROFILES, samplingCost } from "./profiles";
import { renderJUnit, type SmokeReport, serverInfo } from "./report";

function report(over: Partial<SmokeReport> = {}): SmokeReport {
  return {
    ok: true,
    exitCode: 0,
    profile: "ci",
    url: "https://203.0.113.10/",
    startedAt: "2026-01-02T03:04:05.678Z",
    finishedAt: "2026-01-02T03:05:00.000Z",
    params: {
      prompt: "一个女孩 & <apple>",
      negative: "",
      seed: 7,
      width: 480,
      height: 480,
      frames: 9,
      fps: 16,
      steps: 4,
      cfg: 1,
      image: { source: "generated", uploadedAs: "r.png" },
    },
    cost: samplingCost(PROFILES.ci),
    clientId: "c",
    promptId: "p-1",
    tracking: "websocket",
    historyRetries: 0,
    transientErrors: 0,
    server: serverInfo({
      system: { comfyui_version: "0.3.64", pytorch_version: "2.8.0" },
      devices: [{ name: "cuda:0 NVIDIA H100 : cudaMallocAsync", vram_total: 8e10 }],
    }),
    timings: {
      ready: 1,
      preflight: 0.1,
      upload: 0.2,
      queueWait: 0.3,
      execution: 40,
      download: 0.5,
      verify: 0.4,
    },
    video: { file: "/o/v.mp4", bytes: 1, filename: "v.mp4", subfolder: "", type: "output" },
    verification: {
      ok: true,
      codec: "avc1.64001e",
      width: 480,
      height: 480,
      frames: 9,
      fps: 16,
      durationS: 0.5625,
      checks: [
        { name: "codec", ok: true, expected: "H.264", actual: "avc1.64001e" },
        { name: "width", ok: true, expected: 480, actual: 480 },
      ],
    },
    content: { mode: "auto", ran: true, skipped: null },
    error: null,
    coldStart: coldStartReport({ instance: null, instanceNote: "not an ECS host" }),
    stages: null,
    ...over,
  };
}

function parse(xml: string) {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => ["testcase", "property"].includes(name),
  }).parse(xml);
  const suite = doc.testsuites.testsuite;
  const cases: Array<Record<string, unknown>> = suite.testcase;
  // The totals must agree with the cases, at both levels.
  for (const level of [doc.testsuites, suite]) {
    expect(Number(level["@_tests"])).toBe(cases.length);
    for (const k of ["failure", "error", "skipped"] as const) {
      expect(
        Number(level[`@_${k === "failure" ? "failures" : k === "error" ? "errors" : "skipped"}`]),
      ).toBe(cases.filter((c) => c[k] !== undefined).length);
    }
  }
  return { doc, suite, cases };
}

describe("renderJUnit", () => {
  it("has one case per phase and per verification check, all passing, with run properties", () => {
    const { suite, cases } = parse(renderJUnit(report()));
    expect(cases.map((c) => c["@_name"])).toEqual([
      "ready: gateway and ComfyUI ready",
      "preflight: nodes and model files present",
      "upload: upload reference image",
      "queueWait: prompt accepted and started",
      "execution: workflow executed",
      "download: video downloaded",
      "verify: video verified",
      "codec",
      "width",
    ]);
    expect(cases[4]?.["@_time"]).toBe("40.000");
    expect(suite["@_timestamp"]).toBe("2026-01-02T03:04:05");
    const props = Object.fromEntries(
      suite.properties.property.map((p: Record<string, string>) => [p["@_name"], p["@_value"]]),
    );
    expect(props).toMatchObject({
      url: "https://203.0.113.10/",
      gpu: "cuda:0 NVIDIA H100 : cudaMallocAsync",
      sampling_cost: "16",
      comfyui_version: "0.3.64",
    });
  });

  it("marks the failed phase (failure for a wrong result, error for a timeout) and skips the rest", () => {
    const failed = parse(
      renderJUnit(
        report({
          ok: false,
          exitCode: 1,
          verification: null,
          timings: { ready: 1, preflight: 1, upload: 1, queueWait: 1, execution: 2 },
          error: {
            phase: "execution",
            kind: "execution",
            message: "execution_error in node 24 (KSampler): OOM \u0007<x>",
          },
        }),
      ),
    ).cases;
    expect(failed[4]?.failure).toMatchObject({
      "@_type": "execution",
      "@_message": "execution_error in node 24 (KSampler): OOM <x>",
    });
    expect(failed.slice(5).map((c) => c.skipped)).toEqual([
      { "@_message": "not reached: execution failed" },
      { "@_message": "not reached: execution failed" },
    ]);
    const timedOut = parse(
      renderJUnit(
        report({
          ok: false,
          exitCode: 4,
          verification: null,
          timings: { ready: 600 },
          error: { phase: "ready", kind: "timeout", message: "ready timed out" },
        }),
      ),
    ).cases;
    expect(timedOut[0]?.error).toMatchObject({ "@_type": "timeout" });
    expect(timedOut.filter((c) => c.skipped)).toHaveLength(6);
  });

  it("turns failed verification checks into failures", () => {
    const r = report();
    r.verification = {
      ...(r.verification as NonNullable<SmokeReport["verification"]>),
      ok: false,
      checks: [{ name: "width", ok: false, expected: 480, actual: 832 }],
    };
    const { cases } = parse(renderJUnit(r));
    expect(cases.at(-1)?.failure).toMatchObject({ "@_message": "expected 480, got 832" });
  });
});

describe("serverInfo", () => {
  it("keeps versions and the first device, tolerating missing fields", () => {
    expect(serverInfo({})).toEqual({
      comfyuiVersion: null,
      pytorchVersion: null,
      pythonVersion: null,
      os: null,
      gpu: null,
      vramTotalBytes: null,
    });
    expect(
      serverInfo(
        report().server && {
          system: { os: "linux", python_version: "3.12" },
          devices: [{ name: "cpu", vram_total: 0 }],
        },
      ),
    ).toMatchObject({ os: "linux", gpu: "cpu", vramTotalBytes: 0 });
  });
});
