/**
 * refused_closer.py against the real gateway (docker/gateway/run → caddy 2.6.2) and the real
 * `ss -K`: slow unauthenticated bodies are answered at once by Caddy and then closed by the
 * closer within seconds, where Caddy alone holds them for read_body (15 min). Issue 9, item 2.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../../../docker/gateway/launch";
import { rawExchange, slowAuthedPrompt } from "../../../../docker/gateway/raw-exchange";
import { requireBinary } from "../../../../test/binaries";
import {
  type RecordingUpstream,
  startRecordingUpstream,
} from "../../../../test/doubles/upstream/recording-upstream";
import { FILES_DIR } from "../files";

requireBinary("caddy");
requireBinary("python3");
requireBinary("ss");

const SCRIPT = join(FILES_DIR, "refused_closer.py");
const GRACE_S = 1;
const token = randomBytes(32).toString("hex");
let scratch: string;
let upstream: RecordingUpstream;
let guarded: Gateway;
let unguarded: Gateway;
let closer: ChildProcess;
let closerOutput = "";

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "vace-closer-"));
  const accessLog = join(scratch, "access.log");
  upstream = await startRecordingUpstream();
  const env = { VACE_TOKEN: token, VACE_UPSTREAM: upstream.hostPort, VACE_TLS: "off" };
  [guarded, unguarded] = await Promise.all([
    startGateway({ ...env, VACE_ACCESS_LOG: accessLog }),
    startGateway({ ...env, VACE_ACCESS_LOG: join(scratch, "unguarded.log") }),
  ]);
  const args = [SCRIPT, "--log", accessLog, "--port", String(guarded.port)];
  closer = spawn("python3", [...args, "--grace", String(GRACE_S), "--interval", "0.2"]);
  await new Promise<void>((resolve, reject) => {
    closer.stdout?.on("data", (d: Buffer) => {
      closerOutput += d.toString();
      if (closerOutput.includes("following")) resolve();
    });
    closer.stderr?.on("data", (d: Buffer) => {
      closerOutput += d.toString();
    });
    closer.on("exit", (code) => reject(new Error(`closer exited ${code}:\n${closerOutput}`)));
  });
});

afterAll(async () => {
  closer?.kill();
  await Promise.all([guarded?.stop(), unguarded?.stop(), upstream?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

const head = (framing: string, extra = "") =>
  `POST /prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}${framing}\r\n`;
/** One body byte and then nothing, under Go's 256 KiB drain limit or chunked, refused 401/403. */
const SHAPES: [string, RegExp][] = [
  [`${head("Content-Length: 200000\r\n")}{`, /^HTTP\/1\.1 401 /],
  [`${head("Transfer-Encoding: chunked\r\n")}1\r\n{\r\n`, /^HTTP\/1\.1 401 /],
  [`${head("Content-Length: 1000\r\n", "Sec-Fetch-Site: cross-site\r\n")}{`, /^HTTP\/1\.1 403 /],
];
const slowBodies = (gateway: Gateway, count: number, limitMs: number) =>
  Promise.all(
    Array.from({ length: count }, (_, i) => {
      const [payload] = SHAPES[i % SHAPES.length] ?? [""];
      return rawExchange(connect(gateway.port, "127.0.0.1"), (s) => s.write(payload), limitMs);
    }),
  );

describe("refused_closer.py with the real gateway", () => {
  it("closes 60 refused slow bodies within seconds; without it Caddy holds them", async () => {
    const limitMs = 15_000;
    const heldMs = 6_000;
    const [closed, held] = await Promise.all([
      slowBodies(guarded, 60, limitMs),
      slowBodies(unguarded, 6, heldMs),
    ]);
    for (const [i, r] of closed.entries()) {
      expect(r.response).toMatch(SHAPES[i % SHAPES.length]?.[1] ?? /never/);
      expect(r.closedByServer, `connection ${i} was still open after ${limitMs} ms`).toBe(true);
      // Not before the grace: the answer must leave first.
      expect(r.ms).toBeGreaterThanOrEqual(GRACE_S * 1000 - 50);
    }
    const slowest = Math.max(...closed.map((r) => r.ms));
    console.log(`refused slow bodies closed after at most ${slowest} ms (grace ${GRACE_S} s)`);
    // The control: the same requests at a gateway nobody guards stay open (read_body 15 min).
    for (const r of held) {
      expect(r.response).toMatch(/^HTTP\/1\.1 40[13] /);
      expect(r.closedByServer).toBe(false);
    }
    expect(closerOutput).toMatch(/closed \d+ refused connection/);
    expect(upstream.requests.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("never touches an authenticated slow upload running beside refused ones", async () => {
    // Paused for longer than the grace, while refused requests come and go.
    const upload = slowAuthedPrompt(guarded.url, token, "closer-authed", GRACE_S * 1000 + 1500);
    const [res, refused] = await Promise.all([upload, slowBodies(guarded, 6, 15_000)]);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(upstream.received("case=closer-authed")).toHaveLength(1);
    expect(refused.every((r) => r.closedByServer)).toBe(true);
  });
});

describe("refused_closer.py's log follower", () => {
  const follow = (script: string) =>
    spawnSync(
      "python3",
      ["-c", `import sys; sys.path.insert(0, ${JSON.stringify(FILES_DIR)})\n${script}`],
      {
        encoding: "utf8",
      },
    );

  it("reads lines across Caddy's roll (rename, then a new file), never a partial line", () => {
    const dir = mkdtempSync(join(tmpdir(), "vace-closer-log-"));
    try {
      const log = join(dir, "access.log");
      writeFileSync(log, '{"old": "before the start is skipped"}\n');
      const result = follow(`
import os
from refused_closer import LogFollower
log = ${JSON.stringify(log)}
f = LogFollower(log)
print(f.lines())
with open(log, "a") as h: h.write('{"n": 1}\\n{"n": 2, "partial')
print(f.lines())
with open(log, "a") as h: h.write('": 0}\\n{"n": 3}\\n')
os.rename(log, ${JSON.stringify(join(dir, "access-2026-12-02T06-00-00.000.log"))})
with open(log, "w") as h: h.write('{"n": 4}\\n')
print(f.lines())
`);
      expect(result.stderr).toBe("");
      expect(result.stdout.trim().split("\n")).toEqual([
        "[]",
        `[b'{"n": 1}']`,
        `[b'{"n": 2, "partial": 0}', b'{"n": 3}', b'{"n": 4}']`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes only refused lines with a client address, whatever else the log holds", () => {
    const lines = [
      '{"status": 401, "request": {"remote_ip": "203.0.113.9", "remote_port": "51000"}}',
      '{"status": 403, "request": {"remote_ip": "2001:db8::1", "remote_port": "443"}}',
      '{"status": 200, "request": {"remote_ip": "203.0.113.9", "remote_port": "51001"}}',
      '{"status": 401, "request": {"remote_ip": "203.0.113.9"}}',
      "not json",
      '{"status": 401}',
    ];
    const result = follow(`
from refused_closer import refused_peer, ss_filter
peers = [p for p in (refused_peer(l) for l in ${JSON.stringify(lines)}) if p]
print(peers)
print(ss_filter(443, peers))
`);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim().split("\n")).toEqual([
      "[('203.0.113.9', 51000), ('2001:db8::1', 443)]",
      "( sport = :443 ) and ( dst 203.0.113.9:51000 or dst [2001:db8::1]:443 )",
    ]);
  });
});
