/**
 * The two TLS modes that work without the internet, served by the real gateway: a deploy-time
 * certificate for an IP (what ECS without a domain uses; clients pin it) and Caddy's internal CA.
 * ACME needs a public CA, so its config is checked in run.test.ts only.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";
import {
  type RecordingUpstream,
  startRecordingUpstream,
} from "../../test/doubles/upstream/recording-upstream";
import { type Gateway, startGateway, untilHealthz } from "./launch";

requireBinary("caddy");
requireBinary("openssl");

const token = randomBytes(32).toString("base64url");
let scratch: string;
let upstream: RecordingUpstream;
let withFiles: Gateway;
let withInternal: Gateway;
let deployCert: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "vace-gw-tls-"));
  const cert = join(scratch, "cert.pem");
  const key = join(scratch, "key.pem");
  // The shape infra/common/certificate.ts makes at deploy time: self-signed P-256, IP SAN, CA:TRUE.
  const made = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=127.0.0.1/O=wan-vace",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  deployCert = readFileSync(cert, "utf8");
  upstream = await startRecordingUpstream();
  [withFiles, withInternal] = await Promise.all([
    startGateway({
      VACE_TOKEN: token,
      VACE_UPSTREAM: upstream.hostPort,
      VACE_TLS: `${cert} ${key}`,
    }),
    startGateway({ VACE_TOKEN: token, VACE_UPSTREAM: upstream.hostPort, VACE_TLS: "internal" }),
  ]);
});

afterAll(async () => {
  await Promise.all([withFiles?.stop(), withInternal?.stop(), upstream?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

async function getPinned(gw: Gateway, ca: string, path: string) {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(`${gw.url}${path}`, {
      dispatcher,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

describe("TLS", () => {
  it("cert and key paths: serves the deploy-time certificate to a client that pins it (no SNI)", async () => {
    const res = await getPinned(withFiles, deployCert, "/queue");
    expect(res.status).toBe(200);
    expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("internal: a client trusting Caddy's local root gets a certificate for the IP it dialled", async () => {
    const root = readFileSync(
      join(withInternal.dataDir, "caddy", "pki", "authorities", "local", "root.crt"),
      "utf8",
    );
    await untilHealthz(async () => (await getPinned(withInternal, root, "/healthz")).status);
    const res = await getPinned(withInternal, root, "/healthz");
    expect(res).toMatchObject({ status: 200, text: "ok" });
    expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
  });

  it("internal: signs no certificate for a name the client makes up (no on-demand issuance)", async () => {
    const handshake = (servername: string) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          host: "127.0.0.1",
          port: withInternal.port,
          servername,
          rejectUnauthorized: false,
        });
        s.once("secureConnect", () => {
          resolve(`ok ${s.getPeerCertificate().subject?.CN ?? ""}`);
          s.destroy();
        });
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      });
    const made = Array.from({ length: 15 }, () => `${randomBytes(6).toString("hex")}.example`);
    const results = await Promise.all(made.map(handshake));
    expect(results.filter((r) => r.startsWith("ok"))).toEqual([]);
    expect(await handshake("localhost")).toMatch(/^ok/);
    const stored = readdirSync(join(withInternal.dataDir, "caddy", "certificates", "local"));
    // Caddy stores ::1 as "--1".
    expect(stored.sort()).toEqual(["--1", "127.0.0.1", "localhost"]);
  });

  it("a pin is a pin: the deploy certificate does not vouch for the internal-CA gateway", async () => {
    await expect(getPinned(withInternal, deployCert, "/healthz")).rejects.toThrow(/certificate/i);
  });

  it("plain HTTP to a TLS port gets no ComfyUI response", async () => {
    const res = await request(`http://127.0.0.1:${withFiles.port}/queue?case=plain&token=${token}`);
    expect(res.statusCode).toBe(400);
    await res.body.dump();
    expect(upstream.received("case=plain")).toHaveLength(0);
  });
});
