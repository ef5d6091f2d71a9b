import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { freePort, type Gateway, startGateway } from "../../../../docker/gateway/launch";
import { requireBinary } from "../../../../test/binaries";
import {
  type RecordingUpstream,
  startRecordingUpstream,
} from "../../../../test/doubles/upstream/recording-upstream";
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
    // [now, booted_at, last_request_at, in_flight, queue, unknown_since]: idle 60 min, grace
    // 30 min, an unreadable queue counts as busy for 60 min.
    const cases: [string, number, number, number | null, number, string, number | null][] = [
      ["grace", 10 * 60, 0, null, 0, "idle", null],
      ["busy", 5 * H, 0, null, 0, "busy", null],
      ["in flight", 5 * H, 0, 1 * H, 2, "idle", null],
      ["unreadable queue, 59 min", 5 * H, 0, null, 0, "unknown", 5 * H - 59 * 60],
      ["unreadable queue, 61 min", 5 * H, 0, null, 0, "unknown", 5 * H - 61 * 60],
      ["unreadable queue, 61 min, recent request", 5 * H, 0, 5 * H - 60, 0, "unknown", 3 * H],
      ["recent request", 5 * H, 0, 5 * H - 59 * 60, 0, "idle", null],
      ["idle since boot", 61 * 60, 0, null, 0, "idle", null],
      ["idle, old request", 5 * H, 0, 2 * H, 0, "idle", null],
      ["comfyui down", 5 * H, 0, 3 * H, 0, "down", null],
      ["request before this boot", 5 * H, 4.5 * H, 1 * H, 0, "idle", null],
    ];
    const port = await freePort(); // nothing listens there: ComfyUI not started
    cloud.queue = { running: [], pending: [[1, "p1", {}, {}, []]] };
    const busy = `${cloud.url}/queue`;
    denied.queue = "error";
    const result = (await pythonJson(
      [
        "import json, sys, idle_watchdog as w",
        "from idle_decision import Evidence, Policy, decide",
        "cases = json.loads(sys.argv[1])",
        "policy = Policy(3600, 1800, 3600)",
        "decisions = {c[0]: decide(Evidence(*c[1:]), policy)[0] for c in cases}",
        "states = [w.queue_state(u) for u in sys.argv[2:]]",
        "print(json.dumps({'decisions': decisions, 'states': states}))",
      ].join("\n"),
      [JSON.stringify(cases), busy, `${denied.url}/queue`, `http://127.0.0.1:${port}/queue`],
    )) as { decisions: Record<string, boolean>; states: string[] };
    expect(result.decisions).toEqual({
      grace: false,
      busy: false,
      "in flight": false,
      "unreadable queue, 59 min": false,
      "unreadable queue, 61 min": true,
      "unreadable queue, 61 min, recent request": false,
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

    // Caddy rolled the file (renamed it, as lumberjack does): only refused requests since. The
    // request seen before still counts.
    renameSync(log, join(dir, "recent-2026-12-02T03-00-00.000.log"));
    writeFileSync(log, `${scanners(ago(1))}\n`);
    const rolled = await runWatchdog(cloud, runDir, log);
    expect(rolled.stderr).toContain("staying up: last request 5 min ago");
    expect(cloud.callsTo("StopInstance")).toHaveLength(stops);
  });

  it("a queue unreadable for longer than IDLE_UNKNOWN_LIMIT_MINUTES no longer keeps it up", async () => {
    writeFileSync(join(dir, "uptime"), "18000.00 30000.00\n"); // up 5 h
    const runDir = join(dir, "hung");
    const log = join(dir, "hung.log");
    writeFileSync(log, `${accessLine(ago(120), 200)}\n`);
    const hung = new FakeCloud();
    await hung.start();
    try {
      hung.queue = "error"; // a hung or confused ComfyUI: 500 with an HTML body
      const first = await runWatchdog(hung, runDir, log);
      expect(first.stderr).toContain("staying up: ComfyUI's queue could not be read for 0 min");
      // The first unreadable answer is remembered; pretend it came 61 minutes ago.
      const statePath = join(runDir, "idle-state.json");
      const state = JSON.parse(readFileSync(statePath, "utf8"));
      expect(state.unknown_since).toBeGreaterThan(ago(1));
      writeFileSync(statePath, JSON.stringify({ ...state, unknown_since: ago(61) }));
      const later = await runWatchdog(hung, runDir, log);
      expect(later.stderr).toMatch(
        /stopping: no request for 120 min and ComfyUI is unknown \(its queue unreadable for 61 min\)/,
      );
      expect(hung.callsTo("StopInstance")).toHaveLength(1);
    } finally {
      await hung.stop();
    }
  });

  it("--check prints the decision and its evidence, and stores and stops nothing", async () => {
    writeFileSync(join(dir, "uptime"), "18000.00 30000.00\n"); // up 5 h
    const runDir = join(dir, "check");
    const log = join(dir, "check.log");
    writeFileSync(log, `${accessLine(ago(120), 200)}\n${scanners(ago(1))}\n`);
    cloud.queue = { running: [], pending: [] };
    const stops = cloud.callsTo("StopInstance").length;
    const result = await runPython(["idle_watchdog.py", "--check"], {
      ...cloud.env(),
      REGION: "ap-southeast-1",
      IDLE_STOP_MINUTES: "60",
      WAN_VACE_RUN_DIR: runDir,
      WAN_VACE_ACCESS_LOG: log,
      WAN_VACE_PROC_UPTIME: join(dir, "uptime"),
    });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toBe("decision: stop: no request for 120 min and ComfyUI is idle");
    expect(lines).toContain("in flight to ComfyUI: 0");
    expect(lines).toContain(`queue (${cloud.url}/queue): idle`);
    expect(lines).toContain(
      "policy: idle 60 min, grace 30 min, unreadable queue counts as busy for 60 min",
    );
    expect(lines.find((l) => l.startsWith("booted: "))).toMatch(/\(300 min ago\)$/);
    expect(existsSync(runDir)).toBe(false);
    expect(cloud.callsTo("StopInstance")).toHaveLength(stops);
    const usage = await runPython(["idle_watchdog.py", "--dry-run"], {});
    expect([usage.code, usage.stderr.trim()]).toEqual([2, "usage: idle_watchdog.py [--check]"]);
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

/**
 * The watchdog against the real gateway (docker/gateway/run → caddy) and its real access log,
 * in front of a recording ComfyUI stand-in whose port plays ComfyUI's 8188.
 */
describe("idle watchdog, evidence from the real gateway", () => {
  requireBinary("caddy");
  requireBinary("python3");
  const token = randomBytes(32).toString("hex");
  const bearer = { authorization: `Bearer ${token}` };
  let upstream: RecordingUpstream;
  let gw: Gateway;
  let dir = "";
  let log = "";
  let noCloud = "";
  beforeAll(async () => {
    noCloud = `http://127.0.0.1:${await freePort()}`; // StopInstance cannot succeed here
    dir = mkdtempSync(join(tmpdir(), "wan-vace-idle-gw-"));
    log = join(dir, "access.log");
    writeFileSync(join(dir, "uptime"), "18000.00 30000.00\n"); // up 5 h
    upstream = await startRecordingUpstream();
    gw = await startGateway({
      VACE_TOKEN: token,
      VACE_UPSTREAM: upstream.hostPort,
      VACE_TLS: "off",
      VACE_ACCESS_LOG: log,
    });
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), upstream?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const watchdog = (args: string[], runDir: string, accessLog = log) =>
    runPython(["idle_watchdog.py", ...args], {
      IDLE_STOP_MINUTES: "60",
      IDLE_GRACE_MINUTES: "30",
      WAN_VACE_RUN_DIR: join(dir, runDir),
      WAN_VACE_ACCESS_LOG: accessLog,
      WAN_VACE_PROC_UPTIME: join(dir, "uptime"),
      WAN_VACE_QUEUE_URL: `http://${upstream.hostPort}/queue`,
      WAN_VACE_METADATA_URL: noCloud,
      REGION: "ap-southeast-1",
    });
  const send = async (path: string, headers: Record<string, string>) => {
    const res = await request(`${gw.url}${path}`, { headers });
    await res.body.dump();
    return res.statusCode;
  };
  /** Caddy writes a line once a request completes: wait until `count` lines are there. */
  const untilLogged = async (count: number) => {
    for (let i = 0; i < 400; i++) {
      const lines = existsSync(log) ? readFileSync(log, "utf8").split("\n").length - 1 : 0;
      if (lines >= count) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the access log never reached ${count} lines`);
  };
  const inFlight = async () =>
    Number(
      await pythonJson("import idle_watchdog as w, sys; print(w.in_flight(int(sys.argv[1])))", [
        upstream.hostPort.split(":")[1] ?? "",
      ]),
    );

  it("no volume of refused requests hides an authenticated one, across a log roll", async () => {
    expect(await send("/x", {})).toBe(401);
    await untilLogged(1);
    // A first run stores where it stopped reading.
    const first = await watchdog([], "flood");
    expect(first.stderr).toContain("stopping: no request for 300 min");
    expect(first.code).toBe(1); // no cloud to stop: the next run would retry

    // The reproduction from issue 9: one authenticated request, then 800 wrong-Bearer ones.
    expect(await send("/queue", bearer)).toBe(200);
    for (let sent = 0; sent < 800; sent += 40) {
      const wrong = { authorization: `Bearer ${randomBytes(32).toString("hex")}` };
      const statuses = await Promise.all(Array.from({ length: 40 }, () => send("/", wrong)));
      expect(new Set(statuses)).toEqual(new Set([401]));
    }
    await untilLogged(802);
    // More than the 256 KiB tail the watchdog used to read.
    expect(statSync(log).size).toBeGreaterThan(256 * 1024);
    // Then Caddy rolls the file (a rename: Caddy's roll_uncompressed keeps the inode) and a far
    // bigger flood of refused lines fills the new one.
    renameSync(log, join(dir, "access-2026-12-02T03-00-00.000.log"));
    const refused = JSON.stringify({ ts: Date.now() / 1000, status: 401, request: { uri: "/" } });
    writeFileSync(log, `${refused}\n`.repeat(40_000));
    const check = await watchdog(["--check"], "flood");
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^decision: stay up: last request 0 min ago$/m);
    expect(check.stdout).toMatch(/^last authenticated request: \S+ \(0 min ago\)$/m);
    expect(check.stdout).toContain("check only: nothing stored, nothing stopped");
  });

  it("sees requests still in flight: a slow upload and an open WebSocket, but no refused one", async () => {
    const empty = join(dir, "no-requests.log"); // the log says nothing: only sockets count
    expect(await inFlight()).toBe(0);
    const upload = (headers: Record<string, string>) => {
      const req = httpRequest(`${gw.url}/prompt`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
      });
      req.on("error", () => {});
      const answered = new Promise<number>((resolve) =>
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }),
      );
      req.write(`{"client_id": "${"x".repeat(1024)}", "prompt": `); // chunked, unfinished
      return { req, answered };
    };
    const refused = upload({});
    expect(await refused.answered).toBe(401);
    const slow = upload(bearer);
    for (let i = 0; i < 200 && (await inFlight()) === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    const during = await watchdog(["--check"], "inflight", empty);
    expect(during.stdout).toMatch(/^in flight to ComfyUI: 1$/m);
    expect(during.stdout).toMatch(
      /^decision: stay up: 1 request\(s\) or socket\(s\) to ComfyUI still open$/m,
    );
    slow.req.end("{}}");
    expect(await slow.answered).toBe(200);
    refused.req.destroy();

    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/ws?clientId=idle`, {
      headers: bearer,
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    expect(await inFlight()).toBe(1);
    ws.close();
    // No keep-alive to ComfyUI: once done, nothing stays open, so nothing looks in flight.
    for (let i = 0; i < 200 && (await inFlight()) > 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    const after = await watchdog(["--check"], "inflight", empty);
    expect(after.stdout).toMatch(/^in flight to ComfyUI: 0$/m);
    expect(after.stdout).toMatch(/^decision: stop: no request for 300 min and ComfyUI is idle$/m);
  });

  it("lines rolled away before a run are assumed to hold a request, never ignored", async () => {
    const runDir = join(dir, "lost");
    const lostLog = join(dir, "lost.log");
    writeFileSync(lostLog, `${accessLine(ago(20), 401)}\n${accessLine(ago(1), 401)}\n`);
    // The last run read a file that is gone now (Caddy deleted it after roll_keep newer ones).
    await pythonJson(
      "import os, sys; os.makedirs(sys.argv[1]); open(sys.argv[1] + '/idle-state.json', 'w').write('{\"log\": {\"ino\": 1, \"off\": 99}}'); print(1)",
      [runDir],
    );
    const check = await watchdog(["--check"], "lost", lostLog);
    expect(check.stdout).toMatch(
      /^access log lines were lost \(rolled away\): a request is assumed at \S+ \(20 min ago\)$/m,
    );
    expect(check.stdout).toMatch(/^decision: stay up: last request 20 min ago$/m);
  });
});
