/**
 * The smoke through the real gateway (docker/gateway/run → Caddy, TLS from Caddy's internal CA)
 * in front of the ComfyUI double: the path a deployed instance takes, token and certificate pin included.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, untilHealthz } from "../docker/gateway/launch";
import { type BehindGateway, startBehindGateway } from "../test/doubles/comfyui/behind-gateway";
import type { ComfyDouble } from "../test/doubles/comfyui/server";
import { tempDir } from "../test/fixtures/video";
import { runSmoke, type SmokeOptions } from "./run";

const TOKEN = randomBytes(24).toString("hex");
let comfy: ComfyDouble;
let gateway: Gateway;
let ca: string;
let behind: BehindGateway | undefined;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir("vace-smoke-gw-");
  behind = await startBehindGateway(TOKEN);
  ({ comfy, gateway, ca } = behind);
});
afterAll(async () => {
  await behind?.stop();
  await tmp?.cleanup();
});

const smoke = (extra: Partial<SmokeOptions>) =>
  runSmoke({
    url: gateway.url,
    token: TOKEN,
    ca,
    profile: "ci",
    outDir: join(tmp.dir, randomUUID()),
    timeoutMs: 20_000,
    readyBackoffMs: { initial: 50, max: 200 },
    ...extra,
  });

describe("vace smoke through the real gateway (Caddy, TLS, token)", () => {
  it("passes, tracking by WebSocket through the proxy, with the certificate pinned", async () => {
    const r = await smoke({});
    expect(r.error).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.tracking).toBe("websocket");
    expect(r.url).toBe(`${gateway.url}/`);
    expect(comfy.received.sockets).toHaveLength(1);
    // Nothing the gateway logs carries the token (it arrives as Bearer and as ?token= on the socket).
    expect(gateway.output()).not.toContain(TOKEN);
  });

  it("exits 3 when the gateway rejects the token, and nothing but the health probe reaches ComfyUI", async () => {
    const before = comfy.received.requests.length;
    const r = await smoke({ token: "x".repeat(40) });
    expect(r.exitCode).toBe(3);
    expect(r.error?.message).toContain(
      "the gateway rejected the token (HTTP 401 on GET /system_stats)",
    );
    // /healthz needs no token; only the gateway's own once-a-second GET /prompt probe reaches
    // ComfyUI.
    const reached = comfy.received.requests.slice(before).map((q) => `${q.method} ${q.path}`);
    expect(reached.filter((q) => q !== "GET /prompt")).toEqual([]);
  });

  it("stops at once, naming the fix, when --url says http:// to the HTTPS gateway", async () => {
    const lines: string[] = [];
    const r = await smoke({
      url: gateway.url.replace(/^https:/, "http:"),
      phaseTimeoutsMs: { ready: 15_000 },
      log: (l) => lines.push(l),
    });
    expect(r.exitCode).toBe(4);
    const host = new URL(gateway.url).host;
    expect(r.error?.message).toBe(
      `${host} speaks HTTPS on that port, and --url says http:// (it answered: "Client sent an HTTP request to an HTTPS server."): use --url https://${host}`,
    );
    // Not waited out as "not up yet" (it once retried for the whole 30-minute readiness budget).
    expect(lines.filter((l) => l.includes("not ready"))).toEqual([]);
  });

  it("exits 4 when ComfyUI behind the gateway is down, quoting the gateway's 503", async () => {
    await comfy.close();
    // The gateway notices within a second (its active health check).
    const dispatcher = new Agent({ connect: { ca } });
    await untilHealthz(async () => {
      const res = await request(`${gateway.url}/healthz`, { dispatcher });
      await res.body.dump();
      return res.statusCode;
    }, 503);
    await dispatcher.close();
    const lines: string[] = [];
    const r = await smoke({ phaseTimeoutsMs: { ready: 800 }, log: (l) => lines.push(l) });
    expect(r.exitCode).toBe(4);
    expect(r.error?.message).toMatch(/^ready timed out after 0\.8 s: GET \/healthz answered 503/);
    // Each wait says how long it has waited, of how long it may.
    expect(lines.find((l) => l.includes("not ready"))).toMatch(
      /^ {2}not ready \(waited 0m0\ds of 0m01s\): GET \/healthz answered 503 .*; retrying in \d\.\d s$/,
    );
  });
});
