/**
 * `vace e2e / up / down / status / reap` as a user runs them, in a project folder, with the fake
 * `pulumi` first on PATH and the Alibaba APIs on a loopback fake. Commands run in-process (cheap on
 * a loaded machine), except where a real signal has to reach a real process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StackDriver } from "../ops/pulumi/driver";
import { FAKE_KEY, type FakeCloud, startFakeCloud } from "../test/doubles/alibaba/server";
import { startComfyDouble } from "../test/doubles/comfyui/server";
import { DEPLOYED_OUTPUTS, useFakePulumi } from "../test/doubles/pulumi";
import { runCli } from "./index";

const ROOT = join(__dirname, "..");
// tsx as a loader in the CLI's own process, not the tsx CLI: that wrapper relays a signal to its
// child and, when the child has not acknowledged it within 30 ms (a loaded machine), SIGKILLs the
// child and exits 143 itself — the test then saw 143 instead of the teardown's exit code.
const TSX_LOADER = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const CLI = join(ROOT, "cli", "index.ts");
const TOKEN = "s3cret-token-for-lifecycle-tests-0123456789";

// The child-process test starts `tsx` (seconds on a loaded machine): generous limits.
vi.setConfig({ testTimeout: 120_000 });

const fake = useFakePulumi();
let cloud: FakeCloud;
let out: string;
beforeEach(async () => {
  cloud = await startFakeCloud();
  out = await mkdtemp(join(tmpdir(), "vace-e2e-out-"));
});
afterEach(async () => {
  await cloud.close();
  await rm(out, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; output: string }>;
}

/** The commit a CI run names ($GITHUB_SHA): `vace bake` tags its image with it. */
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";

/** What every command sees: the loopback cloud, its key, a step-summary file, CI's commit. */
const cloudEnv = () => ({
  GITHUB_SHA: COMMIT,
  ALIBABA_CLOUD_ACCESS_KEY_ID: FAKE_KEY.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: FAKE_KEY.accessKeySecret,
  WAN_VACE_ALIYUN_URL: cloud.endpoint("").replace(/\/$/, ""),
  WAN_VACE_ALIYUN_RETRY_MS: "1",
  GITHUB_STEP_SUMMARY: join(out, "summary.md"),
});

/** `vace ARGS` in this process, in the project folder; returns the exit code and all it printed. */
async function vace(args: string[], env: Record<string, string> = {}) {
  let output = "";
  const capture = (chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  const saved = { ...process.env };
  const cwd = process.cwd();
  Object.assign(process.env, cloudEnv(), env);
  process.chdir(fake.workDir());
  try {
    const code = await runCli(["node", "vace", ...args]);
    return { code, output };
  } finally {
    process.chdir(cwd);
    process.env = saved;
    for (const s of spies) s.mockRestore();
  }
}

/** `vace ARGS` as its own process, so a test can send it a signal. */
function vaceProcess(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, CLI, ...args], {
    cwd: fake.workDir(),
    env: { ...process.env, ...cloudEnv() },
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, output })),
  );
  return { child, done };
}

/** Sends `sig` to the CLI once `ready()` holds (a real signal to a real process); resolves with its exit. */
async function interruptWhen(run: Run, sig: NodeJS.Signals, ready: () => boolean) {
  while (!ready()) await new Promise((r) => setTimeout(r, 50));
  run.child.kill(sig);
  return run.done;
}

describe("vace e2e (contract 7)", () => {
  it("deploys, runs the real smoke against the endpoint, destroys, and writes the reports: exit 0", async () => {
    const double = await startComfyDouble({ token: TOKEN });
    try {
      fake.script({ outputs: { ...DEPLOYED_OUTPUTS, url: double.url, token: TOKEN } });
      const { code, output } = await vace(["e2e", "--stack", "ci-1", "--out", out]);
      expect(output).toMatch(
        /worst case: unknown \(unknown: no dated price for ecs\.gn7i-c8g1\.2xlarge in ap-southeast-1/,
      );
      expect(code, output).toBe(0);
      expect(output).not.toContain(TOKEN);
      const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
      expect(report).toMatchObject({
        ok: true,
        exitCode: 0,
        stack: "ci-1",
        smoke: { ok: true },
        teardown: { ok: true },
      });
      expect(existsSync(join(out, report.smoke.report.video.filename))).toBe(true);
      // Cold start is measured from when `pulumi up` began (docs/cold-start.md).
      const cold = report.smoke.report.coldStart;
      expect(Date.parse(cold.deployStartedAt)).toBeLessThanOrEqual(Date.parse(cold.firstHealthzAt));
      expect(cold.videoAfterDeployS).toBeGreaterThanOrEqual(cold.healthzAfterDeployS);
      const spend = JSON.parse(await readFile(join(out, "spend.json"), "utf8"));
      // Contract 7's keys (their order is checked in ops/spend.test.ts).
      expect(spend).toMatchObject({
        priceSource: expect.stringMatching(/^pricing API/),
        billedMinutes: expect.any(Number),
        total: expect.any(Number),
        stack: "ci-1",
        target: "ecs",
        pricePerHour: 1.8,
        currency: "USD",
      });
      expect(await readFile(join(out, "junit.xml"), "utf8")).toMatch(
        /<testsuite name="vace e2e ci-1" tests="3" failures="0" errors="0" skipped="0"/,
      );
      expect(await readFile(join(out, "summary.md"), "utf8")).toMatch(
        /### Spend[\s\S]*\| price per hour \| 1\.8 USD \|/,
      );
      expect(fake.stacks()).toEqual({});
    } finally {
      await double.close();
    }
  });

  it("SIGTERM during up: the update is cancelled (SIGINT to pulumi, then pulumi cancel), then destroyed: exit 4", async () => {
    fake.script({ hang: "up" });
    const run = vaceProcess(["e2e", "--stack", "ci-2", "--out", out]);
    const { code, output } = await interruptWhen(run, "SIGTERM", () =>
      existsSync(join(fake.stateDir(), "hanging")),
    );
    expect(code, output).toBe(4);
    expect(output).toContain("SIGTERM: cancelling the running operation, then tearing down");
    const cmds = fake.commands();
    expect(fake.calls().find((c) => c.signal)?.signal).toBe("SIGINT");
    expect(cmds.indexOf("cancel")).toBeGreaterThan(cmds.indexOf("up"));
    expect(cmds.indexOf("destroy")).toBeGreaterThan(cmds.indexOf("cancel"));
    expect(cmds.at(-1)).toBe("stack rm");
    const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
    expect(report).toMatchObject({ exitCode: 4, interrupted: true, smoke: null });
  });

  it("SIGTERM during the smoke: teardown runs, exit 1, and the process ends without waiting out the smoke", async () => {
    // The double hangs in the sampler until interrupted: a smoke that would run for its full timeout.
    const double = await startComfyDouble({ token: TOKEN, stallAt: "24" });
    try {
      fake.script({ outputs: { ...DEPLOYED_OUTPUTS, url: double.url, token: TOKEN } });
      const run = vaceProcess(["e2e", "--stack", "ci-6", "--out", out]);
      const { code, output } = await interruptWhen(
        run,
        "SIGTERM",
        () => double.received.prompts.length > 0,
      );
      expect(code, output).toBe(1);
      expect(output).toContain("interrupted during the smoke; tearing down");
      expect(fake.commands()).toContain("destroy");
      expect(fake.commands().at(-1)).toBe("stack rm");
    } finally {
      await double.close();
    }
  });

  it("without a pulumi CLI: exit 2 with install steps, nothing created", async () => {
    const { code, output } = await vace(["e2e", "--stack", "ci-3", "--out", out], {
      PATH:
        process.env.PATH?.split(delimiter)
          .filter((p) => !p.includes("doubles"))
          .join(delimiter) ?? "",
    });
    expect(code).toBe(2);
    expect(output).toContain("the `pulumi` CLI is not on PATH");
    expect(output).toContain("curl -fsSL https://get.pulumi.com | sh");
    expect(fake.calls()).toEqual([]);
  });

  it("an invalid --config: exit 2 naming every bad key, before any pulumi call", async () => {
    const bad = join(out, "bad.yaml");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(
        bad,
        "config:\n  wan-vace:ttl: 5m\n  wan-vace:region: Mars\n  wan-vace:image: x:1\n",
      ),
    );
    const { code, output } = await vace(["e2e", "--stack", "ci-4", "--config", bad]);
    expect(code).toBe(2);
    expect(output).toMatch(/wan-vace:ttl/);
    expect(output).toMatch(/wan-vace:region/);
    expect(fake.calls()).toEqual([]);
  });
});

describe("vace up / status / down", () => {
  it("up prints URL, expiry, type and price; status shows it; down destroys and removes it", async () => {
    fake.script({});
    const up = await vace(["up", "--stack", "dev"]);
    expect(up.code, up.output).toBe(0);
    expect(up.output).toContain("url:            https://203.0.113.10");
    expect(up.output).toMatch(/expires: {8}2026-12-02T08:00:00Z/);
    expect(up.output).toContain("instance type:  ecs.gn7i-c8g1.2xlarge");
    expect(up.output).toMatch(/price per hour: 1\.8 USD \(pricing API/);
    expect(up.output).not.toContain(DEPLOYED_OUTPUTS.token);

    cloud.resources.push({
      kind: "instance",
      id: "i-1",
      status: "Stopped",
      tags: { project: "wan-vace", stack: "dev" },
    });
    const status = await vace(["status", "--all", "--format", "json"]);
    expect(status.code, status.output).toBe(0);
    const rows = JSON.parse(status.output.slice(status.output.indexOf("[")));
    expect(rows).toEqual([
      expect.objectContaining({
        stack: "dev",
        target: "ecs",
        state: "stopped by the watchdog (GPU not billed)",
        pricePerHour: 1.8,
      }),
    ]);

    cloud.resources = [];
    const down = await vace(["down", "--stack", "dev"]);
    expect(down.code, down.output).toBe(0);
    expect(fake.stacks()).toEqual({});
    // A second down finds nothing anywhere: still 0 (the workflow's always-run step relies on it).
    const again = await vace(["down", "--stack", "dev"]);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain("nothing to do");
  });

  it("down destroys a stack whose config no longer validates, from the region in its state", async () => {
    fake.script({ region: "ap-southeast-1" });
    expect((await vace(["up", "--stack", "dev"])).code).toBe(0);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(fake.workDir(), "Pulumi.dev.yaml"),
      "config:\n  wan-vace:image: r/c:1\n  wan-vace:bakeStagee: image\n",
    );
    const { code, output } = await vace(["down", "--stack", "dev"]);
    expect(code, output).toBe(0);
    expect(output).toMatch(
      /the config of dev does not validate \(wan-vace:bakeStagee: unknown key/,
    );
    expect(fake.stacks()).toEqual({});
  });

  it("down exits 5 when the backend has no stack but the cloud still holds its tagged resources", async () => {
    fake.script({});
    cloud.resources.push({
      kind: "vpc",
      id: "vpc-9",
      tags: { project: "wan-vace", stack: "gone" },
    });
    const { code, output } = await vace(["down", "--stack", "gone"]);
    expect(code).toBe(5);
    expect(output).toContain("vpc vpc-9");
  });
});

describe("vace reap", () => {
  it("--dry-run names what it would delete and exits 0; reap deletes it", async () => {
    fake.script({});
    cloud.resources.push({
      kind: "vpc",
      id: "vpc-lost",
      tags: { project: "wan-vace", stack: "lost", "expires-at": "2020-01-01T00:00:00Z" },
    });
    const dry = await vace(["reap", "--dry-run"]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.output).toContain("[dry run] delete ap-southeast-1 vpc vpc-lost [stack lost]");
    expect(cloud.resources).toHaveLength(1);
    const real = await vace(["reap"]);
    expect(real.code, real.output).toBe(0);
    expect(real.output).toContain("deleted: ap-southeast-1 vpc vpc-lost [stack lost]");
    expect(cloud.resources).toHaveLength(0);
  });

  it("without credentials: exit 2 naming the variables", async () => {
    fake.script({});
    const { code, output } = await vace(["reap"], { ALIBABA_CLOUD_ACCESS_KEY_ID: "" });
    expect(code).toBe(2);
    expect(output).toContain("ALIBABA_CLOUD_ACCESS_KEY_ID");
  });
});

describe("vace backend oss", () => {
  it("prints the PULUMI_BACKEND_URL on stdout; bad flags exit 2, each named", async () => {
    const ok = await vace([
      "backend",
      "oss",
      "--bucket",
      "acme-state",
      "--region",
      "ap-southeast-1",
    ]);
    expect(ok.code).toBe(0);
    expect(ok.output).toContain(
      "s3://acme-state?endpoint=https%3A%2F%2Fs3.oss-ap-southeast-1.aliyuncs.com&region=ap-southeast-1\n",
    );
    const bad = await vace(["backend", "oss", "--bucket", "A", "--region", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--bucket "A"[\s\S]*--region "x"/);
  });
});

describe("vace rehearse", () => {
  it("runs the real smoke through the real gateway against the double, and says so plainly", async () => {
    const { code, output } = await vace(["rehearse", "--out", out]);
    expect(code, output).toBe(0);
    expect(output).toMatch(
      /^REHEARSAL: the server behind the gateway is a ComfyUI protocol DOUBLE/m,
    );
    expect(output).toContain("rehearsal smoke passed against the DOUBLE: verified");
    const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
    expect(report).toMatchObject({ ok: true, exitCode: 0, tracking: "websocket" });
    expect(report.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(existsSync(join(out, report.video.filename))).toBe(true);
  });
});

describe("a backend that refuses the stack", () => {
  it("e2e exits 4 naming the CLI's error when the stack cannot be created; nothing is deployed", async () => {
    fake.script({ fail: { "stack init": 1 } });
    const { code, output } = await vace(["e2e", "--stack", "ci-5", "--out", out]);
    expect(code).toBe(4);
    expect(output).toContain("cannot open stack ci-5: error: stack init failed (fake)");
    expect(fake.commands()).not.toContain("up");
  });
});

describe("vace bake (docs/cold-start.md, Baking an image)", () => {
  const BUILDER = "i-bakecli01";
  const CONTENTS = {
    comfyuiImage: `r/wan-vace/comfyui@sha256:${"c".repeat(64)}`,
    gatewayImage: `r/wan-vace/gateway@sha256:${"d".repeat(64)}`,
    driver: "580.95.05",
    docker: "28.5.1",
    toolkit: "1.17.8",
    kernel: "5.15.0-157-generic",
  };
  const stages = {
    builder: {
      bakeStage: "builder",
      builderInstanceId: BUILDER,
      expiresAt: "2026-12-02T08:00:00Z",
    },
    image: { bakeStage: "image", builderInstanceId: BUILDER, imageId: "m-clibaked01" },
  };
  /**
   * The builder in the fake cloud, untagged: here nothing links the fake pulumi's destroy to the
   * fake cloud (ops/bake.test.ts does), so a tagged builder would outlive every destroy.
   */
  const builder = (status: string, output: string) =>
    cloud.resources.push({ kind: "instance", id: BUILDER, status, consoleOutput: output });

  it("bakes, prints how to deploy from the image, writes bake.json, destroys the bake stack: exit 0", async () => {
    fake.script({ stageOutputs: stages });
    builder("Stopped", `boot\nWAN_VACE_BAKE_RESULT ${JSON.stringify({ ok: true, ...CONTENTS })}\n`);
    const { code, output } = await vace(["bake", "--out", out]);
    expect(code, output).toBe(0);
    expect(output).toContain("pulumi config set wan-vace:bakedImageId m-clibaked01 --stack dev");
    const report = JSON.parse(await readFile(join(out, "bake.json"), "utf8"));
    expect(report).toMatchObject({
      imageId: "m-clibaked01",
      contents: { ...CONTENTS, commit: COMMIT },
      destroyed: true,
      exitCode: 0,
      stack: "dev-bake",
    });
    expect(fake.stacks()).toEqual({});
    // bake.json is renamed into place: no partial file is ever left beside it.
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(out)).filter((f) => f.includes("bake"))).toEqual(["bake.json"]);
  });

  it("a bake stack an earlier run left is destroyed first, so its old builder is never reused", async () => {
    fake.script({ stageOutputs: stages });
    const driver = { workDir: fake.workDir(), write: () => {} };
    const left = await StackDriver.open("dev-bake", driver, { create: true });
    await left.setConfig("wan-vace:bakeStage", "builder");
    await left.up();
    builder("Stopped", `WAN_VACE_BAKE_RESULT ${JSON.stringify({ ok: true, ...CONTENTS })}\n`);
    const { code, output } = await vace(["bake", "--out", out]);
    expect(code, output).toBe(0);
    expect(output).toContain(
      "an earlier bake left stack dev-bake: destroying it before this one starts",
    );
    const cmds = fake.commands();
    const firstRm = cmds.indexOf("stack rm");
    expect(cmds.slice(0, firstRm)).toContain("destroy");
    expect(cmds.slice(firstRm).filter((c) => c === "up")).toHaveLength(2);
    expect(fake.stacks()).toEqual({});
  });

  it("SIGINT while waiting for the builder: destroyed, bake.json says so, exit 1", async () => {
    fake.script({ stageOutputs: stages });
    builder("Running", "boot\n");
    const run = vaceProcess(["bake", "--stack", "dev", "--out", out]);
    const { code, output } = await interruptWhen(run, "SIGINT", () =>
      cloud.calls.includes("DescribeInstances"),
    );
    expect(code, output).toBe(1);
    expect(output).toContain("SIGINT: cancelling the running operation, then tearing down");
    expect(fake.commands()).toContain("destroy");
    expect(fake.commands().at(-1)).toBe("stack rm");
    const report = JSON.parse(await readFile(join(out, "bake.json"), "utf8"));
    expect(report).toMatchObject({ interrupted: true, phase: "wait", destroyed: true });
  });

  it("usage errors exit 2 before any pulumi call: the timeout, an ACS stack, no commit, no credentials", async () => {
    for (const t of ["0", "91", "1.5", "soon"]) {
      const r = await vace(["bake", "--timeout-minutes", t]);
      expect(r.code, t).toBe(2);
      expect(r.output).toContain("--timeout-minutes must be a whole number from 1 to 90");
    }
    const acs = join(out, "acs.yaml");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(
        acs,
        "config:\n  wan-vace:target: acs\n  wan-vace:zones: [ap-southeast-1a]\n  wan-vace:image: r/wan-vace/comfyui:0.1.0\n",
      ),
    );
    const a = await vace(["bake", "--config", acs]);
    expect(a.code).toBe(2);
    expect(a.output).toContain("vace bake makes an ECS image; stack dev has wan-vace:target acs");
    const g = await vace(["bake"], { GITHUB_SHA: "" });
    expect(g.code).toBe(2);
    expect(g.output).toContain("tags the image with the project's git commit and found none");
    const c = await vace(["bake"], { ALIBABA_CLOUD_ACCESS_KEY_ID: "", GITHUB_SHA: "abcdef0" });
    expect(c.code).toBe(2);
    expect(c.output).toContain("needs the cloud: no cloud credentials");
    expect(fake.calls()).toEqual([]);
  });
});
