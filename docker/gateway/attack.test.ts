/**
 * Issue 9's attacks, replayed against the real gateway (docker/gateway/run → caddy) on loopback,
 * bounded in count and time: slow unauthenticated bodies, HTTP/2 CONTINUATION floods, Basic
 * credentials from another origin, and tokens hidden in odd places of the URL (log redaction).
 * docs/security.md maps each to the asset it protects.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";
import {
  type RecordingUpstream,
  startRecordingUpstream,
} from "../../test/doubles/upstream/recording-upstream";
import { type Gateway, startGateway } from "./launch";
import { rawExchange, slowAuthedPrompt } from "./raw-exchange";

requireBinary("caddy");

const token = randomBytes(32).toString("hex");
const basic = `Basic ${Buffer.from(`vace:${token}`).toString("base64")}`;
let scratch: string;
let accessLog: string;
let upstream: RecordingUpstream;
let plain: Gateway;
let tls: Gateway;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "vace-gw-attack-"));
  accessLog = join(scratch, "access.log");
  upstream = await startRecordingUpstream();
  [plain, tls] = await Promise.all([
    startGateway({
      VACE_TOKEN: token,
      VACE_UPSTREAM: upstream.hostPort,
      VACE_TLS: "off",
      VACE_ACCESS_LOG: accessLog,
    }),
    startGateway({ VACE_TOKEN: token, VACE_UPSTREAM: upstream.hostPort, VACE_TLS: "internal" }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), tls?.stop(), upstream?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

const plainSocket = () => connect(plain.port, "127.0.0.1");

describe("slow unauthenticated bodies", () => {
  it("get their answer at once, before their body has arrived; 100 at a time", async () => {
    const head = (framing: string, method = "POST", path = "/prompt") =>
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n`;
    // Each sends one byte of its body and then nothing (the attack sent 1 byte per 5 s): under
    // Go's 256 KiB drain limit, chunked, a GET with a body, a /healthz probe with one, and a
    // cross-site POST. Before the fix none was answered until its body was complete.
    const shapes: [string, RegExp][] = [
      [`${head("Content-Length: 200000\r\n")}{`, /^HTTP\/1\.1 401 /],
      [`${head("Transfer-Encoding: chunked\r\n")}1\r\n{\r\n`, /^HTTP\/1\.1 401 /],
      [`${head("Content-Length: 1000\r\n", "GET", "/queue")}{`, /^HTTP\/1\.1 401 /],
      [`${head("Content-Length: 1000\r\n", "GET", "/healthz")}{`, /^HTTP\/1\.1 (200|503) /],
      [`${head("Sec-Fetch-Site: cross-site\r\nContent-Length: 1000\r\n")}{`, /^HTTP\/1\.1 403 /],
    ];
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const [payload] = shapes[i % shapes.length] ?? [""];
        return rawExchange(plainSocket(), (s) => s.write(payload), 20_000, "answer");
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.response).toMatch(shapes[i % shapes.length]?.[1] ?? /never/);
      expect(r.response).toMatch(/\r\nConnection: close\r\n/i);
    }
    // Without a body, the connection closes right after the answer.
    const bare = await rawExchange(
      plainSocket(),
      (s) => s.write("GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
      20_000,
    );
    expect(bare.response).toMatch(/^HTTP\/1\.1 401 /);
    expect(bare.closedByServer).toBe(true);
    expect(upstream.requests.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("an authenticated slow body is not cut: it may take its time (read_body 15 min)", async () => {
    const req = slowAuthedPrompt(plain.url, token, "slow-authed", 1500);
    const res = await req;
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(upstream.received("case=slow-authed")).toHaveLength(1);
  });
});

describe("HTTP/2 is off (the pinned Caddy 2.6.2 / go1.19.8 is open to CVE-2023-45288 and -44487)", () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
    const header = Buffer.alloc(9);
    header.writeUIntBE(payload.length, 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(stream, 5);
    return Buffer.concat([header, payload]);
  };
  /** Client preface, empty SETTINGS, a HEADERS frame without END_HEADERS, then CONTINUATION
   * frames (none with END_HEADERS), 16 KiB each, until 8 MiB or the server closes. */
  const flood = (s: Socket) => {
    const continuation = frame(0x9, 0, 1, randomBytes(16_384));
    s.write(Buffer.concat([preface, frame(0x4, 0, 0, Buffer.alloc(0))]));
    s.write(frame(0x1, 0, 1, Buffer.from([0x82, 0x86, 0x84])));
    let sent = 0;
    const pump = () => {
      while (sent < 8 * 1024 * 1024 && !s.destroyed) {
        sent += continuation.length;
        if (!s.write(continuation)) return void s.once("drain", pump);
      }
    };
    pump();
  };

  it("TLS offers only http/1.1 in ALPN, and Node's HTTP/2 client cannot connect", async () => {
    const negotiated = await new Promise<string | false>((resolve, reject) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: tls.port,
        ALPNProtocols: ["h2", "http/1.1"],
        rejectUnauthorized: false,
      });
      s.once("secureConnect", () => {
        resolve(s.alpnProtocol ?? false);
        s.destroy();
      });
      s.once("error", reject);
    });
    expect(negotiated).toBe("http/1.1");
    const session = http2Connect(tls.url, { rejectUnauthorized: false });
    const outcome = await new Promise<string>((resolve) => {
      session.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      session.once("connect", () => resolve("connected"));
    });
    session.destroy();
    expect(outcome).not.toBe("connected");
  });

  it.each([
    [
      "TLS, h2 asked for by ALPN: the handshake fails (no common protocol)",
      () =>
        tlsConnect({
          host: "127.0.0.1",
          port: tls.port,
          ALPNProtocols: ["h2"],
          rejectUnauthorized: false,
        }),
      /^$/,
    ],
    // Read as HTTP/1.1, the preface is a "PRI *" request without the token: refused and closed.
    [
      "cleartext, h2c prior knowledge: refused as an HTTP/1.1 request",
      plainSocket,
      /^(HTTP\/1\.1 401 |$)/, // the 401 may be lost to the reset the unread flood causes
    ],
  ] as const)("a CONTINUATION flood (%s); no frame is parsed", async (_name, open, answer) => {
    const r = await rawExchange(open(), flood, 20_000);
    expect(r.response).toMatch(answer);
    expect(r.closedByServer).toBe(true);
  });
});

describe("cross-origin requests carrying Basic credentials", () => {
  const post = async (marker: string, headers: Record<string, string>) => {
    const res = await request(`${plain.url}/prompt?case=${marker}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ prompt: { "1": { class_type: "X", inputs: {} } } }),
    });
    await res.body.dump();
    return { status: res.statusCode, reached: upstream.received(`case=${marker}`).length };
  };
  const evil = "https://evil.example";

  it.each([
    ["no Sec-Fetch-Site", {}],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
    ["Sec-Fetch-Site: none", { "sec-fetch-site": "none" }],
    ["Origin: null", { origin: "null" }],
  ])(
    "a state-changing request with another Origin and %s is refused (403)",
    async (name, extra) => {
      const marker = `origin-${name.replace(/\W+/g, "-")}`;
      const r = await post(marker, { authorization: basic, origin: evil, ...extra });
      expect(r).toEqual({ status: 403, reached: 0 });
    },
  );

  it("the same origin, no Origin at all (curl), or Bearer (never sent by a browser on its own) pass", async () => {
    const own = `http://127.0.0.1:${plain.port}`;
    expect(await post("same-origin", { authorization: basic, origin: own })).toEqual({
      status: 200,
      reached: 1,
    });
    expect(await post("no-origin", { authorization: basic })).toEqual({ status: 200, reached: 1 });
    // The gateway passes it; ComfyUI's own Host/Origin check (copied by the double) answers 403.
    expect(await post("bearer-evil", { authorization: `Bearer ${token}`, origin: evil })).toEqual({
      status: 403,
      reached: 1,
    });
  });
});

describe("the access log", () => {
  it("never holds the token, wherever the URL hides it, and is readable by its owner only", async () => {
    const targets = [
      `/prompt#token=${token}`,
      `/prompt;token=${token}`,
      `/queue?a=1;token=${token}`,
      `/queue?token=+${token}`,
      `/token=${token}/prompt`,
      `/queue?x=${token.slice(0, 40)}`,
    ];
    const before = readFileSync(accessLog, "utf8").split("\n").length;
    for (const target of targets) {
      // Raw HTTP: a client library would drop the fragment or normalise the path.
      const r = await rawExchange(
        plainSocket(),
        (s) => s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
        10_000,
      );
      expect(r.response).toMatch(/^HTTP\/1\.1 (401|400|404) /);
    }
    let lines: string[] = [];
    for (let i = 0; i < 200 && lines.length < targets.length; i++) {
      lines = readFileSync(accessLog, "utf8")
        .split("\n")
        .slice(before - 1)
        .filter(Boolean);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(lines).toHaveLength(targets.length);
    const uris = lines.map((l) => JSON.parse(l).request.uri as string);
    expect(uris.join("\n")).not.toContain(token.slice(0, 32));
    expect(uris.every((u) => u.includes("REDACTED"))).toBe(true);
    expect(plain.output()).not.toContain(token.slice(0, 32));
    expect(statSync(accessLog).mode & 0o777).toBe(0o600);
  });
});
