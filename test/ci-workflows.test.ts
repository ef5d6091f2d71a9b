/**
 * The lifecycle workflows (.github/workflows/e2e.yml, bake.yml, reap.yml) as GitHub would run them: their shape
 * (one job, concurrency, destroy always, artifacts, the target input), their shell through shellcheck,
 * and the e2e stack config they write, through the project's own config validation.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { stackConfig } from "../ops/stack-config";
import { requireBinary } from "./binaries";

const ROOT = join(__dirname, "..");
/**
 * How a workflow runs a command that must reach teardown on a cancel: node with tsx as a loader.
 * `npm run vace` starts the tsx CLI, whose signal relay SIGKILLs its child when the child has not
 * acknowledged a signal within 30 ms, so on a loaded runner a cancel could skip vace's teardown.
 */
const CLI = "node --import tsx cli/index.ts";
interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, { inputs?: Record<string, { options?: string[]; default?: unknown }> }> & {
    schedule?: Array<{ cron: string }>;
  };
  concurrency: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, { env: Record<string, string>; steps: Step[] }>;
}
const load = (name: string) =>
  parse(readFileSync(join(ROOT, ".github", "workflows", name), "utf8")) as Workflow;
const tmp = mkdtempSync(join(tmpdir(), "vace-workflows-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A step's shell as bash would see it, with GitHub's `${{ }}` expressions stood in for. */
function shellcheck(script: string): { status: number | null; out: string } {
  requireBinary("shellcheck");
  const file = join(tmp, `step-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(
    file,
    `#!/usr/bin/env bash\nset -eo pipefail\n${script.replace(/\$\{\{[^}]*\}\}/g, "x")}`,
  );
  const r = spawnSync("shellcheck", ["-s", "bash", file], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Every `run:` step of a workflow through shellcheck. */
function itPassesShellcheck(steps: Step[]) {
  it("every run step passes shellcheck", () => {
    for (const s of steps.filter((x) => x.run)) {
      const r = shellcheck(s.run as string);
      expect(r.status, `${s.name ?? s.run}\n${r.out}`).toBe(0);
    }
  });
}

/** Runs a workflow's config-writing step as bash would, then reads the file as vace does. */
function writtenConfig(script: string, file: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["-c", script], {
    cwd: tmp,
    encoding: "utf8",
    env: {
      ...process.env,
      REGION: "ap-southeast-1",
      IMAGE: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
      REGISTRY_USERNAME: "ci@acme",
      ...env,
    },
  });
  expect(r.status, r.stderr).toBe(0);
  // As vace reads it: the registry password arrives from the job's environment.
  return stackConfig({
    root: tmp,
    stack: "ci-1",
    configFile: file,
    env: { VACE_REGISTRY_PASSWORD: "from-the-secret-store" },
  });
}

describe("e2e.yml", () => {
  const wf = load("e2e.yml");
  const jobs = Object.values(wf.jobs);
  const steps = jobs[0]?.steps ?? [];

  it("is one job that runs vace e2e, one run per target at a time, never cancelled mid-deploy", () => {
    expect(jobs).toHaveLength(1);
    expect(wf.concurrency.group).toMatch(/^e2e-\$\{\{ inputs\.target \}\}$/);
    expect(wf.concurrency["cancel-in-progress"]).toBe(false);
    expect(steps.filter((s) => s.run?.includes(`${CLI} e2e `))).toHaveLength(1);
    expect(steps.some((s) => /pulumi (up|destroy)/.test(s.run ?? ""))).toBe(false);
  });

  it("destroys and uploads artifacts whatever happened", () => {
    const down = steps.find((s) => s.run?.includes(`${CLI} down `));
    expect(down?.if).toBe("always()");
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.if).toBe("always()");
    expect(upload?.with?.path).toBe("out/");
    expect(steps.indexOf(down as Step)).toBeGreaterThan(steps.indexOf(upload as Step));
  });

  it("takes a target input (ecs or acs) and passes it through to the stack config", () => {
    expect(wf.on.workflow_dispatch?.inputs?.target).toMatchObject({
      options: ["ecs", "acs"],
      default: "ecs",
    });
    expect(jobs[0]?.env.TARGET).toMatch(/^\$\{\{ inputs\.target \}\}$/);
  });

  it("writes a stack config the project accepts, with the inputs taken from the environment", () => {
    const step = steps.find((s) => s.name === "Stack config");
    const script =
      step?.run
        ?.split("\n")
        .filter((l) => !l.includes("vace -- render"))
        .join("\n") ?? "";
    for (const target of ["ecs", "acs"]) {
      const config = writtenConfig(script, "ci-stack.yaml", {
        TARGET: target,
        ZONES: "ap-southeast-1a, ap-southeast-1b",
      });
      expect(config).toMatchObject({
        target,
        ttlMinutes: 120,
        idleStopMinutes: 20,
        // ACS: no instance to price (an ECS-only key is an error there); zones for its new cluster.
        priceLookup: target === "ecs",
        zones: target === "acs" ? ["ap-southeast-1a", "ap-southeast-1b"] : [],
      });
      expect(config.registry?.username).toBe("ci@acme");
    }
  });

  it("keeps secrets out of arguments: the registry password goes through vace's stdin path", () => {
    const env = jobs[0]?.env ?? {};
    expect(env.VACE_REGISTRY_PASSWORD).toMatch(/^\$\{\{ secrets\.ACR_PASSWORD \}\}$/);
    const all = steps.map((s) => s.run ?? "").join("\n");
    expect(all).not.toMatch(/secrets\.|ACR_PASSWORD|--token/);
  });

  itPassesShellcheck(steps);
});

describe("reap.yml", () => {
  const wf = load("reap.yml");
  const steps = Object.values(wf.jobs)[0]?.steps ?? [];

  it("runs vace reap hourly, with a manual dry run", () => {
    expect(wf.on.schedule?.[0]?.cron).toMatch(/^\d+ \* \* \* \*$/);
    expect(wf.on.workflow_dispatch?.inputs?.["dry-run"]).toBeDefined();
    expect(steps.filter((s) => s.run?.includes("vace -- reap "))).toHaveLength(1);
    expect(wf.concurrency["cancel-in-progress"]).toBe(false);
  });

  itPassesShellcheck(steps);
});

describe("bake.yml", () => {
  const wf = load("bake.yml");
  const jobs = Object.values(wf.jobs);
  const steps = jobs[0]?.steps ?? [];

  it("is one manual job, never cancelled mid-build, that bakes once, then always destroys and uploads", () => {
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    expect(wf.on.workflow_dispatch?.inputs?.image).toBeDefined();
    expect(jobs).toHaveLength(1);
    expect(wf.concurrency["cancel-in-progress"]).toBe(false);
    const bake = steps.filter((s) => s.run?.includes(`${CLI} bake `));
    expect(bake).toHaveLength(1);
    expect(bake[0]?.run).toContain("--out out");
    expect(steps.some((s) => /pulumi (up|destroy)/.test(s.run ?? ""))).toBe(false);
    const down = steps.find((s) => s.run?.includes(`${CLI} down `));
    expect([down?.if, down?.run]).toEqual([
      "always()",
      expect.stringContaining('--stack "$STACK-bake"'),
    ]);
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect([upload?.if, upload?.with?.path]).toEqual(["always()", "out/"]);
  });

  it("writes a source config the project accepts, from the environment", () => {
    const step = steps.find((s) => s.name === "Source config");
    const config = writtenConfig(step?.run ?? "exit 1", "bake-source.yaml");
    expect(config).toMatchObject({ target: "ecs", region: "ap-southeast-1" });
    expect(config.registry?.username).toBe("ci@acme");
    const env = jobs[0]?.env ?? {};
    expect(env.VACE_REGISTRY_PASSWORD).toMatch(/^\$\{\{ secrets\.ACR_PASSWORD \}\}$/);
    expect(steps.map((s) => s.run ?? "").join("\n")).not.toMatch(/secrets\.|ACR_PASSWORD/);
  });

  itPassesShellcheck(steps);
});

describe("a CI cancel reaches vace's own signal handler", () => {
  it("e2e.yml and bake.yml run every command that tears down under node, not npm run or the tsx CLI", () => {
    for (const [name, verb] of [
      ["e2e.yml", "e2e"],
      ["bake.yml", "bake"],
    ] as const) {
      const runs = (Object.values(load(name).jobs)[0]?.steps ?? []).map((s) => s.run ?? "");
      for (const v of [verb, "down"]) {
        expect(
          runs.filter((r) => r.includes(`${CLI} ${v} `)),
          `${name} ${v}`,
        ).toHaveLength(1);
        const relayed = new RegExp(`(vace -- |(?<!--import )tsx cli/index\\.ts )${v}\\b`);
        expect(runs.join("\n"), `${name} ${v}`).not.toMatch(relayed);
      }
    }
  });

  it("that form runs the CLI with the installed tsx", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "cli/index.ts", "--version"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(CLI).toBe("node --import tsx cli/index.ts");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
