/**
 * `vace bake`'s driver over the Automation API, with the fake `pulumi` on PATH and the ECS API on a
 * loopback fake: the bake stack is destroyed on every path (BAKE-CONTRACT, issue 13 "the builder is
 * released on every path"). The two fakes are linked in one place: the bake stack's destroy also
 * releases the builder in the fake cloud, so teardown's cloud query by tags proves it is gone.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../infra/config";
import { useFakeCloud } from "../test/doubles/alibaba";
import { FAKE_KEY, type FakeResource } from "../test/doubles/alibaba/server";
import { type FakeScript, useFakePulumi } from "../test/doubles/pulumi";
import {
  type BakeProgress,
  type BakeStack,
  bakeReport,
  consoleTail,
  parseVerdict,
  runBake,
  VERDICT_PREFIX,
} from "./bake";
import { bakeStackFileText, openBakeStack } from "./bake-config";
import { consoleOutput, describeInstance } from "./cloud/instance";
import { taggedWithStack } from "./cloud/inventory";
import { RpcClient } from "./cloud/rpc";
import { LifecycleExit } from "./errors";
import { StackDriver } from "./pulumi/driver";

const fake = useFakePulumi();
const cloud = useFakeCloud();

const BUILDER = "i-builder0001";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const CONTENTS = {
  comfyuiImage: `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui@sha256:${"a".repeat(64)}`,
  gatewayImage: `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/gateway@sha256:${"b".repeat(64)}`,
  driver: "580.95.05",
  docker: "28.5.1",
  toolkit: "1.17.8",
  kernel: "5.15.0-157-generic",
};
const verdictLine = (v: unknown) => `${VERDICT_PREFIX} ${JSON.stringify(v)}`;
/** A serial console around a verdict: boot noise before, the kernel's power-down after. */
const console_ = (...lines: string[]) =>
  [
    "[    0.000000] Linux version 5.15.0-157-generic",
    "\u001b[0;32m  OK  \u001b[0m] Started cloud-final.service.",
    ...lines,
    "[  812.402113] reboot: Power down",
  ].join("\r\n");

const STAGES: FakeScript["stageOutputs"] = {
  builder: { bakeStage: "builder", builderInstanceId: BUILDER, expiresAt: "2026-12-02T08:00:00Z" },
  image: { bakeStage: "image", builderInstanceId: BUILDER, imageId: "m-t4n0bakedimage01" },
};

/** The builder as ECS shows it: running for two polls, then stopped, with this console output. */
function builderInCloud(output: string, more: Partial<FakeResource> = {}) {
  cloud().resources.push({
    kind: "instance",
    id: BUILDER,
    statuses: ["Running", "Stopping"],
    status: "Stopped",
    consoleOutput: output,
    autoReleaseTime: "2026-12-02T08:00Z",
    tags: { project: "wan-vace", stack: "dev-bake", owner: "platform-team" },
    ...more,
  });
}

const client = () =>
  new RpcClient({
    credentials: FAKE_KEY,
    region: "ap-southeast-1",
    endpoint: cloud().endpoint,
    retryDelayMs: 1,
  });

/** The bake stack, whose destroy also releases the builder in the fake cloud. */
function linked(d: StackDriver): BakeStack {
  return {
    name: d.name,
    up: (s) => d.up(s),
    cancel: () => d.cancel(),
    setConfig: (k, v) => d.setConfig(k, v),
    resources: () => d.resources(),
    idsOf: (type) => d.idsOf(type),
    remove: () => d.remove(),
    destroy: async (refresh) => {
      await d.destroy(refresh);
      cloud().resources = cloud().resources.filter((r) => r.id !== BUILDER);
    },
  };
}

async function bake(
  opts: {
    signal?: AbortSignal;
    timeoutMs?: number;
    script?: FakeScript;
    secrets?: string[];
    now?: () => Date;
  } = {},
) {
  fake.script({ stageOutputs: STAGES, ...opts.script });
  const log: string[] = [];
  const progress: BakeProgress[] = [];
  const rpc = client();
  const stack = await openBakeStack({
    source: { root: fake.workDir(), stack: "dev", env: {} },
    driver: { workDir: fake.workDir(), write: () => {} },
    sourceInBackend: false,
  });
  const result = await runBake({
    stack: linked(stack),
    builder: {
      state: (id) => describeInstance(rpc, id),
      console: (id) => consoleOutput(rpc, id),
    },
    commit: COMMIT,
    timeoutMs: opts.timeoutMs ?? 60_000,
    pollMs: 1,
    cloud: taggedWithStack(rpc, "dev-bake"),
    signal: opts.signal ?? new AbortController().signal,
    log: (l) => log.push(l),
    secrets: opts.secrets,
    now: opts.now,
    onProgress: async (p) => {
      progress.push(structuredClone(p));
    },
  });
  return { result, log: log.join("\n"), report: bakeReport(result), progress };
}

/** The config values the bake stack got from `pulumi config set`, in order. */
const configSets = () =>
  fake
    .calls()
    .filter((c) => c.command === "config set")
    .map((c) => (c.argv.slice(2, 3)[0] === "--secret" ? c.argv[3] : c.argv[2]));

/** Every path ends with the bake stack destroyed, proved empty and removed. */
function expectTornDown() {
  const cmds = fake.commands();
  expect(cmds).toContain("destroy");
  expect(cmds.at(-1)).toBe("stack rm");
  expect(fake.stacks()).toEqual({});
  expect(cloud().resources.filter((r) => r.kind === "instance")).toEqual([]);
}

const ups = () => fake.commands().filter((c) => c === "up").length;

describe("vace bake: the bake stack is destroyed on every path", () => {
  it("success: builder, verdict, image, destroy; exit 0 and the image id", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result, report, log, progress } = await bake();
    expect(result.exitCode, log).toBe(LifecycleExit.ok);
    // bake.json is rewritten after each stage: a process killed mid-way still named its builder.
    expect(progress.map((p) => [p.phase, p.builder.instanceId, bakeReport(p).finished])).toEqual([
      ["wait", BUILDER, false],
      ["image", BUILDER, false],
      ["done", BUILDER, false],
    ]);
    expect(bakeReport(result).finished).toBe(true);
    expect(report).toMatchObject({
      imageId: "m-t4n0bakedimage01",
      contents: { ...CONTENTS, commit: COMMIT },
      destroyed: true,
      builder: { instanceId: BUILDER, autoReleaseTime: "2026-12-02T08:00:00.000Z" },
    });
    expect(Object.keys(report).slice(0, 5)).toEqual([
      "imageId",
      "contents",
      "builderSeconds",
      "imageSeconds",
      "destroyed",
    ]);
    expect(report.builderSeconds).toBeGreaterThanOrEqual(0);
    expect(report.imageSeconds).toBeGreaterThanOrEqual(0);
    // Stage 1 with bakeStage=builder, stage 2 with the verdict's contents and bakeStage=image.
    expect(configSets()).toEqual([
      "wan-vace:bakeStage",
      "wan-vace:bakeContents",
      "wan-vace:bakeStage",
    ]);
    const contentsSet = fake.calls().find((c) => c.argv.includes("wan-vace:bakeContents"));
    expect(JSON.parse(contentsSet?.argv.at(-1) ?? "")).toEqual({ ...CONTENTS, commit: COMMIT });
    expect(fake.calls().filter((c) => c.command === "up")).toHaveLength(2);
    // Polled by id until Stopped, then one console read.
    expect(cloud().calls.filter((c) => c === "DescribeInstances").length).toBeGreaterThanOrEqual(3);
    expect(cloud().calls.filter((c) => c === "GetInstanceConsoleOutput")).toHaveLength(1);
    expect(log).toMatch(/builder i-builder0001: Running[\s\S]*Stopping[\s\S]*Stopped/);
    expectTornDown();
  });

  it("stage 1 up fails: destroy still runs; exit 4", async () => {
    const { result, log } = await bake({ script: { fail: { "up builder": 1 } } });
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(result.phase).toBe("builder");
    expect(result.error).toMatch(/OperationDenied\.NoStock/);
    expect(log).toMatch(/bake FAILED in stage builder/);
    expect(cloud().calls).not.toContain("GetInstanceConsoleOutput");
    expectTornDown();
  });

  it("the builder's verdict is ok:false: exit 1 with its error and the console tail; no image", async () => {
    builderInCloud(
      console_(
        "ensure-image: pull failed: unauthorized",
        verdictLine({ ok: false, error: "docker pull comfyui: unauthorized" }),
      ),
    );
    const { result, report, log } = await bake();
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report.error).toBe("the builder failed: docker pull comfyui: unauthorized");
    expect(report.consoleTail).toContain("ensure-image: pull failed: unauthorized");
    expect(log).toContain("  console | [  812.402113] reboot: Power down");
    expect(report.imageId).toBeNull();
    expect(ups()).toBe(1);
    expectTornDown();
  });

  it("no verdict line at all: exit 1, naming it, with the console tail", async () => {
    builderInCloud(console_("setup-host: installing nvidia-driver-580-server"));
    const { result, report } = await bake();
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report.error).toMatch(/powered off without a WAN_VACE_BAKE_RESULT line/);
    expect(report.consoleTail).toContain("setup-host: installing nvidia-driver-580-server");
    expectTornDown();
  });

  it("a passing verdict the image stage would refuse: exit 1 naming each field, before stage 2", async () => {
    const { gatewayImage: _, ...noGateway } = CONTENTS;
    const tagOnly = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
    builderInCloud(console_(verdictLine({ ok: true, ...noGateway, comfyuiImage: tagOnly })));
    const { result, report } = await bake();
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report.error).toMatch(
      /^the builder's verdict cannot tag an image: comfyuiImage: .*carries no @sha256 digest.*; gatewayImage: must be an image reference/,
    );
    expect(ups()).toBe(1);
    expectTornDown();
  });

  it("the builder never powers off: the wait times out, exit 1, destroyed", async () => {
    builderInCloud(console_("setup-host: still installing"), { statuses: [], status: "Running" });
    const { result, report } = await bake({ timeoutMs: 30 });
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report.error).toMatch(/did not power off within 0s \(still Running\)/);
    expect(report.consoleTail).toContain("setup-host: still installing");
    expect(ups()).toBe(1);
    expectTornDown();
  });

  it("a builder that took long: a warning before the image stage when ECS may release it first", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    // The builder's release time is 08:00Z (builderInCloud); CreateImage may take 60 min.
    const late = await bake({ now: () => new Date("2026-12-02T07:30:00Z") });
    expect(late.result.exitCode).toBe(LifecycleExit.ok);
    expect(late.log).toContain(
      "warning: ECS releases the builder at 2026-12-02T08:00:00.000Z, in 30 min, and the image may take up to 60",
    );
  });

  it("stage 2 up fails: exit 4, the verdict kept in the report, destroyed", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result, report } = await bake({ script: { fail: { "up image": 1 } } });
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(report).toMatchObject({
      phase: "image",
      imageId: null,
      contents: { commit: COMMIT },
      keptImages: [],
    });
    expect(ups()).toBe(2);
    expectTornDown();
  });

  it("stage 2 fails after ECS made the image: the kept image is named in the log and bake.json", async () => {
    // retainOnDelete keeps it through the destroy, and the reaper never deletes an image: unnamed,
    // it would be billed (its snapshot) with nobody told it exists.
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result, report, log } = await bake({
      script: { fail: { "up image": 1 }, imageCreated: true },
    });
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(report).toMatchObject({ phase: "image", imageId: null, keptImages: ["vace-image-id"] });
    expect(log).toContain(
      "stage 2 failed, but the bake stack holds image vace-image-id, which its destroy keeps",
    );
    expectTornDown();
  });

  it("an interrupt during stage 2: the image update is cancelled, then destroyed; exit 4", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const controller = new AbortController();
    const hanging = (async () => {
      while (!existsSync(join(fake.stateDir(), "hanging")))
        await new Promise((r) => setTimeout(r, 20));
      controller.abort();
    })();
    const { result, report } = await bake({
      signal: controller.signal,
      script: { hang: "up image" },
    });
    await hanging;
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(report).toMatchObject({ phase: "image", interrupted: true, imageId: null });
    expect(fake.calls().find((c) => c.signal)?.signal).toBe("SIGINT");
    expect(fake.commands().indexOf("cancel")).toBeGreaterThan(fake.commands().lastIndexOf("up"));
    expectTornDown();
  });

  it("the console API refuses (say, no ecs:GetInstanceConsoleOutput): exit 1, destroyed", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    cloud().faults.push({
      action: "GetInstanceConsoleOutput",
      code: "Forbidden.RAM",
      status: 403,
      times: "always",
    });
    const { result, report } = await bake();
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report.error).toMatch(/GetInstanceConsoleOutput: Forbidden\.RAM/);
    expect(ups()).toBe(1);
    expectTornDown();
  });

  it("a secret a builder echoed never reaches the log or bake.json", async () => {
    const secret = "acr-password-the-builder-should-not-print";
    builderInCloud(
      console_(`docker login -p ${secret}`, verdictLine({ ok: false, error: secret })),
    );
    const { report, log } = await bake({ secrets: [secret] });
    expect(JSON.stringify(report)).not.toContain(secret);
    expect(log).not.toContain(secret);
    expect(report.consoleTail).toContain("docker login -p [redacted]");
  });

  it("an interrupt during stage 1: SIGINT to pulumi, cancel, destroy; exit 4", async () => {
    const controller = new AbortController();
    const hanging = (async () => {
      while (!existsSync(join(fake.stateDir(), "hanging")))
        await new Promise((r) => setTimeout(r, 20));
      controller.abort();
    })();
    const { result } = await bake({
      signal: controller.signal,
      script: { hang: "up builder" },
    });
    await hanging;
    expect(result.exitCode).toBe(LifecycleExit.deployFailed);
    expect(result.interrupted).toBe(true);
    expect(fake.calls().find((c) => c.signal)?.signal).toBe("SIGINT");
    const cmds = fake.commands();
    expect(cmds.indexOf("cancel")).toBeGreaterThan(cmds.indexOf("up"));
    expect(cmds.indexOf("destroy")).toBeGreaterThan(cmds.indexOf("cancel"));
    expectTornDown();
  });

  it("an interrupt while waiting for the builder: no update to cancel, destroyed; exit 1", async () => {
    builderInCloud(console_(), { statuses: [], status: "Running" });
    const controller = new AbortController();
    const waiting = (async () => {
      while (!cloud().calls.includes("DescribeInstances"))
        await new Promise((r) => setTimeout(r, 5));
      controller.abort();
    })();
    const { result, report } = await bake({ signal: controller.signal });
    await waiting;
    expect(result.exitCode).toBe(LifecycleExit.bakeFailed);
    expect(report).toMatchObject({ interrupted: true, phase: "wait", destroyed: true });
    expect(fake.commands()).not.toContain("cancel");
    expect(ups()).toBe(1);
    expectTornDown();
  });

  it("destroy fails once: retried with refresh; exit 0", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result } = await bake({ script: { fail: { destroy: 1 } } });
    expect(result.exitCode).toBe(LifecycleExit.ok);
    expect(fake.commands().filter((c) => c.startsWith("destroy"))).toEqual([
      "destroy",
      "destroy --refresh",
    ]);
    expectTornDown();
  });

  it("destroy never succeeds: exit 5, naming the builder and when ECS releases it anyway", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result, report, log } = await bake({ script: { fail: { "destroy-any": "always" } } });
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
    expect(report).toMatchObject({
      imageId: "m-t4n0bakedimage01",
      destroyed: false,
      builder: { instanceId: BUILDER, autoReleaseTime: "2026-12-02T08:00:00.000Z" },
    });
    expect(log).toContain(
      "its builder i-builder0001 is released by ECS itself at 2026-12-02T08:00:00.000Z",
    );
    expect(log).toContain("vace down --stack dev-bake");
    expect(Object.keys(fake.stacks())).toEqual(["dev-bake"]);
  });

  it("the backend refuses to remove the emptied stack: exit 5 and bake.json finished, not a crash", async () => {
    builderInCloud(console_(verdictLine({ ok: true, ...CONTENTS })));
    const { result, report } = await bake({ script: { fail: { "stack rm": "always" } } });
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
    expect(report).toMatchObject({
      imageId: "m-t4n0bakedimage01",
      destroyed: false,
      finished: true,
    });
    expect(report.remaining).toEqual([
      expect.stringMatching(/^the emptied stack could not be removed from the backend: /),
    ]);
    expect(cloud().resources.filter((r) => r.kind === "instance")).toEqual([]);
  });

  it("stage 1 fails and the destroy too: the builder is found by the stack's tags and named", async () => {
    builderInCloud(console_(), { statuses: [], status: "Running" });
    const { result, report } = await bake({
      script: { fail: { "up builder": 1, "destroy-any": "always" } },
    });
    expect(result.exitCode).toBe(LifecycleExit.teardownFailed);
    expect(report.builder).toEqual({
      instanceId: BUILDER,
      autoReleaseTime: "2026-12-02T08:00:00.000Z",
    });
    expect(report.remaining).toContain(
      "in the cloud, tagged with the stack: instance i-builder0001 [stack dev-bake]",
    );
  });
});

describe("the builder's verdict line", () => {
  it("the LAST line counts; terminal escapes and CRs are ignored", () => {
    const text = console_(
      verdictLine({ ok: false, error: "first try" }),
      `\u001b[0m${verdictLine({ ok: true, ...CONTENTS })}\r`,
    );
    expect(parseVerdict(text)).toEqual({ ok: true, fields: CONTENTS });
  });

  it("no line is undefined; a malformed one is a failure, never a pass", () => {
    expect(parseVerdict("boot\nlogin:")).toBeUndefined();
    expect(parseVerdict(`${VERDICT_PREFIX} {"ok":tru`)).toEqual({
      ok: false,
      error: 'the verdict line is not JSON: {"ok":tru',
    });
    expect(parseVerdict(verdictLine({ ok: "yes" }))).toMatchObject({ ok: false });
    expect(parseVerdict(verdictLine({ ok: false }))).toEqual({
      ok: false,
      error: "(no error given)",
    });
  });

  it("the console tail keeps the last non-blank lines", () => {
    expect(consoleTail("a\n\nb\r\nc\n", 2)).toEqual(["b", "c"]);
  });
});

describe("the bake stack's config: a copy of the source's, secrets never in arguments", () => {
  const PASSWORD = "acr-Pa55word-that-must-never-be-an-argument";
  const TOKEN = "tok_0123456789abcdefghijklmnopqrstuvwxyz";

  it("the file keeps plain values and an earlier salt, and drops encrypted ones", () => {
    const text = bakeStackFileText(
      "config:\n  wan-vace:image: r/c:1\n  wan-vace:zones: [a, b]\n  wan-vace:registryPassword:\n    secure: v1:AAA\n  wan-vace:bakedImageId: m-t4n0baked0001\n  bakeStage: builder\n",
      "Pulumi.dev.yaml",
      "encryptionsalt: v1:salt:abc\nconfig:\n  wan-vace:bakeStage: image\n",
    );
    expect(text).toContain("edit that file, not this one");
    expect(text).toContain("encryptionsalt: v1:salt:abc");
    expect(text).toMatch(/wan-vace:zones:\n\s+- a\n\s+- b/);
    // A stack that already boots a baked image still bakes from the OS image.
    expect(text).not.toMatch(/secure|registryPassword|bakeStage|bakedImageId/);
  });

  it("secrets come from the environment or the source stack, on stdin only", async () => {
    fake.script({});
    const driver = { workDir: fake.workDir(), write: () => {} };
    // The source stack holds the registry password (set once by a person, on stdin).
    const saved = process.env.VACE_REGISTRY_PASSWORD;
    process.env.VACE_REGISTRY_PASSWORD = PASSWORD;
    try {
      await StackDriver.open("dev", driver, { create: true });
    } finally {
      if (saved === undefined) delete process.env.VACE_REGISTRY_PASSWORD;
      else process.env.VACE_REGISTRY_PASSWORD = saved;
    }
    writeFileSync(
      join(fake.workDir(), "Pulumi.dev.yaml"),
      "config:\n  wan-vace:image: r/c:1\n  wan-vace:registryUsername: ci\n  wan-vace:registryPassword:\n    secure: v1:AAAA\n",
    );
    const stack = await openBakeStack({
      source: { root: fake.workDir(), stack: "dev", env: { VACE_STACK_TOKEN: TOKEN } },
      driver,
      sourceInBackend: true,
    });
    expect(stack.name).toBe("dev-bake");
    const bakeConfig = fake.stacks()["dev-bake"] as unknown as {
      config: Record<string, { secret: boolean; value: string }>;
    };
    expect(bakeConfig.config["wan-vace:registryPassword"]).toEqual({
      secret: true,
      value: PASSWORD,
    });
    expect(fake.commands()).toContain("config get");
    expect(readFileSync(join(fake.workDir(), "Pulumi.dev-bake.yaml"), "utf8")).toMatch(
      /wan-vace:registryUsername: ci/,
    );
    for (const call of fake.calls()) {
      expect(call.argv.join(" ")).not.toContain(PASSWORD);
      expect(call.argv.join(" ")).not.toContain(TOKEN);
    }
    expect(fake.calls().filter((c) => c.stdin === PASSWORD)).toHaveLength(2);
  });

  it("an encrypted value no one can decrypt: a config error naming the key, nothing created", async () => {
    fake.script({});
    writeFileSync(
      join(fake.workDir(), "Pulumi.dev.yaml"),
      "config:\n  wan-vace:image: r/c:1\n  wan-vace:registryPassword:\n    secure: v1:AAAA\n",
    );
    const err = await openBakeStack({
      source: { root: fake.workDir(), stack: "dev", env: {} },
      driver: { workDir: fake.workDir(), write: () => {} },
      sourceInBackend: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(
      /wan-vace:registryPassword.*stack dev in this backend can decrypt it, which does not exist: set it with \$VACE_REGISTRY_PASSWORD/,
    );
    expect(fake.calls()).toEqual([]);
    expect(existsSync(join(fake.workDir(), "Pulumi.dev-bake.yaml"))).toBe(false);
  });
});
