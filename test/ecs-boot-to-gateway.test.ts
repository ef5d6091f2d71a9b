/**
 * End to end on the ECS secret path, across two components: the boot program
 * (infra/ecs/boot/files/boot_secrets.py) fetches the secret parameter from a fake OOS behind a
 * fake hardened metadata service and writes gateway.env and the TLS files; the real gateway
 * launcher (docker/gateway/run → caddy) then starts from that file alone, as
 * wan-vace-gateway.service starts it, and serves HTTPS with the certificate from the secret.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_RUN, type Gateway, startGatewayWith } from "../docker/gateway/launch";
import { gatewayEnv, TLS_DIR } from "../infra/common/gateway";
import { FakeCloud, FILES, runPython } from "../infra/ecs/boot/files/fake-cloud";
import { requireBinary } from "./binaries";
import {
  type RecordingUpstream,
  startRecordingUpstream,
} from "./doubles/upstream/recording-upstream";

requireBinary("caddy");
requireBinary("python3");
requireBinary("openssl");

const PARAMETER = "wan-vace-e2e-boot";
// 36 random bytes → 48 characters of the URL-safe alphabet both sides accept.
const token = randomBytes(36).toString("base64url");
const UNIT = join(FILES, "systemd", "wan-vace-gateway.service");

let scratch = "";
let runDir = "";
let certPem = "";
let producedEnv = "";
let accessLog = "";
let cloud: FakeCloud | undefined;
let upstream: RecordingUpstream | undefined;
let gateway: Gateway | undefined;
let bootOutput = "";

/** A real self-signed P-256 certificate for 127.0.0.1, as the deploy step makes one. */
function selfSignedPair(dir: string): { cert: string; key: string } {
  const cert = join(dir, "made-cert.pem");
  const key = join(dir, "made-key.pem");
  const made = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
      .concat(["-days", "1", "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1"])
      .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

/**
 * gateway.env with the given keys' values replaced; every key must occur exactly once, so a
 * change in what boot_secrets.py writes breaks this test instead of passing by accident.
 */
function withValues(envText: string, values: Record<string, string>): string {
  const seen = new Map<string, number>();
  const out = envText.replace(/^(VACE_[A-Z_]+)=.*$/gm, (line, key: string) => {
    if (!(key in values)) return line;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    return `${key}=${values[key]}`;
  });
  for (const key of Object.keys(values)) {
    if (seen.get(key) !== 1) throw new Error(`gateway.env has ${seen.get(key) ?? 0} ${key} lines`);
  }
  return out;
}

/** The value of KEY in a KEY=VALUE file, literally to end of line (the launcher's rule). */
function envValue(envText: string, key: string): string | undefined {
  return new RegExp(`^${key}=(.*)$`, "m").exec(envText)?.[1];
}

/** The unit's ExecStart as one line (systemd joins backslash continuations). */
function execStart(unit: string): string {
  return /^ExecStart=(.*)$/m.exec(unit.replace(/\\\n\s*/g, " "))?.[1] ?? "";
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "vace-ecs-e2e-"));
  const pair = selfSignedPair(scratch);
  certPem = pair.cert;
  cloud = new FakeCloud({
    secrets: {
      [PARAMETER]: JSON.stringify({ token, tlsCertPem: pair.cert, tlsKeyPem: pair.key }),
    },
  });
  [upstream] = await Promise.all([startRecordingUpstream(), cloud.start()]);

  // The boot tests' test-only overrides: the fake's URLs and a temp dir for /run/wan-vace.
  runDir = join(scratch, "run");
  const boot = await runPython(["boot_secrets.py"], {
    ...cloud.env(),
    REGION: "ap-southeast-1",
    SECRET_PARAMETER_NAME: PARAMETER,
    TLS_MODE: "selfsigned",
    WAN_VACE_RUN_DIR: runDir,
    WAN_VACE_RETRY_DELAY: "0.05",
  });
  bootOutput = boot.stdout + boot.stderr;
  if (boot.code !== 0) throw new Error(`boot_secrets.py failed (${boot.code}):\n${bootOutput}`);
  producedEnv = readFileSync(join(runDir, "gateway.env"), "utf8");

  // On ECS the launcher reads /run/wan-vace/gateway.env through the unit's bind mounts, with
  // host networking: it listens on :443 and proxies to ComfyUI on 127.0.0.1:8188, and appends
  // to /var/log/wan-vace. Here port 443 is not ours, no ComfyUI runs, and /var/log/wan-vace does
  // not exist; and the launcher lets the file's values win over its environment. So the gateway
  // reads a copy with exactly those three lines replaced; the token and the TLS paths are the
  // boot program's own bytes. VACE_TLS already points into runDir, the temp stand-in for
  // /run/wan-vace (whose tls/ the unit mounts at the same path in the container).
  accessLog = join(scratch, "log", "access.log");
  mkdirSync(dirname(accessLog));
  const hostPort = upstream.hostPort;
  gateway = await startGatewayWith((port) => {
    const envFile = join(scratch, "gateway.test.env");
    const text = withValues(producedEnv, {
      VACE_LISTEN: `127.0.0.1:${port}`,
      VACE_UPSTREAM: hostPort,
      VACE_ACCESS_LOG: accessLog,
    });
    writeFileSync(envFile, text, { mode: 0o600 });
    // Only what the unit passes: VACE_ENV_FILE (XDG dirs and PATH come from startGatewayWith).
    return { command: GATEWAY_RUN, args: [], env: { VACE_ENV_FILE: envFile }, scheme: "https" };
  });
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), upstream?.close(), cloud?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function get(path: string, authorization: string, ca = certPem) {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(`${gateway?.url}${path}`, {
      dispatcher,
      headers: { authorization },
    });
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

describe("ECS boot secret → gateway", () => {
  it("writes the same gateway settings `vace render` shows for the stack", () => {
    const written = new Map(
      producedEnv
        .split("\n")
        .filter((l) => l.startsWith("VACE_"))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
    );
    // Render shows the production TLS path; the boot here wrote into the test's run dir.
    const shown = gatewayEnv({ tls: { mode: "selfsigned" } });
    for (const [key, value] of Object.entries(shown)) {
      expect(written.get(key), key).toBe(value.replaceAll(TLS_DIR, join(runDir, "tls")));
    }
    expect([...written.keys()].sort()).toEqual([...Object.keys(shown), "VACE_TOKEN"].sort());
  });

  it("boot_secrets.py wrote the secret's token and TLS files for the launcher", () => {
    expect(envValue(producedEnv, "VACE_TOKEN")).toBe(token);
    expect(envValue(producedEnv, "VACE_TLS")).toBe(`${runDir}/tls/cert.pem ${runDir}/tls/key.pem`);
    expect(readFileSync(join(runDir, "tls/cert.pem"), "utf8")).toBe(certPem);
    expect(bootOutput).not.toContain(token);
  });

  it("the launcher accepts the production values as written (:443, ComfyUI's port)", () => {
    // `run adapt` validates and adapts without binding; only the missing log dir is swapped.
    const envFile = join(scratch, "gateway.adapt.env");
    writeFileSync(envFile, withValues(producedEnv, { VACE_ACCESS_LOG: accessLog }));
    const r = spawnSync(GATEWAY_RUN, ["adapt"], {
      env: { PATH: process.env.PATH, HOME: scratch, VACE_ENV_FILE: envFile },
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain(token);
    const config = JSON.parse(r.stdout) as {
      apps: { http: { servers: Record<string, { listen: string[] }> } };
    };
    expect(config.apps.http.servers.srv0?.listen).toEqual([":443"]);
    expect(r.stdout).toContain('"dial": "127.0.0.1:8188"');
  });

  it("the right token over HTTPS pinned to the secret's certificate reaches ComfyUI without it", async () => {
    const res = await get("/history/e2e-right", `Bearer ${token}`);
    expect(res).toMatchObject({ status: 200, text: "{}" });
    const seen = upstream?.received("e2e-right") ?? [];
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen[0])).not.toContain(token);
  });

  it("a wrong token gets 401 and never reaches ComfyUI", async () => {
    const wrong = randomBytes(36).toString("base64url");
    const res = await get("/history/e2e-wrong", `Bearer ${wrong}`);
    expect(res.status).toBe(401);
    expect(upstream?.received("e2e-wrong")).toHaveLength(0);
  });

  it("the certificate is a pin: a client trusting another certificate refuses the gateway", async () => {
    const other = selfSignedPair(mkdtempSync(join(scratch, "other-")));
    await expect(get("/history/e2e-pin", `Bearer ${token}`, other.cert)).rejects.toThrow(
      /certificate/i,
    );
    expect(upstream?.received("e2e-pin")).toHaveLength(0);
  });

  it("the token is in no argument of caddy, its output, access log or autosaved config", async () => {
    await get("/history/e2e-logged", `Bearer ${token}`);
    const pid = gateway?.pid ?? -1;
    // The launcher execs caddy, so the spawned process is caddy itself.
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("caddy");
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    expect(argv.slice(0, 2)).toEqual(["caddy", "run"]);
    expect(argv.join(" ")).not.toContain(token);

    const output = gateway?.output() ?? "";
    expect(output).not.toBe("");
    expect(output).not.toContain(token);
    // The access log went to the file, and did record the requests above. Caddy writes the line
    // after the response has gone out, so give it a moment.
    let log = "";
    for (const deadline = Date.now() + 2_000; Date.now() < deadline; ) {
      log = readFileSync(accessLog, "utf8");
      if (log.includes("e2e-logged")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(log).toContain("e2e-logged");
    expect(log).not.toContain(token);
    const autosave = readFileSync(join(gateway?.configDir ?? "", "caddy", "autosave.json"), "utf8");
    expect(autosave).not.toContain(token);
  });

  it("the unit hands the launcher the file the boot program writes, never the token itself", () => {
    const unit = readFileSync(UNIT, "utf8");
    const cmd = execStart(unit);
    expect(cmd).toMatch(/^\/usr\/bin\/docker run /);
    expect(cmd).not.toContain("--env-file");
    expect(cmd).not.toMatch(/(-e|--env)[ =]VACE_TOKEN/);
    expect(unit).not.toMatch(/VACE_TOKEN/);
    // wan-vace-secrets.service sets no WAN_VACE_RUN_DIR, so boot_secrets.py's default applies.
    const defaultRunDir = /"WAN_VACE_RUN_DIR", "([^"]+)"/.exec(
      readFileSync(join(FILES, "boot_secrets.py"), "utf8"),
    )?.[1];
    expect(defaultRunDir).toBe("/run/wan-vace");
    const envFile = `${defaultRunDir}/gateway.env`;
    expect(cmd).toContain(` -e VACE_ENV_FILE=${envFile} `);
    expect(cmd).toContain(` -v ${envFile}:${envFile}:ro `);
    // VACE_TLS names <run dir>/tls/*: the unit mounts that dir at the same path.
    expect(cmd).toContain(` -v ${defaultRunDir}/tls:${defaultRunDir}/tls:ro `);
    // And the access log's directory, where the boot program points the gateway.
    const logDir = dirname(envValue(producedEnv, "VACE_ACCESS_LOG") ?? "");
    expect(cmd).toContain(` -v ${logDir}:${logDir} `);
  });
});
