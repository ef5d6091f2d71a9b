/**
 * The real gateway (docker/gateway/run → caddy) in front of a recording ComfyUI stand-in.
 * Every case checks both what the client got and what reached the upstream.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { requireBinary } from "../../test/binaries";
import { comfyRejectsOrigin } from "../../test/doubles/upstream/comfy-origin";
import {
  type RecordingUpstream,
  startRecordingUpstream,
  VIEW_BYTE,
} from "../../test/doubles/upstream/recording-upstream";
import {
  freePort,
  GATEWAY_CADDYFILE,
  GATEWAY_RUN,
  type Gateway,
  startGateway,
  startGatewayWith,
  untilHealthz,
} from "./launch";

requireBinary("caddy");

const token = randomBytes(32).toString("base64url");
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const goodBasic = basic("vace", token);
/** The token with one character in the middle percent-encoded: the same token once decoded. */
const mid = Math.floor(token.length / 2);
const encodedToken = `${token.slice(0, mid)}%${token.charCodeAt(mid).toString(16)}${token.slice(mid + 1)}`;

let upstream: RecordingUpstream;
let gw: Gateway;
/** Same gateway config, but nothing listens at its upstream. */
let gwDown: Gateway;
let scratch: string;
let accessLog: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "vace-gw-test-"));
  accessLog = join(scratch, "access.log");
  upstream = await startRecordingUpstream();
  [gw, gwDown] = await Promise.all([
    startGateway({
      VACE_TOKEN: token,
      VACE_UPSTREAM: upstream.hostPort,
      VACE_TLS: "off",
      VACE_ACCESS_LOG: accessLog,
    }),
    freePort().then((closed) =>
      startGateway({ VACE_TOKEN: token, VACE_UPSTREAM: `127.0.0.1:${closed}`, VACE_TLS: "off" }),
    ),
  ]);
  await untilHealthz(async () => (await get(gw.url, "/healthz")).status);
});

afterAll(async () => {
  await Promise.all([gw?.stop(), gwDown?.stop(), upstream?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe("auth matrix", () => {
  // Each case carries a unique marker so the upstream's record shows exactly what got through.
  const cases: Array<
    [name: string, accepted: boolean, headers: Record<string, string>, query?: string]
  > = [
    ["no-credentials", false, {}],
    ["wrong-bearer", false, { authorization: `Bearer ${token.slice(1)}x` }],
    ["bearer-token-with-suffix", false, { authorization: `Bearer ${token}x` }],
    ["empty-bearer", false, { authorization: "Bearer " }],
    ["bearer", true, { authorization: `Bearer ${token}` }],
    ["lower-case-bearer", true, { authorization: `bearer ${token}` }],
    ["basic-vace", true, { authorization: goodBasic }],
    ["lower-case-basic", true, { authorization: goodBasic.replace("Basic", "basic") }],
    ["basic-other-user", false, { authorization: basic("admin", token) }],
    ["basic-wrong-password", false, { authorization: basic("vace", "admin") }],
    ["token-as-bare-authorization", false, { authorization: token }],
    ["token-in-x-api-key", false, { "x-api-key": token }],
    ["token-in-cookie", false, { cookie: `token=${token}` }],
    ["query-token", true, {}, `token=${token}`],
    ["query-wrong-token", false, {}, `token=${token.slice(1)}`],
    ["query-empty-token", false, {}, "token="],
    ["query-access-token", false, {}, `access_token=${token}`],
    // Decoded, these equal the token, but they are not the literal form the gateway strips.
    ["query-token-percent-encoded", false, {}, `token=${encodedToken}`],
    ["query-name-percent-encoded", false, {}, `%74oken=${token}`],
  ];

  it.each(cases)("%s → %s", async (name, accepted, headers, query) => {
    const marker = `case=${name}`;
    const res = await get(gw.url, `/queue?${marker}${query ? `&${query}` : ""}`, headers);
    const reached = upstream.received(marker);
    if (accepted) {
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ queue_running: [], queue_pending: [] });
      expect(reached).toHaveLength(1);
      // ComfyUI gets neither credential.
      expect(reached[0]?.headers.authorization).toBeUndefined();
      expect(reached[0]?.url).not.toContain(token);
    } else {
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Basic realm="vace"');
      expect(res.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(res.text)).toEqual({ error: "unauthorized" });
      expect(reached).toHaveLength(0);
    }
  });

  function openWs(path: string, headers: Record<string, string>) {
    return new Promise<{ status: number; first?: { type: string; data: { sid: string } } }>(
      (resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, { headers });
        ws.once("unexpected-response", (_req, res) => resolve({ status: res.statusCode ?? 0 }));
        ws.once("message", (data) => {
          ws.close();
          resolve({ status: 101, first: JSON.parse(String(data)) });
        });
        ws.once("error", reject);
      },
    );
  }

  it.each([
    ["/ws", "ws-bearer", { authorization: `Bearer ${token}` }, ""],
    ["/api/ws", "ws-query", {}, `&token=${token}`],
  ])("WebSocket %s with a token is proxied (%s)", async (path, id, headers, query) => {
    const res = await openWs(`${path}?clientId=${id}${query}`, headers);
    expect(res.status).toBe(101);
    expect(res.first).toMatchObject({ type: "status", data: { sid: id } });
    const reached = upstream.received(`clientId=${id}`);
    expect(reached.map((r) => [r.websocket, r.status])).toEqual([[true, 101]]);
    expect(reached[0]?.url).not.toContain(token);
  });

  it("with a credential, a percent-encoded letter, digit, - or _ in the query is 400 (no form of the token slips past the strip)", async () => {
    for (const [i, query] of [`token=${encodedToken}`, `%74oken=${token}`, "x=%2D"].entries()) {
      const marker = `case=encoded-${i}`;
      const res = await get(gw.url, `/queue?${marker}&${query}`, {
        authorization: `Bearer ${token}`,
      });
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(res.text).error).toMatch(/percent-encoded/);
      expect(upstream.received(marker)).toHaveLength(0);
    }
    // Other percent-encodings (a space, a slash, a literal %) are what clients send: proxied.
    const marker = "case=encoded-ok";
    const ok = await get(gw.url, `/view?${marker}&filename=a%20b%2Fc%2541.mp4`, {
      authorization: `Bearer ${token}`,
    });
    expect(ok.status).toBe(200);
    expect(upstream.received(marker)[0]?.url).toContain("filename=a%20b%2Fc%2541.mp4");
  });

  it("with a credential, the literal token anywhere in the URL is removed before ComfyUI", async () => {
    const marker = "case=token-elsewhere";
    const res = await get(gw.url, `/queue?${marker}&other=${token}&token=${token}`, {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(200);
    const [reached] = upstream.received(marker);
    expect(reached?.url).toBe(`/queue?${marker}&other=&`);
  });

  it("WebSocket without a token gets 401 and never reaches ComfyUI", async () => {
    const res = await openWs("/ws?clientId=ws-anonymous", {});
    expect(res.status).toBe(401);
    expect(upstream.received("ws-anonymous")).toHaveLength(0);
  });
});

describe("/healthz", () => {
  it("is 200 without a token while ComfyUI answers, and reveals nothing else", async () => {
    const res = await get(gw.url, "/healthz");
    expect(res).toMatchObject({ status: 200, text: "ok" });
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.headers.server).toBeUndefined();
    // ComfyUI is asked by the gateway's own health check: a cheap GET /prompt, no credentials.
    expect(upstream.requests.some((r) => `${r.method} ${r.url}` === "GET /prompt")).toBe(true);
  });

  it("does not amplify: a burst of /healthz costs ComfyUI only the once-a-second probe", async () => {
    const probes = () => upstream.requests.filter((r) => r.url === "/prompt").length;
    const before = probes();
    const started = Date.now();
    const burst = 1000;
    for (let sent = 0; sent < burst; sent += 50) {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async () => (await get(gw.url, "/healthz")).status),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    const seconds = (Date.now() - started) / 1000;
    // One probe per second of the burst (plus one in progress at each end), not one per request.
    expect(probes() - before).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
  });

  it("probes with a minimal GET /prompt: none of the client's query, body or headers reach ComfyUI", async () => {
    const before = upstream.requests.length;
    const res = await request(`${gw.url}/healthz?leak=1`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        cookie: "leak=cookie",
        "x-leak": "header",
        authorization: `Bearer ${token}`,
        "user-agent": "leak-agent",
      },
      body: JSON.stringify({ prompt: { leak: "body" } }),
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe("ok");
    // Wait for the next health probe, then check everything ComfyUI received since the request.
    while (upstream.requests.length === before) await new Promise((r) => setTimeout(r, 50));
    const probes = upstream.requests.slice(before);
    for (const probe of probes)
      expect([probe.method, probe.url, probe.bodyBytes]).toEqual(["GET", "/prompt", 0]);
    const sent = probes[0]?.headers ?? {};
    expect(JSON.stringify(sent)).not.toMatch(/leak|application\/json|Bearer/i);
    // Only what Go's HTTP client adds itself: Host (the upstream address), its User-Agent,
    // Accept-Encoding and "Connection: close" (no keep-alive). No X-Forwarded-* either: nothing
    // about the anonymous caller.
    expect(Object.keys(sent).sort()).toEqual([
      "accept-encoding",
      "connection",
      "host",
      "user-agent",
    ]);
    expect(sent.connection).toBe("close");
    expect(sent.host).toBe(upstream.hostPort);
  });

  it("is 503 when nothing answers at the upstream address", async () => {
    const res = await get(gwDown.url, "/healthz");
    expect(res).toMatchObject({ status: 503, text: "unavailable" });
  });

  it("a real request to a down upstream is 502 with a short JSON body", async () => {
    const res = await get(gwDown.url, `/queue?token=${token}`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text)).toEqual({ error: "Bad Gateway" });
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });
});

describe("seed-client compatibility (Bearer on every request)", () => {
  const bearer = { authorization: `Bearer ${token}` };

  it("POST /prompt (JSON), GET /queue, GET /history/{id}, GET /view?filename=", async () => {
    const post = await request(`${gw.url}/prompt`, {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ prompt: { "1": { class_type: "X", inputs: {} } }, client_id: "seed" }),
    });
    expect(post.statusCode).toBe(200);
    const { prompt_id } = (await post.body.json()) as { prompt_id: string };
    expect(prompt_id).toMatch(/^[0-9a-f-]{36}$/);

    expect((await get(gw.url, "/queue", bearer)).status).toBe(200);
    const history = await get(gw.url, `/history/${prompt_id}`, bearer);
    expect(history).toMatchObject({ status: 200, text: "{}" });
    const view = await request(`${gw.url}/view?filename=out.mp4&type=output&subfolder=`, {
      headers: bearer,
    });
    expect(view.statusCode).toBe(200);
    expect(view.headers["content-type"]).toBe("video/mp4");
    expect((await view.body.arrayBuffer()).byteLength).toBe(64 * 1024);

    const posted = upstream.requests.find((r) => r.method === "POST" && r.url === "/prompt");
    expect(posted?.bodyBytes).toBeGreaterThan(0);
  });

  it("a 100 MB multipart /upload/image passes whole (ComfyUI's default limit is 100 MiB)", async () => {
    const form = new FormData();
    form.append("image", new Blob([Buffer.alloc(100_000_000, 7)]), "reference-100MB.png");
    form.append("overwrite", "true");
    // Serialise once, so the bytes sent can be compared with the bytes ComfyUI received.
    const encoded = new Request("http://localhost/", { method: "POST", body: form });
    const body = Buffer.from(await encoded.arrayBuffer());
    const res = await request(`${gw.url}/upload/image?case=upload`, {
      method: "POST",
      headers: { ...bearer, "content-type": encoded.headers.get("content-type") ?? "" },
      body,
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({
      name: "reference-100MB.png",
      subfolder: "",
      type: "input",
    });
    const [got] = upstream.received("case=upload");
    expect(got?.bodyBytes).toBe(body.length);
    expect(got?.bodySha256).toBe(createHash("sha256").update(body).digest("hex"));
  });

  it("/view streams: bytes reach the client while ComfyUI is still sending", async () => {
    const total = 4 * 1024 * 1024;
    const head = 1024 * 1024;
    const release = upstream.stallView("stall.mp4", head);
    const res = await request(`${gw.url}/view?filename=stall.mp4&vace_test_size=${total}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    let received = 0;
    let released = false;
    let wrongByte = false;
    const guard = setTimeout(() => res.body.destroy(new Error("gateway held the body back")), 5000);
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      received += chunk.length;
      wrongByte ||= chunk.some((b) => b !== VIEW_BYTE);
      // The upstream is paused after `head` bytes, so getting most of them (a few KiB may sit in
      // Caddy's write buffer until the next flush) proves the body is not held back.
      if (!released && received >= head / 2) {
        released = true;
        clearTimeout(guard);
        release();
      }
    }
    expect(released).toBe(true);
    expect(received).toBe(total);
    expect(wrongByte).toBe(false);
  });
});

describe("browser access", () => {
  it("the upstream double applies ComfyUI's loopback Host/Origin rule (so the next test can fail)", async () => {
    const direct = await get(`http://${upstream.hostPort}`, "/", { origin: "http://127.0.0.1:1" });
    expect(direct.status).toBe(403);
    expect(await comfyRejectsOrigin(`127.0.0.1:${gw.port}`, `http://127.0.0.1:${gw.port}`)).toBe(
      false,
    );
  });

  it("a browser-like page load and queue POST with Origin + Basic pass ComfyUI's origin check", async () => {
    const origin = `http://127.0.0.1:${gw.port}`;
    const browser = {
      authorization: goodBasic,
      origin,
      "sec-fetch-site": "same-origin",
      "sec-fetch-mode": "cors",
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
      accept: "*/*",
    };
    const page = await get(gw.url, "/?case=browser-page", browser);
    expect(page.status).toBe(200);
    expect(page.text).toContain("ComfyUI");
    const post = await request(`${gw.url}/api/prompt?case=browser-post`, {
      method: "POST",
      headers: { ...browser, "content-type": "application/json" },
      body: JSON.stringify({ prompt: { "1": { class_type: "X", inputs: {} } } }),
    });
    expect(post.statusCode).toBe(200);
    await post.body.dump();
    // ComfyUI saw the browser's own Host, which matches its Origin.
    expect(upstream.received("case=browser-post")[0]?.headers.host).toBe(`127.0.0.1:${gw.port}`);
  });

  it("a cross-site request riding cached Basic credentials is refused before ComfyUI", async () => {
    const res = await request(`${gw.url}/prompt?case=csrf`, {
      method: "POST",
      headers: {
        authorization: goodBasic,
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "no-cors",
        "content-type": "text/plain",
      },
      body: "{}",
    });
    expect(res.statusCode).toBe(403);
    await res.body.dump();
    expect(upstream.received("case=csrf")).toHaveLength(0);
    // The check comes before the credential check: without any credential, still 403, not 401.
    const anonymous = await get(gw.url, "/queue?case=csrf-anonymous", {
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "cors",
    });
    expect(anonymous.status).toBe(403);
    expect(upstream.received("case=csrf-anonymous")).toHaveLength(0);
    // A link from another site to the UI (top-level navigation) still opens it.
    const nav = await get(gw.url, "/?case=cross-site-nav", {
      authorization: goodBasic,
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
    });
    expect(nav.status).toBe(200);
  });
});

describe("security headers", () => {
  it.each([
    ["a proxied response", `/queue?token=${token}`, 200],
    ["a 401", "/queue", 401],
    ["/healthz", "/healthz", 200],
  ])("are set on %s, replacing ComfyUI's, with no Server header", async (_what, path, status) => {
    const res = await get(gw.url, path);
    expect(res.status).toBe(status);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers.server).toBeUndefined();
    // Plain HTTP (VACE_TLS=off) must not claim HSTS; the TLS tests check it is there.
    expect(res.headers["strict-transport-security"]).toBeUndefined();
  });
});

describe("Caddy started without the launcher (no token in its environment)", () => {
  it("an empty credential never matches the empty token", async () => {
    const bare = await startGatewayWith((port) => ({
      command: "caddy",
      args: ["run", "--adapter", "caddyfile", "--config", GATEWAY_CADDYFILE],
      // What the launcher would export, minus the token and the derived credential.
      env: {
        VACE_UPSTREAM: upstream.hostPort,
        VACE_GATEWAY_SITE: `http://:${port}`,
        VACE_GATEWAY_TLS: "off",
        VACE_GATEWAY_BIND_MODE: "host",
        VACE_GATEWAY_BIND: "127.0.0.1",
        VACE_GATEWAY_ACCESS_LOG: "stdout",
      },
      scheme: "http",
    }));
    try {
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer " },
        { authorization: "Basic " },
      ];
      for (const headers of attempts) {
        expect((await get(bare.url, "/queue?case=bare&token=", headers)).status).toBe(401);
      }
      expect(upstream.received("case=bare")).toHaveLength(0);
    } finally {
      await bare.stop();
    }
  });
});

describe("VACE_ENV_FILE", () => {
  it("a file alone configures a serving gateway, whose values win over the environment", async () => {
    const fileToken = randomBytes(32).toString("base64url");
    const file = join(scratch, "gateway.env");
    const fromFile = await startGatewayWith((port) => {
      writeFileSync(
        file,
        `# tmpfs file, bind-mounted read-only\nVACE_TOKEN=${fileToken}\nVACE_UPSTREAM=${upstream.hostPort}\nVACE_LISTEN=127.0.0.1:${port}\nVACE_TLS=off\n`,
      );
      // Only the file's path is passed; the inherited token and TLS mode must lose.
      return {
        command: GATEWAY_RUN,
        args: [],
        env: { VACE_ENV_FILE: file, VACE_TOKEN: token, VACE_TLS: "internal" },
        scheme: "http",
      };
    });
    try {
      const ok = await get(fromFile.url, "/queue?case=env-file", {
        authorization: `Bearer ${fileToken}`,
      });
      expect(ok.status).toBe(200);
      expect(upstream.received("case=env-file")).toHaveLength(1);
      expect((await get(fromFile.url, "/queue", { authorization: `Bearer ${token}` })).status).toBe(
        401,
      );
      expect(fromFile.output()).not.toContain(fileToken);
    } finally {
      await fromFile.stop();
    }
  });
});

describe("logs", () => {
  // Runs last in this file: by now every request above (tokens in headers, in ?token=, under
  // other names, in cookies, on errors) has been logged.
  it("carry no token and no Basic credential, in access, error and startup output", () => {
    const access = readFileSync(accessLog, "utf8");
    const everything = [gw.output(), gwDown.output(), access].join("\n");
    expect(everything).toContain("REDACTED");
    // Halves of the token too: a percent-encoded character splits it (query-token-percent-encoded).
    const secrets = [
      token,
      goodBasic.slice("Basic ".length),
      token.slice(0, 16),
      token.slice(-16),
      encodedToken,
    ];
    for (const secret of secrets) expect(everything).not.toContain(secret);

    const lines = access
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            request: { uri: string; headers?: unknown };
            status: number;
          },
      );
    expect(lines.length).toBeGreaterThan(20);
    // /healthz is skipped: the ECS idle watchdog takes the newest non-401/403 line's `ts` as the last real request.
    expect(lines.filter((l) => l.request.uri.startsWith("/healthz"))).toHaveLength(0);
    expect(lines.every((l) => l.request.headers === undefined)).toBe(true);
    expect(lines.some((l) => l.status === 401)).toBe(true);
    // Access lines went to the file, not to stdout.
    expect(gw.output()).not.toContain('"handled request"');
    // gwDown logs to stdout and recorded its 502 with the query redacted.
    expect(gwDown.output()).toMatch(/"uri":"\/queue\?token=REDACTED".*"status":502/);
  });

  it("the autosaved config holds no secret", () => {
    const autosave = readFileSync(join(gw.configDir, "caddy", "autosave.json"), "utf8");
    expect(autosave).toContain("{env.VACE_TOKEN}");
    expect(autosave).not.toContain(token);
    expect(autosave).not.toContain(goodBasic.slice("Basic ".length));
  });
});
