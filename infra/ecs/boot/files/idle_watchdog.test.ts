import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../../docker/gateway/launch";
import { requireBinary } from "../../../../test/binaries";
import { FakeCloud, INSTANCE_ID, runPython } from "./fake-cloud";

/**
 * One line of the gateway's access log as Caddy 2.6 writes it (JSON, `ts` in unix seconds as a
 * float, headers deleted by the Caddyfile's filter); the shape was copied from a real Caddy run.
 */
function accessLine(ts: number, status: number, uri = "/queue"): string {
  return JSON.stringify({
    level: status >= 400 ? "error" : "info",
    ts,
    logger: "http.log.access.log0",
    msg: "handled request",
    request: {
      remote_ip: "203.0.113.7",
      remote_port: "51234",
      proto: "HTTP/1.1",
      method: "GET",
      host: "vace.example.com",
      uri,
    },
    user_id: "",
    duration: 0.000412,
    size: 24,
    status,
    resp_headers: { "Content-Type": ["application/json"] },
  });
}
const ago = (minutes: number) => Date.now() / 1000 - minutes * 60;
/** An internet scanner's refused requests: they must never count as use. */
const scanners = (ts: number) =>
  [accessLine(ts, 401, "/"), accessLine(ts, 401, "/.env"), accessLine(ts, 403, "/prompt")].join(
    "\n",
  );

async function pythonJson(code: string, args: string[]): Promise<unknown> {
  const result = await runPython(["-c", code, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe("idle watchdog", () => {
  requireBinary("python3");
  const cloud = new FakeCloud();
  const denied = new FakeCloud({ stopError: "Forbidden.RAM" });
  let dir = "";
  beforeAll(async () => {
    await Promise.all([cloud.start(), denied.start()]);
    dir = mkdtempSync(join(tmpdir(), "wan-vace-idle-"));
  });
  afterAll(async () => {
    await Promise.all([cloud.stop(), denied.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("decide() and queue_state() cover every branch", async () => {
    const H = 3600;
    // [now, booted_at, last_request_at, queue] with idle 60 min, grace 30 min.
    const cases: [string, number, number, number | null, string][] = [
      ["grace", 10 * 60, 0, null, "idle"],
      ["busy", 5 * H, 0, null, "busy"],
      ["unreadable queue", 5 * H, 0, null, "unknown"],
      ["recent request", 5 * H, 0, 5 * H - 59 * 60, "idle"],
      ["idle since boot", 61 * 60, 0, null, "idle"],
      ["idle, old request", 5 * H, 0, 2 * H, "idle"],
      ["comfyui down", 5 * H, 0, 3 * H, "down"],
      ["request before this boot", 5 * H, 4.5 * H, 1 * H, "idle"],
    ];
    const port = await freePort(); // nothing listens there: ComfyUI not started
    cloud.queue = { running: [], pending: [[1, "p1", {}, {}, []]] };
    const busy = `${cloud.url}/queue`;
    denied.queue = "error";
    const result = (await pythonJson(
      [
        "import json, sys, idle_watchdog as w",
        "cases = json.loads(sys.argv[1])",
        "decisions = {c[0]: w.decide(c[1], c[2], c[3], c[4], 3600, 1800)[0] for c in cases}",
        "states = [w.queue_state(u) for u in sys.argv[2:]]",
        "print(json.dumps({'decisions': decisions, 'states': states}))",
      ].join("\n"),
      [JSON.stringify(cases), busy, `${denied.url}/queue`, `http://127.0.0.1:${port}/queue`],
    )) as { decisions: Record<string, boolean>; states: string[] };
    expect(result.decisions).toEqual({
      grace: false,
      busy: false,
      "unreadable queue": false,
      "recent request": false,
      "idle since boot": true,
      "idle, old request": true,
      "comfyui down": true,
      "request before this boot": false,
    });
    // A pending prompt, an HTTP 500 with a non-JSON body, nothing listening.
    expect(result.states).toEqual(["busy", "unknown", "down"]);
  });

  const runWatchdog = (fake: FakeCloud, runDir: string, accessLog: string) =>
    runPython(["idle_watchdog.py"], {
      ...fake.env(),
      REGION: "ap-southeast-1",
      IDLE_STOP_MINUTES: "60",
      IDLE_GRACE_MINUTES: "30",
      WAN_VACE_RUN_DIR: runDir,
      WAN_VACE_ACCESS_LOG: accessLog,
      WAN_VACE_PROC_UPTIME: join(dir, "uptime"),
    });

  it("busy queue keeps it up; idle stops it with StopCharging exactly once", async () => {
    writeFileSync(join(dir, "uptime"), "18000.00 30000.00\n"); // up 5 h
    const log = join(dir, "access.log");
    // The last real request was 2 h ago; scanners were refused a minute ago (so the file's
    // mtime is recent, which must not count).
    writeFileSync(log, `${accessLine(ago(120), 200)}\n${scanners(ago(1))}\n`);
    const runDir = join(dir, "run");

    cloud.queue = { running: [[0, "p0", {}, {}, []]], pending: [] };
    const busy = await runWatchdog(cloud, runDir, log);
    expect(busy.code).toBe(0);
    expect(busy.stderr).toContain("staying up: ComfyUI has prompts running or pending");
    expect(cloud.callsTo("StopInstance")).toHaveLength(0);

    cloud.queue = { running: [], pending: [] };
    const idle = await runWatchdog(cloud, runDir, log);
    expect(idle.code).toBe(0);
    expect(idle.stderr).toMatch(/stopping: no request for 120 min and ComfyUI is idle/);
    const again = await runWatchdog(cloud, runDir, log);
    expect(again.stderr).toContain("already requested");

    const stops = cloud.callsTo("StopInstance");
    expect(stops).toHaveLength(1);
    expect(stops[0]?.params).toMatchObject({
      InstanceId: INSTANCE_ID,
      StoppedMode: "StopCharging",
      RegionId: "ap-southeast-1",
    });
    expect(cloud.callsTo("DescribeInstances")[0]?.params.InstanceIds).toBe(
      JSON.stringify([INSTANCE_ID]),
    );
    expect(idle.stderr).toContain("StoppedMode=StopCharging");
  });

  it("only authenticated requests count, newest first, remembered across log rotation", async () => {
    writeFileSync(join(dir, "uptime"), "18000.00 30000.00\n"); // up 5 h
    const log = join(dir, "recent.log");
    const runDir = join(dir, "recent");
    writeFileSync(log, `${accessLine(ago(130), 200)}\n${accessLine(ago(5), 200, "/history/x")}\n`);
    appendFileSync(log, `not json\n${scanners(ago(1))}\n{"ts": "soon", "status": 200}\n`);
    cloud.queue = { running: [], pending: [] };
    const stops = cloud.callsTo("StopInstance").length;
    const recent = await runWatchdog(cloud, runDir, log);
    expect(recent.stderr).toContain("staying up: last request 5 min ago");

    // Caddy rolled the file: only refused requests since. The request seen before still counts.
    writeFileSync(log, `${scanners(ago(1))}\n`);
    const rolled = await runWatchdog(cloud, runDir, log);
    expect(rolled.stderr).toContain("staying up: last request 5 min ago");
    expect(cloud.callsTo("StopInstance")).toHaveLength(stops);
  });

  it("reads only the log's tail: a refused flood hides older requests, and cut lines are skipped", async () => {
    const log = join(dir, "flood.log");
    const flood = Array.from({ length: 400 }, () => accessLine(ago(1), 401)).join("\n");
    writeFileSync(log, `${accessLine(ago(3), 200)}\n${flood}\n`);
    const result = (await pythonJson(
      [
        "import json, sys, idle_watchdog as w",
        "whole = w.last_request_in(w.read_tail(sys.argv[1], 1 << 20))",
        "tail = w.read_tail(sys.argv[1], 4096)",
        "print(json.dumps({'whole': whole, 'tail': w.last_request_in(tail), 'first': tail[0][:1]}))",
      ].join("\n"),
      [log],
    )) as { whole: number | null; tail: number | null; first: string };
    expect(result.whole).toBeGreaterThan(ago(4));
    expect(result.tail).toBeNull();
    expect(result.first).toBe("{"); // the partial first line was dropped
  });

  it("a refused StopInstance fails the run and leaves no marker, so the next run retries", async () => {
    const runDir = join(dir, "denied");
    denied.queue = { running: [], pending: [] };
    const result = await runWatchdog(denied, runDir, join(dir, "no-such.log"));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Forbidden.RAM");
    expect(existsSync(join(runDir, "stop-requested"))).toBe(false);
  });
});
