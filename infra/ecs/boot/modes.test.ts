/**
 * The user-data's three modes (deploy, bake, baked), rendered and then run: the scripts are taken
 * from the rendered user-data itself (comment lines stripped, as the instance gets them) and run
 * by real bash and python3 against FakeCloud and the stand-in host programs (files/fake-host.ts).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireBinary } from "../../../test/binaries";
import { FakeCloud, INSTANCE_ID } from "./files/fake-cloud";
import {
  createFakeHost,
  FAKE_DOCKER_VERSION,
  FAKE_DRIVER_VERSION,
  type FakeHost,
} from "./files/fake-host";
import * as boot from "./index";
import { HOST_PINS } from "./pins";
import type { BootMode, BootSettings } from "./settings";

const { BOOT_ENV_PATH, encodeUserData, renderUserData, USER_DATA_LIMIT_BYTES } = boot;

import { LARGEST_SETTINGS as largest } from "./largest-settings";

const run = promisify(execFile);
const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
const LIB = "/usr/local/lib/wan-vace/";
const REGISTRY = "registry-vpc.cn-hongkong.aliyuncs.com";
const COMFYUI = `${REGISTRY}/wan-vace/comfyui:0.2.0@${sha("comfyui")}`;
const GATEWAY = `${REGISTRY}/wan-vace/gateway@${sha("gateway")}`;
const PARAMETER = "vace-dev-abc123-boot";
const TOKEN = "Bake0token0that0is0long0enough0for0the0gateway";
const PASSWORD = "Registry-Password-9f8e7d6c5b4a";

const base: BootSettings = {
  region: "cn-hongkong",
  secretParameterName: PARAMETER,
  comfyuiImage: COMFYUI,
  gatewayImage: GATEWAY,
  registryServer: REGISTRY,
  tls: { mode: "selfsigned" },
  idleStopMinutes: 30,
  driver: { mode: "apt", branch: "580" },
};
interface CloudConfig {
  write_files: { path: string; permissions: string; content: string }[];
  runcmd: string[][];
}
const render = (s: BootSettings, mode: BootMode) => renderUserData({ ...s, mode });
const parsed = (s: BootSettings, mode: BootMode) => parse(render(s, mode)) as CloudConfig;
const file = (c: CloudConfig, path: string) => c.write_files.find((f) => f.path === path)?.content;

const cloud = new FakeCloud({
  secrets: {
    [PARAMETER]: JSON.stringify({
      token: TOKEN,
      registryUsername: "puller@123",
      registryPassword: PASSWORD,
    }),
  },
});
let host: FakeHost;
beforeAll(async () => {
  requireBinary("curl");
  requireBinary("python3");
  await cloud.start();
  host = createFakeHost(cloud);
});
afterAll(async () => {
  await cloud.stop();
  host.remove();
});

/**
 * A scenario whose boot.env and scripts are the rendered user-data's, written under the scenario
 * (lib/ for the scripts). Returns the environment that points every path at it.
 */
function installed(name: string, settings: BootSettings, mode: BootMode) {
  const s = host.scenario(name);
  const config = parsed(settings, mode);
  writeFileSync(join(s.test, "boot.env"), file(config, BOOT_ENV_PATH) ?? "");
  const lib = join(s.test, "lib");
  mkdirSync(lib);
  for (const f of config.write_files.filter((w) => w.path.startsWith(LIB))) {
    const path = join(lib, f.path.slice(LIB.length));
    writeFileSync(path, f.content);
    chmodSync(path, Number.parseInt(f.permissions, 8));
  }
  writeFileSync(join(s.test, "os-release"), "ID=ubuntu\nVERSION_ID=22.04\n");
  writeFileSync(join(s.test, "machine-id"), "0123456789abcdef0123456789abcdef\n");
  writeFileSync(join(s.test, "wan-vace-bake.service"), "[Unit]\n");
  const env = {
    ...cloud.env(),
    WAN_VACE_LIB: lib,
    WAN_VACE_RUN_DIR: join(s.test, "run"),
    WAN_VACE_STATUS_DIR: join(s.test, "state", "status"),
    WAN_VACE_LOG_DIR: join(s.test, "log"),
    WAN_VACE_OS_RELEASE: join(s.test, "os-release"),
    WAN_VACE_DOCKER_DAEMON_JSON: join(s.test, "daemon.json"),
    WAN_VACE_CONSOLE: join(s.test, "console"),
    WAN_VACE_MACHINE_ID: join(s.test, "machine-id"),
    WAN_VACE_BAKE_UNIT: join(s.test, "wan-vace-bake.service"),
    WAN_VACE_RETRY_DELAY: "0",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  /** A host as the bake leaves it: driver, Docker with the nvidia runtime, the toolkit. */
  const asBaked = () => {
    writeFileSync(join(s.test, "driver-works"), "");
    writeFileSync(join(s.test, "installed-docker-ce"), HOST_PINS.dockerVersion);
    writeFileSync(
      join(s.test, "installed-nvidia-container-toolkit"),
      HOST_PINS.nvidiaToolkitVersion,
    );
    writeFileSync(
      join(s.test, "daemon.json"),
      '{"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}}}',
    );
  };
  const calls = () => ({
    apt: s.read("apt-calls"),
    docker: s.read("docker-calls"),
    host: s.read("host-calls"),
  });
  return { ...s, lib, env, asBaked, calls, config };
}

describe("user-data modes", () => {
  it("deploy keeps its user-data as before: no HOST_MODE line, no bake files", () => {
    const text = renderUserData(base);
    expect(render(base, "deploy")).toBe(text);
    const config = parse(text) as CloudConfig;
    expect(file(config, BOOT_ENV_PATH)).not.toContain("HOST_MODE");
    expect(config.write_files.filter((f) => f.path.includes("bake"))).toEqual([]);
  });

  it("bake: installs the units and scripts but enables and starts only the bake", () => {
    const config = parsed(base, "bake");
    expect(config.runcmd).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "wan-vace-bake.service"],
      ["systemctl", "start", "--no-block", "wan-vace-bake.service"],
    ]);
    const paths = config.write_files.map((f) => f.path);
    for (const unit of ["comfyui.service", "gateway.service", "setup.service", "timeline.service"])
      expect(paths).toContain(`/etc/systemd/system/wan-vace-${unit}`);
    expect(paths).toContain(`${LIB}bake.sh`);
    expect(paths.filter((p) => p.includes("idle"))).toEqual([]);
    expect(file(config, BOOT_ENV_PATH)).toContain("HOST_MODE='bake'\n");
  });

  it("baked: the deploy's files and units, HOST_MODE baked, nothing of the bake", () => {
    const config = parsed(base, "baked");
    const deploy = parsed(base, "deploy");
    expect(config.runcmd).toEqual(deploy.runcmd);
    expect(config.write_files.map((f) => f.path)).toEqual(deploy.write_files.map((f) => f.path));
    expect(file(config, BOOT_ENV_PATH)).toBe(
      `${file(deploy, BOOT_ENV_PATH)}`.replace(/\n$/, "\nHOST_MODE='baked'\n"),
    );
  });

  it("every mode passes cloud-init schema and shellcheck, and fits 16 KB gzipped for the largest config", async () => {
    const cloudInit = requireBinary("cloud-init");
    const shellcheck = requireBinary("shellcheck");
    for (const mode of ["deploy", "bake", "baked"] as const) {
      const s = installed(`schema-${mode}`, largest, mode);
      const yaml = join(s.test, "user-data.yaml");
      writeFileSync(yaml, render(largest, mode));
      expect((await run(cloudInit, ["schema", "--config-file", yaml])).stdout).toContain(
        "Valid cloud-config",
      );
      const scripts = s.config.write_files.filter((f) => f.content.startsWith("#!/bin/bash"));
      expect(scripts.length).toBeGreaterThanOrEqual(mode === "bake" ? 3 : 2);
      await run(
        shellcheck,
        scripts.map((f) => join(s.lib, f.path.slice(LIB.length))),
      );
      const gzipped = Buffer.from(encodeUserData(render(largest, mode)), "base64").length;
      expect(gzipped, mode).toBeLessThan(USER_DATA_LIMIT_BYTES);
    }
  });
});

it("the bake unit passes systemd-analyze verify", async () => {
  const analyze = requireBinary("systemd-analyze");
  const s = installed("bake-unit", base, "bake");
  const unit = join(s.test, "units", "wan-vace-bake.service");
  mkdirSync(join(s.test, "units"));
  writeFileSync(unit, file(s.config, "/etc/systemd/system/wan-vace-bake.service") ?? "");
  const result = await run(analyze, ["verify", unit]).catch((e: { stderr: string }) => e);
  // The script is not installed on this machine: only that may be reported.
  const problems = result.stderr
    .split("\n")
    .filter(
      (l) =>
        l.trim() !== "" &&
        !/Command \/usr\/local\/lib\/wan-vace\/bake\.sh is not executable/.test(l),
    );
  expect(problems).toEqual([]);
});

describe("a baked image's boot (rendered setup-host.sh and ensure-image.sh)", () => {
  it("installs no driver, Docker or toolkit, and pulls no image whose digest it has", async () => {
    const s = installed("baked-same", base, "baked");
    s.asBaked();
    writeFileSync(join(s.test, "images"), `${COMFYUI}\n${GATEWAY}\n`);
    const downloads = cloud.driverDownloads;
    const setup = await s.run(`"${s.lib}/setup-host.sh"`, s.env);
    expect(setup.code, setup.out).toBe(0);
    expect(setup.out).toContain("baked image: nothing to install");
    for (const image of [COMFYUI, GATEWAY]) {
      const r = await s.run(`"${s.lib}/ensure-image.sh" "${image}"`, s.env);
      expect(r.code, r.out).toBe(0);
    }
    const calls = s.calls();
    expect(calls.apt).toBe(""); // no apt-get, apt-mark or reboot
    expect(cloud.driverDownloads).toBe(downloads); // no installer
    expect(s.read("dpkg-calls")).toBe("");
    expect(calls.docker).not.toMatch(/^pull /m);
    // What the boot timeline's `images` phase reports.
    expect(s.read("state/status/images.log")).toBe(`present ${COMFYUI}\npresent ${GATEWAY}\n`);
    // The host's own rules still go in: they do not survive a reboot.
    expect(calls.host).toContain("iptables -I INPUT -p tcp --dport 8188 ! -i lo -j DROP");
  });

  it("pulls exactly the image whose configured digest differs from the baked one", async () => {
    const s = installed("baked-changed", base, "baked");
    s.asBaked();
    const bakedComfyui = COMFYUI.replace(/@sha256:.*/, `@${sha("older comfyui")}`);
    writeFileSync(join(s.test, "images"), `${bakedComfyui}\n${GATEWAY}\n`);
    expect((await s.run(`"${s.lib}/setup-host.sh"`, s.env)).code).toBe(0);
    for (const image of [COMFYUI, GATEWAY])
      expect((await s.run(`"${s.lib}/ensure-image.sh" "${image}"`, s.env)).code).toBe(0);
    const pulls = s
      .calls()
      .docker.split("\n")
      .filter((l) => l.startsWith("pull "));
    expect(pulls).toEqual([`pull ${COMFYUI}|`]);
    expect(s.calls().apt).toBe("");
    expect(s.read("state/status/images.log")).toBe(`pulled ${COMFYUI}\npresent ${GATEWAY}\n`);
  });

  it("an image that lacks what the bake puts in fails, naming what is missing, and installs nothing", async () => {
    const s = installed("baked-missing", base, "baked");
    const r = await s.run(`"${s.lib}/setup-host.sh"`, s.env);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "the baked image (wan-vace:bakedImageId) lacks: a working NVIDIA driver",
    );
    expect(r.out).toContain("Docker's nvidia runtime");
    expect(r.out).toContain("re-bake it (vace bake)");
    expect(s.calls().apt).toBe("");
  });
});

describe("a bake (rendered bake.sh on the builder)", () => {
  const verdicts = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith("WAN_VACE_BAKE_RESULT "))
      .map((l) => JSON.parse(l.slice("WAN_VACE_BAKE_RESULT ".length)) as Record<string, unknown>);

  /** After every bake, good or bad: nothing secret or host-specific left, and the power is off. */
  function expectCleanAndOff(s: ReturnType<typeof installed>, out: string) {
    for (const gone of ["run", "boot.env", "state", "wan-vace-bake.service", "lib/bake.sh"])
      expect(existsSync(join(s.test, gone)), gone).toBe(false);
    expect(s.read("machine-id")).toBe("");
    expect(s.calls().host).toContain("cloud-init clean --logs\n");
    const apt = s.calls().apt.trim().split("\n");
    expect(apt).toContain("systemctl disable wan-vace-bake.service");
    // Stopped through the API with StopCharging (a poweroff from the OS keeps the GPU billed).
    expect(apt).not.toContain("systemctl poweroff");
    expect(cloud.calls.at(-2)).toMatchObject({
      action: "StopInstance",
      params: { InstanceId: INSTANCE_ID, StoppedMode: "StopCharging" },
    });
    // Neither the journal nor the console saw a secret.
    for (const text of [out, s.read("console")]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(TOKEN);
    }
    // The console holds exactly the one verdict line.
    expect(s.read("console").split("\n")).toHaveLength(2);
  }

  it("succeeds: runs setup, logs in, pulls both images and prints one ok verdict with the versions", async () => {
    const s = installed("bake-ok", base, "bake");
    s.asBaked(); // the driver loads and the pinned packages are in (their installs are tested in host-scripts)
    const r = await s.run(`"${s.lib}/bake.sh"`, s.env);
    expect(r.code, r.out).toBe(0);
    const { stdout: kernel } = await run("uname", ["-r"]);
    const [verdict, ...more] = verdicts(r.out);
    expect(more).toEqual([]);
    expect(verdict).toEqual({
      ok: true,
      comfyuiImage: `${REGISTRY}/wan-vace/comfyui@${sha("comfyui")}`,
      gatewayImage: GATEWAY,
      driver: FAKE_DRIVER_VERSION,
      docker: FAKE_DOCKER_VERSION,
      toolkit: HOST_PINS.nvidiaToolkitVersion,
      kernel: kernel.trim(),
    });
    expect(verdicts(s.read("console"))).toEqual([verdict]);
    const docker = s.calls().docker;
    expect(docker).toContain(
      `login --username puller@123 --password-stdin ${REGISTRY}|${PASSWORD}\n`,
    );
    expect(docker).toContain(`pull ${COMFYUI}|\n`);
    expect(docker).toContain(`pull ${GATEWAY}|\n`);
    expect(cloud.callsTo("GetSecretParameter").some((c) => c.params.Name === PARAMETER)).toBe(true);
    expectCleanAndOff(s, r.out);
  });

  it("a failing step prints ok:false naming it, still cleans up, and still powers off", async () => {
    const s = installed("bake-fails", base, "bake");
    s.asBaked();
    // Docker is not installed and the mirror has no Docker key: setup-host.sh fails there.
    writeFileSync(join(s.test, "installed-docker-ce"), "5:24.0.0-1~ubuntu.22.04~jammy");
    const r = await s.run(`"${s.lib}/bake.sh"`, s.env);
    const [verdict, ...more] = verdicts(r.out);
    expect(more).toEqual([]);
    expect(verdict?.ok).toBe(false);
    expect(String(verdict?.error)).toMatch(/^host setup \(setup-host\.sh\) failed \(exit 22\): /);
    expect(Object.keys(verdict ?? {})).toEqual(["ok", "error"]);
    expect(s.calls().docker).not.toMatch(/^(login|pull) /m);
    expectCleanAndOff(s, r.out);
  });

  it("powers off from the OS when StopInstance is refused, still after the verdict", async () => {
    const refusing = new FakeCloud({ secrets: cloud.secrets, stopError: "Forbidden.RAM" });
    await refusing.start();
    try {
      const s = installed("bake-refused", base, "bake");
      s.asBaked();
      const r = await s.run(`"${s.lib}/bake.sh"`, { ...s.env, ...refusing.env() });
      expect(verdicts(r.out).map((v) => v.ok)).toEqual([true]);
      expect(refusing.callsTo("StopInstance")).toHaveLength(1);
      expect(r.out).toContain("StopInstance failed: powering off from the OS");
      expect(s.calls().apt.trim().split("\n").at(-1)).toBe("systemctl poweroff");
    } finally {
      await refusing.stop();
    }
  });
});
