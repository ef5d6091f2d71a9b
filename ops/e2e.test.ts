import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_KEY, type FakeCloud, startFakeCloud } from "../test/doubles/alibaba/server";
import { useFakePulumi } from "../test/doubles/pulumi";
import { instanceCreatedAt, taggedWithStack } from "./cloud/inventory";
import { RpcClient } from "./cloud/rpc";
import { runE2e, type SmokeOutcome } from "./e2e";
import { LifecycleExit } from "./errors";
import { StackDriver } from "./pulumi/driver";
import { teardown } from "./teardown";

const fake = useFakePulumi();
let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await startFakeCloud();
});
afterEach(async () => {
  await cloud.close();
});

const passing = async (): Promise<SmokeOutcome> => ({
  ok: true,
  summary: "video verified",
  egressBytes: 2e6,
});
const failing = async (): Promise<SmokeOutcome> => ({
  ok: false,
  summary: "verify: codec hevc, expected h264",
});

async function e2e(smoke = passing, signal = new AbortController().signal) {
  const log: string[] = [];
  const client = new RpcClient({
    credentials: FAKE_KEY,
    region: "ap-southeast-1",
    endpoint: cloud.endpoint,
    retryDelayMs: 1,
  });
  const stack = await StackDriver.open(
    "ci-1",
    { workDir: fake.workDir(), write: () => {} },
    { create: true },
  );
  const result = await runE2e({
    stack,
    target: "ecs",
    region: "ap-southeast-1",
    smoke,
    cloud: taggedWithStack(client, "ci-1"),
    instanceCreatedAt: () => instanceCreatedAt(client, "ci-1"),
    keep: false,
    signal,
    log: (l) => log.push(l),
  });
  return { result, log };
}

describe("vace e2e over the Automation API (fake pulumi on PATH)", () => {
  it("deploys, smokes, destroys, checks nothing is left and removes the stack: exit 0", async () => {
    fake.script({});
    const { result } = await e2e();
    expect(result.exitCode).toBe(LifecycleExit.ok);
    expect(fake.commands()).toEqual([
      "version",
      "stack ls",
      "stack init",
      "stack select",
      "up",
      "stack output",
      "stack output",
      "stack history",
      "stack output",
      "stack output",
      "destroy",
      "stack history",
      "stack export",
      "stack rm",
    ]);
    // The real CLI contract: non-interactive, --stack on every stack command, the project folder as cwd.
    const up = fake.calls().find((c) => c.command === "up");
    expect(up?.argv).toEqual(
      expect.arrayContaining(["--yes", "--skip-preview", "--stack", "ci-1", "--non-interactive"]),
    );
    expect(up?.cwd).toBe(fake.workDir());
    expect(up?.env.PULUMI_AUTOMATION_API).toBe("true");
    expect(fake.stacks()).toEqual({});
    expect(result.spend).toMatchObject({
      instanceType: "ecs.gn7i-c8g1.2xlarge",
      pricePerHour: 1.8,
    });
    expect(result.spend.billedMinutes).toBeGreaterThanOrEqual(0);
  });

  it("up fails midway: destroy still runs, exit 4", async () => {
    fake.script({ fail: { up: 1 } });
    const { result, log } = await e2e();
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(result.deploy.error).toMatch(/OperationDenied\.NoStock/);
    expect(fake.commands()).toContain("destroy");
    expect(fake.commands().at(-1)).toBe("stack rm");
    expect(log.join("\n")).toMatch(/deploy FAILED/);
  });

  it("the smoke fails: destroy runs, exit 1", async () => {
    fake.script({});
    const { result } = await e2e(failing);
    expect(result.exitCode).toBe(LifecycleExit.smokeFailed);
    expect(result.smoke?.summary).toMatch(/hevc/);
    expect(fake.commands()).toContain("destroy");
    expect(fake.stacks()).toEqual({});
  });

  it("a smoke that throws still tears down: exit 1", async () => {
    fake.script({});
    const { result } = await e2e(async () => {
      throw new Error("smoke crashed");
    });
    expect(result.exitCode).toBe(LifecycleExit.smokeFailed);
    expect(fake.commands()).toContain("destroy");
  });

  it("destroy fails once: retried with refresh, exit 0", async () => {
    fake.script({ fail: { destroy: 1 } });
    const { result } = await e2e();
    expect(result.exitCode).toBe(LifecycleExit.ok);
    const cmds = fake.commands();
    expect(cmds.filter((c) => c.startsWith("destroy"))).toEqual(["destroy", "destroy --refresh"]);
    expect(result.teardown?.attempts).toBe(2);
  });

  it("destroy keeps failing: exit 5, naming what remains, and the stack is kept", async () => {
    fake.script({ fail: { "destroy-any": "always" } });
    const { result, log } = await e2e();
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
    expect(fake.commands().filter((c) => c.startsWith("destroy"))).toHaveLength(3);
    expect(result.teardown?.remaining).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alicloud:ecs\/eipAddress:EipAddress::vace-eip$/),
      ]),
    );
    expect(log.join("\n")).toMatch(
      /LEFT: in the stack's state: urn:pulumi:ci-1::wan-vace::.*vace-eip/,
    );
    expect(fake.commands()).not.toContain("stack rm");
    expect(Object.keys(fake.stacks())).toEqual(["ci-1"]);
  });

  it("the cloud still finds a resource tagged with the stack: exit 5, naming it", async () => {
    fake.script({});
    cloud.resources.push({
      kind: "eip",
      id: "eip-leftover",
      tags: { project: "wan-vace", stack: "ci-1", "expires-at": "2026-12-02T08:00:00Z" },
    });
    const { result } = await e2e();
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
    expect(result.teardown?.remaining).toEqual([
      "in the cloud, tagged with the stack: eip eip-leftover [stack ci-1]",
    ]);
    expect(fake.commands()).not.toContain("stack rm");
  });

  it("an abort during up: the CLI gets SIGINT, then cancel, then destroy; exit 4", async () => {
    fake.script({ hang: "up" });
    const controller = new AbortController();
    const hanging = (async () => {
      const { existsSync } = await import("node:fs");
      const { join } = await import("node:path");
      while (!existsSync(join(fake.stateDir(), "hanging")))
        await new Promise((r) => setTimeout(r, 50));
      controller.abort();
    })();
    const { result } = await e2e(passing, controller.signal);
    await hanging;
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(result.interrupted).toBe(true);
    const calls = fake.calls();
    expect(calls.find((c) => c.signal)?.signal).toBe("SIGINT");
    const cmds = fake.commands();
    expect(cmds.indexOf("cancel")).toBeGreaterThan(cmds.indexOf("up"));
    expect(cmds.indexOf("destroy")).toBeGreaterThan(cmds.indexOf("cancel"));
    expect(fake.stacks()).toEqual({});
  });

  it("spend uses the instance's CreationTime from the cloud when it can see it", async () => {
    fake.script({});
    cloud.resources.push({
      kind: "instance",
      id: "i-1",
      creationTime: "2026-12-01T10:00Z",
      tags: { project: "wan-vace", stack: "ci-1" },
    });
    const { result } = await e2e();
    expect(result.spend.startedAt).toBe("2026-12-01T10:00:00.000Z");
    expect(result.spend.timestamps).toBe("start from cloud, end from local clock");
    // The instance is still tagged in the cloud after destroy, which is exit 5 by itself.
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
  });
});

describe("teardown after a CLI that died holding the lock (a cancelled CI job)", () => {
  it("vace down's teardown runs pulumi cancel, then destroys", async () => {
    fake.script({ leaveLocked: true });
    const opts = { workDir: fake.workDir(), write: () => {} };
    await (await StackDriver.open("ci-9", opts, { create: true })).up();
    const log: string[] = [];
    const t = await teardown(await StackDriver.open("ci-9", opts), {
      cloud: async () => [],
      log: (l) => log.push(l),
    });
    expect(t.ok).toBe(true);
    const cmds = fake.commands();
    expect(cmds.slice(cmds.indexOf("destroy"))).toEqual(
      expect.arrayContaining(["destroy", "cancel", "destroy --refresh", "stack rm"]),
    );
    expect(log.join("\n")).toMatch(/the stack is currently locked[\s\S]*pulumi cancel, then retry/);
  });
});

describe("vace e2e --keep", () => {
  it("keeps the stack after a passing smoke: no destroy, exit 0, spend up to now", async () => {
    fake.script({});
    const stack = await StackDriver.open(
      "ci-k",
      { workDir: fake.workDir(), write: () => {} },
      { create: true },
    );
    const log: string[] = [];
    const result = await runE2e({
      stack,
      target: "ecs",
      region: "ap-southeast-1",
      smoke: passing,
      cloud: async () => [],
      keep: true,
      signal: new AbortController().signal,
      log: (l) => log.push(l),
    });
    expect(result.exitCode).toBe(LifecycleExit.ok);
    expect(result.kept).toBe(true);
    expect(fake.commands()).not.toContain("destroy");
    expect(Object.keys(fake.stacks())).toEqual(["ci-k"]);
    expect(log).toContain("--keep: ci-k stays up; destroy it with: vace down --stack ci-k");
    expect(result.spend.endedAt).not.toBeNull();
  });
});
