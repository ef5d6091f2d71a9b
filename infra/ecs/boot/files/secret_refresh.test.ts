import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../../test/binaries";
import { FakeCloud, runPython } from "./fake-cloud";

/** `boot_secrets.py --refresh`, as wan-vace-secrets-refresh.timer runs it every 5 minutes. */
describe("secret refresh", () => {
  requireBinary("python3");
  const NAME = "wan-vace-rotating";
  const first = `first_${"a".repeat(40)}`;
  const second = `second_${"b".repeat(40)}`;
  const cloud = new FakeCloud({ secrets: { [NAME]: JSON.stringify({ token: first }) } });
  let dir = "";
  let runDir = "";
  /** Each injected command appends one line to this file, so the test counts what ran. */
  let actions = "";

  beforeAll(async () => {
    await cloud.start();
    dir = mkdtempSync(join(tmpdir(), "wan-vace-refresh-"));
    runDir = join(dir, "run");
    actions = join(dir, "actions");
  });
  afterAll(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = (what: string) => `sh -c 'echo ${what} >>"$0"' ${actions}`;
  const fetch = (arg?: "--refresh", env: Record<string, string> = {}) =>
    runPython(["boot_secrets.py", ...(arg ? [arg] : [])], {
      ...cloud.env(),
      REGION: "ap-southeast-1",
      SECRET_PARAMETER_NAME: NAME,
      TLS_MODE: "internal",
      WAN_VACE_RUN_DIR: runDir,
      WAN_VACE_RETRY_DELAY: "0.01",
      WAN_VACE_RESTART_GATEWAY: record("restart-gateway"),
      WAN_VACE_REGISTRY_LOGIN: record("registry-login"),
      ...env,
    });
  const ran = () =>
    (existsSync(actions) ? readFileSync(actions, "utf8").split("\n") : []).slice(0, -1);
  const gatewayEnv = () => readFileSync(join(runDir, "gateway.env"), "utf8");

  it("before the boot fetch has written anything, a refresh leaves the files to it", async () => {
    const result = await fetch("--refresh");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("boot fetch has not written");
    expect(existsSync(join(runDir, "gateway.env"))).toBe(false);
    expect(cloud.callsTo("GetSecretParameter")).toHaveLength(0);
  });

  it("restarts the gateway only when the fetched files changed, and logs no secret", async () => {
    const boot = await fetch();
    expect(boot.code, boot.stderr).toBe(0);
    expect(ran()).toEqual([]); // the boot fetch starts nothing: the units come after it
    expect(gatewayEnv()).toContain(`VACE_TOKEN=${first}\n`);

    const same = await fetch("--refresh");
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toContain("unchanged");
    expect(ran()).toEqual([]);

    cloud.secrets[NAME] = JSON.stringify({ token: second });
    const rotated = await fetch("--refresh");
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stderr).toContain("changed: gateway.env");
    expect(ran()).toEqual(["restart-gateway"]);
    expect(gatewayEnv()).toContain(`VACE_TOKEN=${second}\n`);
    expect(statSync(join(runDir, "gateway.env")).mode & 0o777).toBe(0o600);

    const again = await fetch("--refresh");
    expect(again.stderr).toContain("unchanged");
    expect(ran()).toEqual(["restart-gateway"]);

    // A restart that could not be requested is tried again by the next refresh.
    cloud.secrets[NAME] = JSON.stringify({ token: first });
    const failed = await fetch("--refresh", { WAN_VACE_RESTART_GATEWAY: "false" });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("the next refresh tries again");
    const retried = await fetch("--refresh");
    expect(retried.stderr).toContain("secret changed: gateway.env");
    expect(ran()).toEqual(["restart-gateway", "restart-gateway"]);
    expect((await fetch("--refresh")).stderr).toContain("unchanged");
    cloud.secrets[NAME] = JSON.stringify({ token: second });
    await fetch("--refresh");
    expect(ran()).toEqual(["restart-gateway", "restart-gateway", "restart-gateway"]);

    const output = [boot, same, rotated, again, failed].map((r) => r.stdout + r.stderr).join("\n");
    expect(output).not.toContain(first);
    expect(output).not.toContain(second);
    expect(cloud.callsTo("GetSecretParameter")).toHaveLength(8);
  });

  it("logs docker in again when only the registry credentials change", async () => {
    const withRegistry = (password: string) =>
      JSON.stringify({ token: second, registryUsername: "puller", registryPassword: password });
    cloud.secrets[NAME] = withRegistry("pw-one");
    const added = await fetch("--refresh");
    expect(added.stderr).toContain("changed: registry-username, registry-password");
    cloud.secrets[NAME] = withRegistry("pw-two");
    await fetch("--refresh");
    expect(readFileSync(join(runDir, "registry-password"), "utf8")).toBe("pw-two");
    // Dropped from the secret: the stale credentials are removed, not left behind.
    cloud.secrets[NAME] = JSON.stringify({ token: second });
    await fetch("--refresh");
    expect(existsSync(join(runDir, "registry-password"))).toBe(false);
    expect(ran().slice(3)).toEqual(["registry-login", "registry-login", "registry-login"]);
  });

  it("keeps the running files when the new secret is invalid or unreachable", async () => {
    cloud.secrets[NAME] = JSON.stringify({ token: "short" });
    const weak = await fetch("--refresh");
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain("'token' must be 32-512 characters");
    delete cloud.secrets[NAME];
    const gone = await fetch("--refresh");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("EntityNotExists.Parameter");
    expect(gatewayEnv()).toContain(`VACE_TOKEN=${second}\n`);
    expect(ran()).toHaveLength(6);
  });
});
