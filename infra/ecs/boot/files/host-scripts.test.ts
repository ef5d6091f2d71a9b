import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../../test/binaries";
import { FakeCloud } from "./fake-cloud";
import { createFakeHost, type FakeHost } from "./fake-host";

/**
 * setup-host.sh and registry-login.sh, run by real bash against the fake metadata service and
 * mirror. Only the programs this machine lacks (nvidia-smi, dpkg's writes, docker) are stand-in
 * scripts on PATH that record how they were called (fake-host.ts).
 */
describe("host scripts", () => {
  // The fake installer records its arguments, then does what the installer-mode file says.
  const cloud = new FakeCloud({
    driverScript: [
      'echo "$*" >>"$WAN_VACE_TEST/installer-args"',
      'case $(cat "$WAN_VACE_TEST/installer-mode") in',
      "fail) echo 'INSTALL FAIL' >>auto_install.log; exit 1 ;;",
      "nodriver) exit 0 ;;",
      'ok) touch "$WAN_VACE_TEST/driver-works"; exit 0 ;;',
      "esac",
    ].join("\n"),
  });
  let host: FakeHost;
  beforeAll(async () => {
    requireBinary("curl"); // setup-host.sh talks to the (fake) metadata service and mirror with it
    await cloud.start();
    host = createFakeHost(cloud);
  });
  afterAll(async () => {
    await cloud.stop();
    host.remove();
  });
  const scenario = (name: string, extraEnv = "") => host.scenario(name, extraEnv);
  const installDriver = ". ./setup-host.sh && install_driver";

  it("installer finished without a working driver: clears its marker so the next start re-runs it", async () => {
    const s = scenario("nodriver");
    writeFileSync(join(s.test, "installer-mode"), "nodriver");
    const result = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "0" });
    expect(result.code, result.out).toBe(1);
    expect(result.out).toMatch(/no working driver .*\(the next start runs the installer again\)/);
    expect(s.read("installer-args")).toBe("570.133.20 12.8.1 9.8.0.87 FALSE FALSE\n");
    expect(existsSync(join(s.test, "state/driver.started"))).toBe(false);

    // The next start (systemd's Restart=, or a later boot) downloads and runs it again.
    writeFileSync(join(s.test, "installer-mode"), "ok");
    const retry = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "0" });
    expect(retry.code, retry.out).toBe(0);
    expect(retry.out).toContain("driver ready: GPU 0: NVIDIA A10");
    expect(s.read("installer-args").split("\n")).toHaveLength(3);
    expect(existsSync(join(s.test, "state/driver.done"))).toBe(true);
  });

  it("INSTALL FAIL stops the wait at once and clears the marker; an old log does not count", async () => {
    const s = scenario("fail");
    writeFileSync(join(s.test, "installer-mode"), "fail");
    const downloads = cloud.driverDownloads;
    const result = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "600" });
    expect(result.code, result.out).toBe(1);
    expect(result.out).toContain("driver install failed; see");
    expect(existsSync(join(s.test, "state/driver.started"))).toBe(false);
    // Retried with a fixed installer: the failed try's log is set aside, not read as this one's.
    writeFileSync(join(s.test, "installer-mode"), "ok");
    const retry = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "600" });
    expect(retry.code, retry.out).toBe(0);
    expect(s.read("auto_install/auto_install.log.1")).toContain("INSTALL FAIL");
    expect(cloud.driverDownloads - downloads).toBe(2);
  });

  it("after the installer's reboot, a working driver is recorded without running it again", async () => {
    const s = scenario("rebooted");
    writeFileSync(join(s.test, "state/driver.started"), "");
    writeFileSync(join(s.test, "driver-works"), "");
    const downloads = cloud.driverDownloads;
    const result = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "0" });
    expect(result.code, result.out).toBe(0);
    expect(existsSync(join(s.test, "state/driver.done"))).toBe(true);
    expect(cloud.driverDownloads).toBe(downloads);
  });

  describe("driver apt (the default)", () => {
    const KERNEL = "5.15.0-130-generic";
    const apt = (name: string, archive: string[]) => {
      const s = scenario(name, "DRIVER_MODE='apt'\nDRIVER_BRANCH='580'");
      writeFileSync(join(s.test, "archive"), archive.map((p) => `${p}\n`).join(""));
      const run = () =>
        s.run(installDriver, { WAN_VACE_KERNEL: KERNEL, WAN_VACE_REBOOT_WAIT_S: "0" });
      return { ...s, run };
    };

    it("installs Ubuntu's signed packages with the prebuilt modules for the running kernel, and downloads no script", async () => {
      const s = apt("apt-prebuilt", [`linux-modules-nvidia-580-server-${KERNEL}`]);
      writeFileSync(join(s.test, "module-loads"), "");
      const downloads = cloud.driverDownloads;
      const result = await s.run();
      expect(result.code, result.out).toBe(0);
      const pkgs = `nvidia-headless-no-dkms-580-server nvidia-utils-580-server linux-modules-nvidia-580-server-${KERNEL}`;
      expect(s.read("apt-calls").split("\n")).toEqual([
        "-y -q -o DPkg::Lock::Timeout=900 -o Acquire::Retries=5 update",
        `-y -q -o DPkg::Lock::Timeout=900 -o Acquire::Retries=5 install --no-install-recommends ${pkgs}`,
        `apt-mark hold ${pkgs}`,
        "",
      ]);
      expect(result.out).toContain(
        "installed from the Ubuntu archive: nvidia-headless-no-dkms-580-server=580.95.05-0ubuntu0.22.04.1",
      );
      expect(result.out).toContain("driver ready: GPU 0: NVIDIA A10");
      expect(cloud.driverDownloads).toBe(downloads);
      expect(existsSync(join(s.test, "auto_install"))).toBe(false);
    });

    it("builds with DKMS when the archive has no prebuilt modules for the kernel", async () => {
      const s = apt("apt-dkms", []);
      writeFileSync(join(s.test, "module-loads"), "");
      const result = await s.run();
      expect(result.code, result.out).toBe(0);
      expect(result.out).toContain(`no prebuilt NVIDIA modules for kernel ${KERNEL}`);
      expect(s.read("apt-calls")).toContain(
        `install --no-install-recommends nvidia-headless-no-dkms-580-server nvidia-utils-580-server nvidia-dkms-580-server linux-headers-${KERNEL}\n`,
      );
    });

    it("a module that does not load gets one reboot; no driver after it fails without reinstalling", async () => {
      const s = apt("apt-reboot", [`linux-modules-nvidia-580-server-${KERNEL}`]);
      const first = await s.run();
      expect(first.code, first.out).toBe(1);
      expect(s.read("apt-calls")).toContain("systemctl reboot\n");
      expect(existsSync(join(s.test, `state/driver.rebooted-${KERNEL}`))).toBe(true);
      const calls = s.read("apt-calls");
      const after = await s.run();
      expect(after.code, after.out).toBe(1);
      expect(after.out).toContain("no working NVIDIA driver after installing nvidia-*-580-server");
      expect(s.read("apt-calls")).toBe(calls);
      // A driver that works after the reboot is all the next start checks.
      writeFileSync(join(s.test, "driver-works"), "");
      const ok = await s.run();
      expect(ok.code, ok.out).toBe(0);
      expect(s.read("apt-calls")).toBe(calls);
    });
  });

  it("auto-install without a sha256 or the explicit opt-out refuses before downloading anything", async () => {
    const s = scenario("unpinned", "DRIVER_SCRIPT_UNVERIFIED=''");
    writeFileSync(join(s.test, "installer-mode"), "ok");
    const downloads = cloud.driverDownloads;
    const result = await s.run(installDriver, { WAN_VACE_DRIVER_WAIT_S: "0" });
    expect(result.code, result.out).toBe(1);
    expect(result.out).toContain(
      "refusing to run auto_install_v4.0.sh without DRIVER_SCRIPT_SHA256",
    );
    expect(cloud.driverDownloads).toBe(downloads);
    expect(s.read("installer-args")).toBe("");
  });

  it("dpkg --configure -a finishes an interrupted install, waiting while dpkg is locked", async () => {
    const s = scenario("dpkg");
    writeFileSync(join(s.test, "dpkg-busy"), "2");
    const result = await s.run(". ./setup-host.sh && dpkg_recover");
    expect(result.code, result.out).toBe(0);
    expect(s.read("dpkg-calls")).toBe("--configure -a\n".repeat(3));
  });

  it("registry-login.sh retries docker login with backoff, the password only on stdin", async () => {
    const s = scenario("login");
    const runDir = join(s.test, "run");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "registry-username"), "puller@123");
    writeFileSync(join(runDir, "registry-password"), "p@ss word!");
    writeFileSync(join(s.test, "docker-fails"), "2");
    const env = { WAN_VACE_RUN_DIR: runDir, WAN_VACE_LOGIN_DELAY: "0" };
    const result = await s.run("bash registry-login.sh", env);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toMatch(/docker login failed; retry 2\/4 in 0s/);
    const login =
      "login --username puller@123 --password-stdin registry-vpc.cn-hongkong.aliyuncs.com";
    expect(s.read("docker-calls")).toBe(`${login}|p@ss word!\n`.repeat(3));

    writeFileSync(join(s.test, "docker-fails"), "9");
    const down = await s.run("bash registry-login.sh", env);
    expect(down.code).toBe(1);
    expect(down.out).toContain(
      "docker login to registry-vpc.cn-hongkong.aliyuncs.com failed 5 times",
    );
    expect(down.out).not.toContain("p@ss word!");
  });
});
