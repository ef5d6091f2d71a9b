/**
 * Test-only: puts the fake `pulumi` (./pulumi, next to this file) first on PATH for one test file,
 * in a throw-away project folder holding this project's Pulumi.yaml and example stack file.
 */
import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, afterEach, beforeEach } from "vitest";

const ROOT = join(__dirname, "..", "..", "..");

export interface FakeScript {
  version?: string;
  /** Failures per command ("up", "destroy", "destroy --refresh", "destroy-any", "stack init", …). */
  fail?: Record<string, number | "always">;
  /** "up <stage>" hangs only the `up` of that bake stage (wan-vace:bakeStage). */
  hang?: "up" | "destroy" | `up ${string}`;
  resources?: number;
  outputs?: Record<string, unknown>;
  stuck?: string[];
  leaveLocked?: boolean;
  region?: string;
  /** vace bake: the outputs of an `up` whose stack has wan-vace:bakeStage set to the key. */
  stageOutputs?: Record<string, Record<string, unknown>>;
  /** With a failing "up image": the image was created before the update failed (it is in the state). */
  imageCreated?: boolean;
}

export interface FakeCall {
  command: string;
  argv: string[];
  cwd: string;
  stdin?: string;
  signal?: string;
  env: Record<string, string>;
}

export const DEPLOYED_OUTPUTS = {
  target: "ecs",
  url: "https://203.0.113.10",
  token: "tok-abcdefghijklmnopqrstuvwxyz0123456789",
  instanceType: "ecs.gn7i-c8g1.2xlarge",
  hourlyPrice: 1.8,
  expiresAt: "2026-12-02T08:00:00Z",
  instanceId: "i-fake0001",
};

export function useFakePulumi() {
  let state = "";
  let workDir = "";
  const saved = { PATH: process.env.PATH, FAKE_PULUMI_STATE: process.env.FAKE_PULUMI_STATE };
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), "fake-pulumi-state-"));
    workDir = mkdtempSync(join(tmpdir(), "fake-pulumi-project-"));
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml"])
      copyFileSync(join(ROOT, f), join(workDir, f));
    process.env.FAKE_PULUMI_STATE = state;
    process.env.PATH = `${__dirname}${delimiter}${saved.PATH}`;
  });
  afterEach(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });
  afterAll(() => {
    process.env.PATH = saved.PATH;
    if (saved.FAKE_PULUMI_STATE === undefined) delete process.env.FAKE_PULUMI_STATE;
    else process.env.FAKE_PULUMI_STATE = saved.FAKE_PULUMI_STATE;
  });
  return {
    workDir: () => workDir,
    stateDir: () => state,
    script(s: FakeScript) {
      writeFileSync(
        join(state, "script.json"),
        JSON.stringify({ outputs: DEPLOYED_OUTPUTS, ...s }),
      );
    },
    calls(): FakeCall[] {
      appendFileSync(join(state, "calls.jsonl"), "");
      return readFileSync(join(state, "calls.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FakeCall);
    },
    /** The commands run, in order, e.g. ["version", "stack ls", "stack init", …]. */
    commands(): string[] {
      return this.calls().map((c) =>
        c.argv.includes("--refresh") ? `${c.command} --refresh` : c.command,
      );
    },
    stacks(): Record<string, { resources: string[] }> {
      try {
        return JSON.parse(readFileSync(join(state, "state.json"), "utf8"));
      } catch {
        return {};
      }
    },
  };
}
