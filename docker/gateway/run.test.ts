/**
 * The launcher's decisions, without serving: bad VACE_* input is refused with a message naming
 * the variable, and each VACE_TLS form adapts to the Caddy config it promises (`run adapt`).
 * Also: the image pins the very Caddy these tests run, and the shell stays POSIX-clean.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { afterAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";
import { GATEWAY_RUN } from "./launch";

requireBinary("caddy");

const token = "T0ken_With-Only-Allowed-Chars-0123456789abcdef";
const scratch = mkdtempSync(join(tmpdir(), "vace-gw-run-"));
const certPath = join(scratch, "cert.pem");
const keyPath = join(scratch, "key.pem");
// `run adapt` only checks that the files are readable; Caddy reads them when it serves.
writeFileSync(certPath, "not parsed by adapt\n");
writeFileSync(keyPath, "not parsed by adapt\n");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const base = {
  VACE_TOKEN: token,
  VACE_UPSTREAM: "127.0.0.1:8188",
  VACE_LISTEN: ":443",
  VACE_TLS: "internal",
};

function run(env: Record<string, string | undefined>, args: string[] = []) {
  const r = spawnSync(GATEWAY_RUN, args, {
    env: { PATH: process.env.PATH, HOME: scratch, XDG_CONFIG_HOME: scratch, ...env },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface CaddyJson {
  admin: { disabled: boolean };
  logging: { logs: Record<string, { writer: Record<string, unknown> }> };
  apps: {
    http: { servers: Record<string, { listen: string[]; routes: Array<{ match?: unknown }> }> };
    tls?: {
      automation?: {
        policies: Array<{
          subjects?: string[];
          issuers?: Array<Record<string, unknown>>;
          on_demand?: boolean;
        }>;
      };
      certificates?: { load_files?: Array<{ certificate: string; key: string }> };
    };
  };
}

function adapt(env: Record<string, string | undefined>): {
  config: CaddyJson;
  raw: string;
  stderr: string;
} {
  const r = run({ ...base, ...env }, ["adapt"]);
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.status).toBe(0);
  return { config: JSON.parse(r.stdout) as CaddyJson, raw: r.stdout, stderr: r.stderr };
}

describe("launcher refuses bad input (exit 2, the variable named, the token never echoed)", () => {
  it.each([
    ["VACE_TOKEN", { VACE_TOKEN: undefined }, /VACE_TOKEN is not set/],
    ["VACE_TOKEN", { VACE_TOKEN: "short-token" }, /VACE_TOKEN has 11 characters; at least 32/],
    ["VACE_TOKEN", { VACE_TOKEN: `${token}"{$x}` }, /VACE_TOKEN may only contain/],
    ["VACE_TOKEN", { VACE_TOKEN: `${token} ${token}` }, /VACE_TOKEN may only contain/],
    ["VACE_UPSTREAM", { VACE_UPSTREAM: "127.0.0.1" }, /VACE_UPSTREAM must be host:port/],
    [
      "VACE_UPSTREAM",
      { VACE_UPSTREAM: "127.0.0.1:99999" },
      /VACE_UPSTREAM: port 99999 is out of range/,
    ],
    [
      "VACE_UPSTREAM",
      { VACE_UPSTREAM: "comfy ui:8188" },
      /VACE_UPSTREAM: 'comfy ui' is not a host/,
    ],
    ["VACE_LISTEN", { VACE_LISTEN: "443" }, /VACE_LISTEN must be \[host\]:port/],
    ["VACE_LISTEN", { VACE_LISTEN: ":https" }, /VACE_LISTEN: 'https' is not a port/],
    ["VACE_LISTEN", { VACE_TLS: "off", VACE_LISTEN: ":443" }, /port 443 is for HTTPS/],
    ["VACE_LISTEN", { VACE_LISTEN: "0.0.0.0:80" }, /port 80 is for plain HTTP/],
    ["VACE_TLS", { VACE_TLS: undefined }, /VACE_TLS is not set/],
    ["VACE_TLS", { VACE_TLS: "on" }, /VACE_TLS: 'on' is not recognised.*off \| internal/],
    ["VACE_TLS", { VACE_TLS: "203.0.113.10" }, /is an IP address; ACME needs a domain/],
    ["VACE_TLS", { VACE_TLS: "-bad.example.com" }, /not recognised/],
    ["VACE_TLS", { VACE_TLS: "/only/one/path.pem" }, /not recognised/],
    ["VACE_TLS", { VACE_TLS: "cert.pem key.pem" }, /not recognised/],
    ["VACE_TLS", { VACE_TLS: `${certPath} /nonexistent/key.pem` }, /cannot read key file/],
    [
      "VACE_ACME_EMAIL",
      { VACE_ACME_EMAIL: "ops@example.com" },
      /only used when VACE_TLS is a domain/,
    ],
    [
      "VACE_ACME_EMAIL",
      { VACE_TLS: "vace.example.com", VACE_ACME_EMAIL: "not-an-email" },
      /not an e-mail/,
    ],
    ["VACE_ACCESS_LOG", { VACE_ACCESS_LOG: "access.log" }, /must be an absolute path/],
    ["VACE_ACCESS_LOG", { VACE_ACCESS_LOG: "/nonexistent-dir/access.log" }, /does not exist/],
  ])("%s %j", (_name, env, message) => {
    const r = run({ ...base, ...env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^vace-gateway: /);
    expect(r.stderr).not.toContain(token.slice(0, 20));
    expect(r.stdout).toBe("");
  });

  it("rejects an unknown argument", () => {
    const r = run(base, ["serve"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument 'serve'. Usage: run \[adapt\]/);
  });
});

describe("VACE_TLS forms (run adapt)", () => {
  it("every adapted config has admin off and holds no secret", () => {
    for (const VACE_TLS of ["off", "internal", "vace.example.com", `${certPath} ${keyPath}`]) {
      const { config, raw } = adapt({ VACE_TLS, VACE_LISTEN: ":8443" });
      expect(config.admin.disabled).toBe(true);
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(Buffer.from(`vace:${token}`).toString("base64"));
      // The credential is read per request, from the environment.
      expect(raw).toContain("{env.VACE_TOKEN}");
    }
  });

  it("off: plain HTTP on the listen address, with a loud warning", () => {
    const { config, stderr } = adapt({ VACE_TLS: "off", VACE_LISTEN: "127.0.0.1:18443" });
    expect(config.apps.http.servers.srv0?.listen).toEqual(["127.0.0.1:18443"]);
    expect(config.apps.tls?.automation?.policies ?? []).toEqual([]);
    expect(stderr).toMatch(/WARNING: VACE_TLS=off: serving PLAIN HTTP/);
  });

  it("internal: Caddy's CA, signing on demand (clients by IP send no SNI)", () => {
    const { config } = adapt({ VACE_TLS: "internal" });
    expect(config.apps.http.servers.srv0?.listen).toEqual([":443"]);
    const [policy] = config.apps.tls?.automation?.policies ?? [];
    expect(policy?.issuers).toEqual([{ module: "internal" }]);
    expect(policy?.on_demand).toBe(true);
  });

  it("a domain: ACME for that name only, with the optional account e-mail", () => {
    const { config } = adapt({ VACE_TLS: "vace.example.com", VACE_ACME_EMAIL: "ops@example.com" });
    const [policy] = config.apps.tls?.automation?.policies ?? [];
    expect(policy?.subjects).toEqual(["vace.example.com"]);
    expect(policy?.issuers?.[0]).toEqual({ module: "acme", email: "ops@example.com" });
    expect(config.apps.http.servers.srv0?.routes[0]?.match).toEqual([
      { host: ["vace.example.com"] },
    ]);
    const noEmail = adapt({ VACE_TLS: "vace.example.com" }).config;
    expect(JSON.stringify(noEmail.apps.tls)).not.toContain("email");
  });

  it("two paths: the deploy-time certificate and key, loaded from files", () => {
    const { config } = adapt({ VACE_TLS: `${certPath} ${keyPath}` });
    expect(config.apps.tls?.certificates?.load_files).toMatchObject([
      { certificate: certPath, key: keyPath },
    ]);
  });

  it("VACE_ACCESS_LOG moves the access log from stdout to that file", () => {
    const file = join(scratch, "access.log");
    const withFile = adapt({ VACE_ACCESS_LOG: file }).config.logging.logs.log0?.writer;
    expect(withFile).toMatchObject({ output: "file", filename: file });
    expect(adapt({}).config.logging.logs.log0?.writer).toEqual({ output: "stdout" });
  });
});

describe("packaging", () => {
  it("the image pins its base by digest and Caddy to the version these tests run", () => {
    const dockerfile = DockerfileParser.parse(readFileSync(join(__dirname, "Dockerfile"), "utf8"));
    const [from] = dockerfile.getFROMs();
    expect(from?.getImageName()).toBe("debian");
    expect(from?.getImageDigest()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const runs = dockerfile.getInstructions().filter((i) => i.getKeyword() === "RUN");
    const pin = runs
      .map((i) => /\bcaddy=(\S+)/.exec(i.getArgumentsContent() ?? "")?.[1])
      .find(Boolean);
    expect(pin).toMatch(/^\d+\.\d+\.\d+-\S+$/);
    const tested = spawnSync("caddy", ["version"], { encoding: "utf8" })
      .stdout.trim()
      .split(/\s+/)[0];
    // Debian's version is upstream-revision; `caddy version` prints the upstream part.
    expect(`v${pin?.split("-")[0]}`).toBe(tested?.startsWith("v") ? tested : `v${tested}`);
  });

  it("the Caddyfile is in `caddy fmt` form", () => {
    const path = join(__dirname, "Caddyfile");
    const r = spawnSync("caddy", ["fmt", path], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(path, "utf8"));
  });

  it("the launcher is POSIX sh and shellcheck-clean", () => {
    requireBinary("shellcheck");
    const r = spawnSync("shellcheck", ["--shell=sh", GATEWAY_RUN], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});
