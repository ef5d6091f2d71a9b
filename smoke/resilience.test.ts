/**
 * The smoke against a misbehaving network and server: faults injected by the ComfyUI double on chosen
 * routes, a wrong pinned certificate, a missing ffmpeg, and a bug in a caller's callback. Each run must
 * end with a report whose exit code and message say what happened.
 */
import { readFile } from "node:fs/promises";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { useSmokeHarness } from "../test/doubles/comfyui/harness";
import { UNRELATED_CERT } from "../test/doubles/comfyui/server";
import { renderJUnit } from "./report";
import type { SmokeOptions } from "./run";

// Polls every 40 ms even with a healthy socket, so background polls happen while the double's
// 4 sampler steps (60 ms each) run.
const h = useSmokeHarness("vace-smoke-faults-", { pollMs: { slow: 40, fast: 40 } });
const double = h.double;
/** The harness's smoke, with its log lines collected into `lines`. */
const smoke = (
  d: Parameters<typeof h.smoke>[0],
  extra: Partial<SmokeOptions> = {},
  lines: string[] = [],
) => h.smoke(d, { log: (line) => lines.push(line), ...extra });

describe("background polls during tracking", () => {
  it("a WebSocket-tracked run survives a 502 and a reset on /history mid-run, and counts them", async () => {
    const d = await double({
      stepMs: 60,
      faults: [
        { path: "/history/", fault: 502 },
        { path: "/history/", fault: "reset" },
      ],
    });
    const lines: string[] = [];
    const r = await smoke(d, {}, lines);
    expect(r.error).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.tracking).toBe("websocket");
    expect(d.received.faults).toEqual([
      `502 GET /history/${r.promptId}`,
      `reset GET /history/${r.promptId}`,
    ]);
    expect(r.transientErrors).toBe(2);
    expect(lines.filter((l) => l.includes("poll failed, retrying"))).toHaveLength(2);
    expect(lines.join("\n")).toMatch(/GET \/history\/\S+ answered HTTP 502/);
  });

  it("a polling-only run survives a 503 on /queue", async () => {
    // /queue is polled only until the run starts: 4 steps of 100 ms leave room for the 40 ms poll.
    const d = await double({ stepMs: 100, faults: [{ path: "/queue", fault: 503 }] });
    const r = await smoke(d, { useSocket: false });
    expect(r.error).toBeNull();
    expect(r.tracking).toBe("polling");
    expect(d.received.faults).toEqual(["503 GET /queue"]);
    expect(r.transientErrors).toBe(1);
  });

  it.each([
    [404, 1, "check", /GET \/history\/\S+ answered HTTP 404/],
    [401, 3, "auth", /the gateway rejected the token \(HTTP 401 on GET \/history\//],
  ])("a %i during tracking ends the run (exit %i)", async (status, code, kind, message) => {
    const d = await double({ stepMs: 60, faults: [{ path: "/history/", fault: status }] });
    const r = await smoke(d);
    expect(r.exitCode).toBe(code);
    expect(r.error).toMatchObject({ phase: "execution", kind });
    expect(r.error?.message).toMatch(message);
    expect(r.transientErrors).toBe(0);
  });
});

describe("bodies that cannot be read", () => {
  it("a connection dropped mid-answer is 'unreachable' (exit 4), naming the route", async () => {
    const d = await double({ faults: [{ path: "/object_info/", fault: "reset-body" }] });
    const r = await smoke(d);
    expect(r.exitCode).toBe(4);
    expect(r.error).toMatchObject({ phase: "preflight", kind: "unreachable" });
    expect(r.error?.message).toMatch(
      /^the connection to 127\.0\.0\.1:\d+ dropped while reading the answer to GET \/object_info\/\S+ \(HTTP 200, UND_ERR_SOCKET\)/,
    );
    expect(d.received.prompts).toHaveLength(0);
  });

  it("an HTML page with status 200 is a check failure (exit 1), naming the route", async () => {
    const d = await double({ faults: [{ path: "/system_stats", fault: "html" }] });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatchObject({ phase: "ready", kind: "check" });
    expect(r.error?.message).toContain(
      'GET /system_stats answered HTTP 200 with a body that is not JSON (text/html; charset=utf-8): "<!doctype html>',
    );
  });

  it("an unexpected exception still yields a report naming the phase (exit 1)", async () => {
    const d = await double();
    const r = await smoke(d, {
      onComplete: () => {
        throw new TypeError("boom");
      },
    });
    expect(r.exitCode).toBe(1);
    expect(r.error).toEqual({
      phase: "execution",
      kind: "internal",
      message: "unexpected error: TypeError: boom",
    });
    expect(r.finishedAt).not.toBe("");
    const xml = new XMLParser({ ignoreAttributes: false }).parse(renderJUnit(r));
    expect(xml.testsuites["@_errors"]).toBe("1");
  });
});

it("a certificate that does not match --ca fails at once (exit 4), not after the ready budget", async () => {
  const d = await double({}, true);
  const t0 = performance.now();
  const r = await smoke(d, {
    ca: await readFile(UNRELATED_CERT, "utf8"),
    phaseTimeoutsMs: { ready: 10_000 },
  });
  expect(performance.now() - t0).toBeLessThan(3_000);
  expect(r.exitCode).toBe(4);
  expect(r.error?.phase).toBe("ready");
  expect(r.error?.message).toMatch(
    /^TLS to 127\.0\.0\.1:\d+ failed \(DEPTH_ZERO_SELF_SIGNED_CERT\) on GET \/healthz: the gateway's certificate is not the one --ca pins/,
  );
  expect(r.error?.message).toContain("pulumi stack output caCertificate > gateway.pem");
});

describe("content checks", () => {
  const junitCases = (xml: string) =>
    new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === "testcase",
    }).parse(xml).testsuites.testsuite.testcase as Array<Record<string, unknown>>;

  it("records, warns about and reports in JUnit a skip when ffmpeg is not on PATH (auto)", async () => {
    const d = await double();
    const lines: string[] = [];
    const savedPath = process.env.PATH;
    try {
      // Only after the double has rendered (it needs ffmpeg) and before the smoke verifies.
      const r = await smoke(d, { onComplete: () => (process.env.PATH = h.dir()) }, lines);
      expect(r.error).toBeNull();
      expect(r.content).toEqual({
        mode: "auto",
        ran: false,
        skipped:
          "ffmpeg is not on PATH, so the content checks (blank, frozen, noise) did not run; install ffmpeg or pass --content require",
      });
      expect(r.verification?.checks.some((c) => c.name.startsWith("content."))).toBe(false);
      expect(lines).toContain(`  warning: content checks skipped: ${r.content?.skipped}`);
      expect(junitCases(renderJUnit(r)).at(-1)).toMatchObject({
        "@_name": "content (blank, frozen, noise)",
        skipped: { "@_message": r.content?.skipped },
      });
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it("skips them on --content skip, and says so", async () => {
    const d = await double();
    const r = await smoke(d, { content: "skip" });
    expect(r.error).toBeNull();
    expect(r.content).toEqual({ mode: "skip", ran: false, skipped: "skipped by --content skip" });
    expect(r.verification?.checks.some((c) => c.name.startsWith("content."))).toBe(false);
  });
});
