import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireBinary } from "../../../test/binaries";
import { parseConfig } from "../../config";
import { compactBootFile } from "./compact";
import { BOOT_FILES, readBootFile } from "./files";
import {
  BOOT_ENV_PATH,
  type BootSettings,
  BootSettingsError,
  decodeUserData,
  encodeUserData,
  HOST_PINS,
  renderUserData,
  USER_DATA_LIMIT_BYTES,
} from "./index";
import { LARGEST_SETTINGS as largest } from "./largest-settings";

const run = promisify(execFile);
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const selfsigned: BootSettings = {
  region: "cn-hongkong",
  secretParameterName: "wan-vace-dev-boot",
  comfyuiImage: "registry-vpc.cn-hongkong.aliyuncs.com/wan-vace/comfyui:0.1.0",
  gatewayImage: "registry-vpc.cn-hongkong.aliyuncs.com/wan-vace/gateway:0.1.0",
  tls: { mode: "selfsigned" },
  idleStopMinutes: 30,
  driver: { mode: "preinstalled" },
};
const internal: BootSettings = {
  ...selfsigned,
  tls: { mode: "internal" },
  idleStopMinutes: 0,
  driver: {
    mode: "auto-install",
    driverVersion: "570.133.20",
    cudaVersion: "12.8.1",
    cudnnVersion: "9.8.0.87",
    scriptUnverified: true,
  },
};
/** The driver a stack gets when it sets nothing about drivers. */
const defaults = parseConfig({
  image: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
});
if (!defaults.ok) throw new Error("the default config must parse");
const aptDefault: BootSettings = { ...selfsigned, driver: defaults.config.driver as never };
const MODES = { largest, selfsigned, internal, aptDefault };

interface CloudConfig {
  write_files: { path: string; permissions: string; content: string }[];
  runcmd: string[][];
}
const parsed = (s: BootSettings) => parse(renderUserData(s)) as CloudConfig;
const fileAt = (c: CloudConfig, path: string) => c.write_files.find((f) => f.path === path);

describe("renderUserData", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wan-vace-boot-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes cloud-init schema for every TLS and driver mode", async () => {
    const cloudInit = requireBinary("cloud-init");
    const checks = Object.entries(MODES).flatMap(([name, settings]) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, renderUserData(settings));
      // --annotate prints the file with inline errors; one run of it is enough.
      const variants = name === "largest" ? [[], ["--annotate"]] : [[]];
      return variants.map((extra) => run(cloudInit, ["schema", "--config-file", file, ...extra]));
    });
    for (const { stdout } of await Promise.all(checks))
      expect(stdout).toContain("Valid cloud-config");
  });

  it("embeds the repo's files byte for byte (less their comment lines) and runs only what it writes", () => {
    const config = parsed(largest);
    for (const f of BOOT_FILES.filter((b) => !b.bakeOnly)) {
      expect(fileAt(config, f.path), f.path).toEqual({
        path: f.path,
        permissions: f.permissions,
        content: compactBootFile(f.source, readBootFile(f.source)),
      });
    }
    const written = new Map(config.write_files.map((f) => [f.path, f.permissions]));
    const units = config.write_files.filter((f) => f.path.startsWith("/etc/systemd/system/"));
    for (const unit of units) {
      const execs = unit.content
        .replace(/\\\n\s*/g, " ")
        .split("\n")
        .filter((l) => l.startsWith("Exec"))
        .map((l) => l.replace(/^Exec\w+=-?/, "").split(" "));
      for (const [program, arg] of execs) {
        if (program === "/usr/bin/docker") continue;
        if (program === "/usr/bin/python3")
          expect(written.has(arg ?? ""), `${unit.path}: ${arg}`).toBe(true);
        else expect(written.get(program ?? ""), `${unit.path}: ${program}`).toBe("0755");
      }
    }
    expect(config.runcmd.at(-1)).toEqual([
      "systemctl",
      "start",
      "--no-block",
      "wan-vace-comfyui.service",
      "wan-vace-gateway.service",
      "wan-vace-secrets-refresh.timer",
      "wan-vace-timeline.service",
      "wan-vace-closer.service",
      "wan-vace-idle.timer",
    ]);
  });

  it("installs the refused-connection closer and starts it every boot, on the gateway's port", () => {
    const config = parsed(selfsigned);
    expect(fileAt(config, "/usr/local/lib/wan-vace/refused_closer.py")?.content).toBe(
      compactBootFile("refused_closer.py", readBootFile("refused_closer.py")),
    );
    const unit = fileAt(config, "/etc/systemd/system/wan-vace-closer.service")?.content ?? "";
    expect(unit).toContain(
      "ExecStart=/usr/bin/python3 /usr/local/lib/wan-vace/refused_closer.py --log /var/log/wan-vace/access.log --port 443",
    );
    expect(unit).toContain("CapabilityBoundingSet=CAP_NET_ADMIN\n");
    // The same log and port the gateway is given.
    expect(readBootFile("boot_secrets.py")).toContain(
      'ACCESS_LOG = "/var/log/wan-vace/access.log"',
    );
    expect(readBootFile("boot_secrets.py")).toContain('"VACE_LISTEN": ":443"');
    expect(config.runcmd.flat().filter((a) => a === "wan-vace-closer.service")).toHaveLength(2);
  });

  it("installs the boot timeline and starts it every boot; ComfyUI serves its folder read-only", () => {
    const config = parsed(selfsigned);
    expect(fileAt(config, "/usr/local/lib/wan-vace/boot_timeline.py")?.content).toBe(
      compactBootFile("boot_timeline.py", readBootFile("boot_timeline.py")),
    );
    expect(fileAt(config, "/etc/systemd/system/wan-vace-timeline.service")?.content).toContain(
      "ExecStart=/usr/bin/python3 /usr/local/lib/wan-vace/boot_timeline.py",
    );
    const timeline = config.runcmd.flat().filter((a) => a === "wan-vace-timeline.service");
    expect(timeline).toHaveLength(2); // enabled and started
    expect(fileAt(config, "/etc/systemd/system/wan-vace-comfyui.service")?.content).toContain(
      "-v /var/lib/wan-vace/status:/opt/ComfyUI/output/wan-vace:ro",
    );
    // Present digest-pinned images are not pulled again (a baked image, a restart).
    for (const [unit, image] of [
      ["comfyui", "COMFYUI_IMAGE"],
      ["gateway", "GATEWAY_IMAGE"],
    ] as const) {
      const text = fileAt(config, `/etc/systemd/system/wan-vace-${unit}.service`)?.content ?? "";
      expect(text).toContain(`ExecStartPre=/usr/local/lib/wan-vace/ensure-image.sh \${${image}}`);
      expect(text).not.toContain("docker pull");
    }
  });

  it("keeps ComfyUI on the host's loopback and hands the gateway only tmpfs secrets", () => {
    const config = parsed(selfsigned);
    const comfyui = fileAt(config, "/etc/systemd/system/wan-vace-comfyui.service")?.content ?? "";
    // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR} syntax, on purpose.
    expect(comfyui).toContain("--network host --gpus all ${COMFYUI_IMAGE}");
    expect(comfyui).not.toMatch(/\s(-p|--publish)\s/);
    // The non-root design is enforced here, whatever the image's USER (issue 9, item 9).
    const comfyRun = comfyui.slice(comfyui.indexOf("ExecStart=")).split("\nExecStop")[0] ?? "";
    expect(comfyRun).toContain(
      " --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges ",
    );
    const gatewayRun = (
      fileAt(config, "/etc/systemd/system/wan-vace-gateway.service")?.content ?? ""
    )
      .split("ExecStart=")[1]
      ?.split("\nExecStop")[0];
    expect(gatewayRun).toContain(
      " --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges ",
    );
    expect(gatewayRun).not.toMatch(/--privileged|--cap-add (?!NET_BIND_SERVICE)/);
    const gateway = fileAt(config, "/etc/systemd/system/wan-vace-gateway.service")?.content ?? "";
    // The token file is mounted read-only; docker's own env (kept on disk in the container's
    // config.v2.json, shown by docker inspect) gets only its path.
    expect(gateway).toContain("-v /run/wan-vace/gateway.env:/run/wan-vace/gateway.env:ro");
    expect(gateway).not.toContain("--env-file");
    const dockerEnv = [...gateway.matchAll(/\s(?:-e|--env)[\s=](\S+)/g)].map((m) => m[1]);
    expect(dockerEnv).toEqual([
      "VACE_ENV_FILE=/run/wan-vace/gateway.env",
      "XDG_DATA_HOME=/data",
      "XDG_CONFIG_HOME=/config",
    ]);
    expect(gateway).toContain("-v /run/wan-vace/tls:/run/wan-vace/tls:ro");
    expect(gateway).toContain("--tmpfs /config");
  });

  it("retries the one-shot boot steps, within a start limit, and re-reads the secret on a timer", () => {
    const config = parsed(largest);
    /** `section` of a unit file as key → values (a key may repeat). */
    const section = (unit: string, name: string) => {
      const text = fileAt(config, `/etc/systemd/system/${unit}`)?.content ?? "";
      const body = text.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? "";
      const entries = new Map<string, string[]>();
      for (const [, key = "", value = ""] of body.matchAll(/^(\w+)=(.*)$/gm)) {
        entries.set(key, [...(entries.get(key) ?? []), value]);
      }
      return entries;
    };
    for (const unit of ["wan-vace-setup.service", "wan-vace-secrets.service"]) {
      const service = section(unit, "Service");
      expect(service.get("Type"), unit).toEqual(["oneshot"]);
      expect(service.get("Restart"), unit).toEqual(["on-failure"]);
      expect(service.get("RestartSec"), unit).toEqual(["30s"]);
      // systemd reads the start limit from [Unit] only; in [Service] it is silently ignored.
      expect(section(unit, "Unit").get("StartLimitIntervalSec"), unit).toEqual(["6h"]);
      expect(section(unit, "Unit").get("StartLimitBurst"), unit).toEqual(["5"]);
    }
    const refresh = section("wan-vace-secrets-refresh.service", "Service");
    expect(refresh.get("ExecStart")).toEqual([
      "/usr/bin/python3 /usr/local/lib/wan-vace/boot_secrets.py --refresh",
    ]);
    const timer = section("wan-vace-secrets-refresh.timer", "Timer");
    expect([timer.get("OnBootSec"), timer.get("OnUnitActiveSec")]).toEqual([["10min"], ["5min"]]);
  });

  it("every shell script, and boot.env as bash, passes shellcheck", async () => {
    const shellcheck = requireBinary("shellcheck");
    const config = parsed(largest);
    const scripts = config.write_files.filter((f) => f.content.startsWith("#!/bin/bash"));
    expect(scripts.map((f) => f.path).sort()).toEqual([
      "/usr/local/lib/wan-vace/registry-login.sh",
      "/usr/local/lib/wan-vace/setup-host.sh",
    ]);
    const paths = scripts.map((f, i) => {
      const p = join(dir, `script-${i}.sh`);
      writeFileSync(p, f.content);
      return p;
    });
    const env = join(dir, "boot.env");
    writeFileSync(env, fileAt(config, BOOT_ENV_PATH)?.content ?? "");
    await run(shellcheck, paths);
    // boot.env only assigns; SC2034 (assigned but unused) is its whole point.
    await run(shellcheck, ["--shell=bash", "--exclude=SC2034", env]);
  });

  it("boot.env reads back exactly in bash, quoting and all", async () => {
    const env = join(dir, "roundtrip.env");
    writeFileSync(env, fileAt(parsed(largest), BOOT_ENV_PATH)?.content ?? "");
    const { stdout } = await run("bash", [
      "-c",
      'set -eu; . "$1"; printf "%s\\n" "$COMFYUI_IMAGE" "$ACME_EMAIL" "$DOCKER_VERSION" "$IDLE_STOP_MINUTES" "$REGISTRY_SERVER"',
      "bash",
      env,
    ]);
    expect(stdout.split("\n").slice(0, 5)).toEqual([
      largest.comfyuiImage,
      "platform-team+vace@example.com",
      HOST_PINS.dockerVersion,
      "10080",
      largest.registryServer,
    ]);
  });

  it("systemd units pass systemd-analyze verify", async () => {
    const analyze = requireBinary("systemd-analyze");
    const unitDir = join(dir, "units");
    mkdirSync(unitDir);
    const units = parsed(largest).write_files.filter((f) =>
      f.path.startsWith("/etc/systemd/system/"),
    );
    const names = units.map((u) => {
      const name = u.path.split("/").at(-1) ?? "";
      writeFileSync(join(unitDir, name), u.content);
      return join(unitDir, name);
    });
    const result = await run(analyze, ["verify", ...names]).catch((e: { stderr: string }) => e);
    // This machine has no Docker and the scripts are not installed: only those may be missing.
    const problems = result.stderr
      .split("\n")
      .filter((l) => l.trim() !== "")
      .filter(
        (l) =>
          !/Command \/usr\/(bin\/docker|local\/lib\/wan-vace\/[\w.-]+) is not executable/.test(l),
      );
    expect(problems).toEqual([]);
  });

  it("holds no secret, and fetches it from the OOS parameter at boot instead", () => {
    for (const settings of Object.values(MODES)) {
      const text = renderUserData(settings);
      expect(text).not.toMatch(/-----BEGIN [A-Z ]+-----\s*[A-Za-z0-9+/]/);
      expect(text).not.toMatch(/VACE_TOKEN=\S/);
      expect(text).not.toMatch(/registry(Password|Username)["']?\s*[:=]\s*["'][^"']/);
      // Nothing that looks like a credential: long mixed-case+digit runs other than the pins.
      const allowed = new Set<string>([
        HOST_PINS.dockerKeyFingerprint,
        HOST_PINS.nvidiaKeyFingerprint,
      ]);
      const suspicious = (text.match(/[A-Za-z0-9+/_-]{32,}/g) ?? []).filter(
        (s) => /\d/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s) && !allowed.has(s),
      );
      expect(suspicious).toEqual([]);
      expect(text).toContain(`SECRET_PARAMETER_NAME='${settings.secretParameterName}'`);
    }
    const config = parsed(selfsigned);
    expect(fileAt(config, "/etc/systemd/system/wan-vace-secrets.service")?.content).toContain(
      "ExecStart=/usr/bin/python3 /usr/local/lib/wan-vace/boot_secrets.py",
    );
    expect(fileAt(config, "/usr/local/lib/wan-vace/aliyun_rpc.py")?.content).toContain(
      '{"Name": name, "WithDecryption": "true"}',
    );
  });

  it("is deterministic, whatever the key order of its input", () => {
    const shuffled = Object.fromEntries(
      Object.entries(largest).reverse(),
    ) as unknown as BootSettings;
    expect(renderUserData(shuffled)).toBe(renderUserData(largest));
    expect(encodeUserData(renderUserData(shuffled))).toBe(encodeUserData(renderUserData(largest)));
  });

  it("fits the 16 KB user-data floor once gzipped, and decodes back to the text", () => {
    const text = renderUserData(largest);
    const encoded = encodeUserData(text);
    const gzipped = Buffer.from(encoded, "base64");
    expect(gzipped.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gzipped.length).toBeLessThan(USER_DATA_LIMIT_BYTES);
    expect(decodeUserData(encoded)).toBe(text);
    const incompressible = Array.from({ length: 1_000 }, (_, i) => sha(String(i))).join("");
    expect(() => encodeUserData(incompressible)).toThrow(/over the 16384-byte limit/);
  });

  // Issue 9, item 10.
  it("by default installs Ubuntu's signed driver packages: no plain-HTTP script is run as root", () => {
    expect(aptDefault.driver).toEqual({ mode: "apt", branch: "580" });
    const text = renderUserData(aptDefault);
    const env = fileAt(parse(text) as CloudConfig, BOOT_ENV_PATH)?.content ?? "";
    expect(env).toContain("DRIVER_MODE='apt'\n");
    expect(env).toContain("DRIVER_BRANCH='580'\n");
    expect(env).toContain("DRIVER_SCRIPT_UNVERIFIED=''\n");
    // Nothing anywhere in it pipes a download into a shell.
    expect(text).not.toMatch(/(curl|wget)[^\n|]*\|\s*(ba|da)?sh\b/);
    expect(Buffer.from(encodeUserData(text), "base64").length).toBeLessThan(USER_DATA_LIMIT_BYTES);
  });

  it("renders Alibaba's script only pinned, or explicitly unverified", () => {
    const unpinned = { ...internal, driver: { ...internal.driver } } as BootSettings;
    delete (unpinned.driver as { scriptUnverified?: true }).scriptUnverified;
    expect(() => renderUserData(unpinned)).toThrow(
      /driver.scriptSha256: set it, or scriptUnverified: true/,
    );
    const env = fileAt(parsed(internal), BOOT_ENV_PATH)?.content ?? "";
    expect(env).toContain("DRIVER_SCRIPT_UNVERIFIED='true'\n");
    expect(fileAt(parsed(largest), BOOT_ENV_PATH)?.content).toContain(
      "DRIVER_SCRIPT_UNVERIFIED=''\n",
    );
  });

  it("installs no watchdog when idle stop is off", () => {
    const config = parsed(internal);
    expect(config.write_files.some((f) => f.path.includes("idle"))).toBe(false);
    expect(config.runcmd.flat()).not.toContain("wan-vace-idle.timer");
  });

  it("names every bad field at once", () => {
    const bad = {
      ...largest,
      region: "Singapore",
      comfyuiImage: "registry.example.com/comfyui:latest",
      gatewayImage: "gateway",
      registryServer: "host with space",
      tls: { mode: "acme", domain: "not a domain", email: "nobody" },
      idleStopMinutes: -5,
      idleGraceMinutes: 1,
      driver: {
        mode: "auto-install",
        driverVersion: "latest",
        cudaVersion: "12",
        cudnnVersion: "9",
        scriptSha256: "abc",
      },
    } as BootSettings;
    let error: unknown;
    try {
      renderUserData(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BootSettingsError);
    const fields = (error as BootSettingsError).problems.map((p) => p.split(":")[0]);
    expect(fields).toEqual([
      "region",
      "comfyuiImage",
      "gatewayImage",
      "registryServer",
      "tls.domain",
      "tls.email",
      "idleStopMinutes",
      "idleGraceMinutes",
      "driver.driverVersion",
      "driver.cudaVersion",
      "driver.cudnnVersion",
      "driver.scriptSha256",
    ]);
    expect(() => renderUserData({ ...selfsigned, secretParameterName: "x'; rm -rf /" })).toThrow(
      /secretParameterName/,
    );
  });
});
