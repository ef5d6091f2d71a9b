/**
 * The launcher's decisions, without serving: bad VACE_* input is refused with a message naming
 * the variable, and each VACE_TLS form adapts to the Caddy config it promises (`run adapt`).
 * Also: the image pins the very Caddy these tests run, and the shell stays POSIX-clean.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

function run(
  env: Record<string, string | undefined>,
  args: string[] = [],
  uid?: number,
  launcher = GATEWAY_RUN,
) {
  const r = spawnSync(launcher, args, {
    env: { PATH: process.env.PATH, HOME: scratch, XDG_CONFIG_HOME: scratch, ...env },
    cwd: dirname(launcher),
    encoding: "utf8",
    // Should the launcher wrongly start serving, fail instead of hanging.
    timeout: 10_000,
    ...(uid === undefined ? {} : { uid, gid: uid }),
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

  it.each([
    ["VACE_UPSTREAM", { VACE_UPSTREAM: token }],
    ["VACE_UPSTREAM", { VACE_UPSTREAM: `${token}:8188` }],
    ["VACE_UPSTREAM", { VACE_UPSTREAM: `127.0.0.1:${token}` }],
    ["VACE_LISTEN", { VACE_LISTEN: token }],
    ["VACE_LISTEN", { VACE_LISTEN: `:${token}` }],
    ["VACE_LISTEN", { VACE_LISTEN: `${token}:443` }],
    ["VACE_TLS", { VACE_TLS: token }],
    ["VACE_TLS", { VACE_TLS: `${token}.example.com` }],
    ["VACE_TLS", { VACE_TLS: `/run/${token} /run/key.pem` }],
    ["VACE_ACME_EMAIL", { VACE_TLS: "vace.example.com", VACE_ACME_EMAIL: `${token}@` }],
    ["VACE_ACCESS_LOG", { VACE_ACCESS_LOG: `/var/log/${token}/access.log` }],
    ["a token-like value that is not the token", { VACE_UPSTREAM: `${"x".repeat(40)} :1` }],
  ])("never echoes a value that could be the token: %s %j", (_name, env) => {
    const r = run({ ...base, ...env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^vace-gateway: .*<hidden: could be the token>/);
    expect(r.stderr).not.toMatch(/[A-Za-z0-9_-]{32}/);
  });

  it("rejects an unknown argument", () => {
    const r = run(base, ["serve"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument 'serve'. Usage: run \[adapt\]/);
  });
});

describe("VACE_ENV_FILE: settings from a file (an additive extension of contract 6)", () => {
  let files = 0;
  /** Writes `text` to a fresh file and returns its path. */
  function envFile(text: string): string {
    const path = join(scratch, `gateway-${++files}.env`);
    writeFileSync(path, text);
    return path;
  }

  it("the file alone configures the launcher: comments and blank lines skipped, values literal, file wins", () => {
    const file = envFile(
      [
        "# wan-vace gateway",
        "",
        " \t ",
        `VACE_TOKEN=${token}`,
        "VACE_UPSTREAM=127.0.0.1:8188",
        "VACE_LISTEN=:8443",
        "#VACE_LISTEN=:9443",
        // Two paths and the one space between them, kept as written.
        `VACE_TLS=${certPath} ${keyPath}`,
        // The last line has no newline.
        `VACE_ACCESS_LOG=${join(scratch, "from-file.log")}`,
      ].join("\n"),
    );
    // Inherited values that would each fail on their own: the file's must win.
    const r = run({ VACE_ENV_FILE: file, VACE_TOKEN: "short", VACE_TLS: "off" }, ["adapt"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const config = JSON.parse(r.stdout) as CaddyJson;
    expect(config.apps.tls?.certificates?.load_files).toMatchObject([
      { certificate: certPath, key: keyPath },
    ]);
    expect(config.apps.http.servers.srv0?.listen).toEqual([":8443"]);
    expect(config.logging.logs.log0?.writer).toMatchObject({
      filename: join(scratch, "from-file.log"),
    });
  });

  it("values are taken literally: no quote removal, no expansion", () => {
    const quoted = run({ ...base, VACE_ENV_FILE: envFile('VACE_TLS="off"\n') });
    expect(quoted.status).toBe(2);
    expect(quoted.stderr).toContain(`VACE_TLS: '"off"' is not recognised`);
    const pwned = join(scratch, "pwned");
    const expanded = run({ ...base, VACE_ENV_FILE: envFile(`VACE_TLS=$(touch ${pwned})\n`) });
    expect(expanded.status).toBe(2);
    expect(existsSync(pwned)).toBe(false);
  });

  it.each([
    ["a key outside VACE_", `# ok\nVACE_TLS=internal\nTOKEN=${token}\n`, 3],
    ["a lower-case key", `VACE_token=${token}\n`, 1],
    ["`export`", `export VACE_TOKEN=${token}\n`, 1],
    ["a bare value (no KEY=)", `\n${token}\n`, 2],
    ["an indented comment", ` # VACE_TOKEN=${token}\n`, 1],
    ["CRLF line endings", `VACE_TOKEN=${token}\r\n`, 1],
  ])("refuses %s: exit 2, the line number named, the value never shown", (_what, text, line) => {
    const file = envFile(text);
    const r = run({ ...base, VACE_ENV_FILE: file });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^vace-gateway: VACE_ENV_FILE ${file}, line ${line}: `));
    expect(r.stderr).not.toContain(token.slice(0, 20));
    expect(r.stdout).toBe("");
  });

  it("refuses a missing file, a directory and an unreadable file, with exit 2", () => {
    expect(run({ ...base, VACE_ENV_FILE: join(scratch, "absent.env") })).toMatchObject({
      status: 2,
      stderr: `vace-gateway: VACE_ENV_FILE: ${join(scratch, "absent.env")} does not exist\n`,
    });
    expect(run({ ...base, VACE_ENV_FILE: scratch })).toMatchObject({
      status: 2,
      stderr: `vace-gateway: VACE_ENV_FILE: ${scratch} is not a regular file\n`,
    });
    // Mode 000 in a world-readable directory; root reads anything, so then run as nobody. Nobody
    // may not be able to enter the checkout (a clone under a 0700 directory), so it runs a copy
    // of the launcher from that world-readable directory, with its working directory there too.
    const dir = mkdtempSync(join(tmpdir(), "vace-gw-envfile-"));
    try {
      chmodSync(dir, 0o755);
      const file = join(dir, "gateway.env");
      writeFileSync(file, `VACE_TOKEN=${token}\n`, { mode: 0o000 });
      const asUser = process.getuid?.() === 0 ? 65534 : undefined;
      const launcher = join(dir, "run");
      copyFileSync(GATEWAY_RUN, launcher);
      chmodSync(launcher, 0o755);
      const env = { ...base, VACE_ENV_FILE: file, HOME: dir, XDG_CONFIG_HOME: dir };
      expect(run(env, [], asUser, launcher)).toMatchObject({
        status: 2,
        stderr: `vace-gateway: VACE_ENV_FILE: cannot read ${file} (check its owner and mode)\n`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  it("internal: Caddy's CA, for the listed names only, never on demand", () => {
    const { config } = adapt({ VACE_TLS: "internal" });
    expect(config.apps.http.servers.srv0?.listen).toEqual([":443"]);
    const [policy] = config.apps.tls?.automation?.policies ?? [];
    expect(policy?.issuers).toEqual([{ module: "internal" }]);
    expect(policy?.on_demand).toBeUndefined();
    expect(policy?.subjects?.sort()).toEqual(["127.0.0.1", "::1", "localhost"]);
    const named = adapt({
      VACE_TLS: "internal",
      VACE_LISTEN: "10.0.0.7:8443",
      VACE_TLS_NAMES: "vace.lan, 192.168.1.5,localhost",
    }).config;
    expect(named.apps.tls?.automation?.policies?.[0]?.subjects?.sort()).toEqual([
      "10.0.0.7",
      "127.0.0.1",
      "192.168.1.5",
      "::1",
      "localhost",
      "vace.lan",
    ]);
    const bad = run({ ...base, VACE_TLS_NAMES: "a b/c" }, ["adapt"]);
    expect([bad.status, bad.stderr]).toEqual([
      2,
      "vace-gateway: VACE_TLS_NAMES: 'b/c' is not a host name or IP address\n",
    ]);
    const unused = run({ ...base, VACE_TLS: "off", VACE_LISTEN: ":8080", VACE_TLS_NAMES: "x" });
    expect(unused.stderr).toMatch(/VACE_TLS_NAMES is only used with VACE_TLS=internal/);
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
    expect(JSON.stringify(noEmail.apps.tls ?? {})).not.toContain("email");
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

  describe("apt resolves from the dated snapshot the base image was built from", () => {
    const gatewayDir = __dirname;
    const snapshotSources = join(gatewayDir, "debian-snapshot.sources");
    const useSnapshot = join(gatewayDir, "use-apt-snapshot");
    const dockerfileText = readFileSync(join(gatewayDir, "Dockerfile"), "utf8");
    const [from] = DockerfileParser.parse(dockerfileText).getFROMs();
    // debian:bookworm-YYYYMMDD-slim is built from snapshot.debian.org at YYYYMMDDT000000Z.
    const serial = /^bookworm-(\d{8})-slim$/.exec(from?.getImageTag() ?? "")?.[1];
    const archives = [
      `http://snapshot.debian.org/archive/debian/${serial}T000000Z`,
      `http://snapshot.debian.org/archive/debian-security/${serial}T000000Z`,
    ];
    /** The base image's debian.sources as debuerreotype writes it (docker-debian-artifacts). */
    const baseSources = (date: string) =>
      [
        ["debian", "bookworm bookworm-updates"],
        ["debian-security", "bookworm-security"],
      ]
        .map(
          ([archive, suites]) =>
            `Types: deb\n# http://snapshot.debian.org/archive/${archive}/${date}T000000Z\n` +
            `URIs: http://deb.debian.org/${archive}\nSuites: ${suites}\nComponents: main\n` +
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        )
        .join("\n");

    it("the sources name the FROM tag's date, and the build installs them before apt-get update", () => {
      expect(serial).toMatch(/^\d{8}$/);
      const uris = [...readFileSync(snapshotSources, "utf8").matchAll(/^URIs: (.+)$/gm)].map(
        (m) => m[1],
      );
      expect(uris).toEqual(archives);
      const run = DockerfileParser.parse(dockerfileText)
        .getInstructions()
        .find((i) => i.getKeyword() === "RUN" && /apt-get/.test(i.getArgumentsContent() ?? ""))
        ?.getArgumentsContent();
      // Each step is there, in this order.
      const at = ["use-apt-snapshot", "Check-Valid-Until=false", "update", "caddy="].map(
        (step) => run?.indexOf(step) ?? -1,
      );
      expect(at.every((i) => i >= 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      expect(dockerfileText).not.toContain("deb.debian.org");
      // Both files are in the build context.
      const ignore = readFileSync(join(gatewayDir, ".dockerignore"), "utf8").split("\n");
      expect(ignore).toEqual(
        expect.arrayContaining(["!debian-snapshot.sources", "!use-apt-snapshot"]),
      );
    });

    it("apt reads them as bookworm, bookworm-updates and bookworm-security from the snapshot", () => {
      const dir = mkdtempSync(join(tmpdir(), "vace-gw-apt-"));
      try {
        writeFileSync(join(dir, "debian.sources"), readFileSync(snapshotSources));
        // --print-uris lists what `apt-get update` would fetch, without fetching.
        const r = spawnSync(
          "apt-get",
          [
            "-o",
            "Dir::Etc::SourceList=/dev/null",
            "-o",
            `Dir::Etc::SourceParts=${dir}`,
            "-o",
            `Dir::State::Lists=${dir}`,
            "-o",
            `Dir::Cache=${dir}`,
            "--print-uris",
            "update",
          ],
          { encoding: "utf8" },
        );
        expect(r.error).toBeUndefined();
        expect(r.stderr).toBe("");
        const releases = [...r.stdout.matchAll(/^'(\S+)\/InRelease'/gm)].map((m) => m[1]);
        expect(releases).toEqual([
          `${archives[0]}/dists/bookworm`,
          `${archives[0]}/dists/bookworm-updates`,
          `${archives[1]}/dists/bookworm-security`,
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("use-apt-snapshot installs them over a base recording that snapshot, and refuses another", () => {
      const dir = mkdtempSync(join(tmpdir(), "vace-gw-snap-"));
      try {
        const base = join(dir, "debian.sources");
        writeFileSync(base, baseSources("20991231"));
        const refused = spawnSync("sh", [useSnapshot, snapshotSources, base], { encoding: "utf8" });
        expect(refused.status).toBe(1);
        expect(refused.stderr).toContain(
          `${archives[0]} is not the snapshot the base image was built from; ${base} records: ` +
            "http://snapshot.debian.org/archive/debian/20991231T000000Z " +
            "http://snapshot.debian.org/archive/debian-security/20991231T000000Z\n",
        );
        expect(readFileSync(base, "utf8")).toBe(baseSources("20991231"));

        writeFileSync(base, baseSources(serial ?? ""));
        const used = spawnSync("sh", [useSnapshot, snapshotSources, base], { encoding: "utf8" });
        expect(used.stderr).toBe("");
        expect(used.status).toBe(0);
        expect(readFileSync(base, "utf8")).toBe(readFileSync(snapshotSources, "utf8"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("the Caddyfile is in `caddy fmt` form", () => {
    const path = join(__dirname, "Caddyfile");
    const r = spawnSync("caddy", ["fmt", path], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(path, "utf8"));
  });

  it("the launcher and the build script are POSIX sh and shellcheck-clean", () => {
    requireBinary("shellcheck");
    const scripts = [GATEWAY_RUN, join(__dirname, "use-apt-snapshot")];
    const r = spawnSync("shellcheck", ["--shell=sh", ...scripts], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});
