/**
 * The lifecycle workflows (.github/workflows/e2e.yml, reap.yml) as GitHub would run them: their shape
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

describe("e2e.yml", () => {
  const wf = load("e2e.yml");
  const jobs = Object.values(wf.jobs);
  const steps = jobs[0]?.steps ?? [];

  it("is one job that runs vace e2e, one run per target at a time, never cancelled mid-deploy", () => {
    expect(jobs).toHaveLength(1);
    expect(wf.concurrency.group).toMatch(/^e2e-\$\{\{ inputs\.target \}\}$/);
    expect(wf.concurrency["cancel-in-progress"]).toBe(false);
    expect(steps.filter((s) => s.run?.includes("vace -- e2e "))).toHaveLength(1);
    expect(steps.some((s) => /pulumi (up|destroy)/.test(s.run ?? ""))).toBe(false);
  });

  it("destroys and uploads artifacts whatever happened", () => {
    const down = steps.find((s) => s.run?.includes("vace -- down "));
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
      const r = spawnSync("bash", ["-c", script], {
        cwd: tmp,
        encoding: "utf8",
        env: {
          ...process.env,
          TARGET: target,
          REGION: "ap-southeast-1",
          IMAGE: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
          REGISTRY_USERNAME: "ci@acme",
          ZONES: "ap-southeast-1a, ap-southeast-1b",
        },
      });
      expect(r.status, r.stderr).toBe(0);
      // As `vace e2e` reads it: the registry password arrives from the job's environment.
      const config = stackConfig({
        root: tmp,
        stack: "ci-1",
        configFile: "ci-stack.yaml",
        env: { VACE_REGISTRY_PASSWORD: "from-the-secret-store" },
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

  it("every run step passes shellcheck", () => {
    for (const s of steps.filter((x) => x.run)) {
      const r = shellcheck(s.run as string);
      expect(r.status, `${s.name ?? s.run}\n${r.out}`).toBe(0);
    }
  });
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

  it("every run step passes shellcheck", () => {
    for (const s of steps.filter((x) => x.run)) {
      const r = shellcheck(s.run as string);
      expect(r.status, `${s.name ?? s.run}\n${r.out}`).toBe(0);
    }
  });
});
