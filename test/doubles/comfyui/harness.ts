/**
 * Test-only: the smoke against fresh ComfyUI doubles, with limits short enough that every failure mode
 * ends in a second or two. Registers the vitest hooks that close the doubles and remove the temp folder.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { runSmoke, type SmokeOptions } from "../../../smoke/run";
import { buildWorkflow, type WorkflowParams } from "../../../smoke/workflow";
import { requireBinary } from "../../binaries";
import { tempDir } from "../../fixtures/video";
import { type ComfyDouble, type DoubleScenario, startComfyDouble } from "./server";

export const TEST_TOKEN = "s3cret-token-for-tests";

/** The smoke's workflow at 64×64, 5 frames, 2 steps: quick to run on the double. */
export const smallWorkflow = (image: string, over: Partial<WorkflowParams> = {}) =>
  buildWorkflow({
    prompt: "p",
    negative: "n",
    seed: 1,
    width: 64,
    height: 64,
    frames: 5,
    fps: 16,
    steps: 2,
    cfg: 1,
    image,
    ...over,
  });

export function useSmokeHarness(prefix: string, defaults: Partial<SmokeOptions> = {}) {
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  const doubles: ComfyDouble[] = [];
  beforeAll(async () => {
    requireBinary("ffmpeg");
    tmp = await tempDir(prefix);
  });
  afterEach(async () => {
    await Promise.all(doubles.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });
  const dir = () => {
    if (!tmp) throw new Error("useSmokeHarness: the temp folder exists only inside tests");
    return tmp.dir;
  };
  return {
    /** The temp folder, removed after the file's tests. */
    dir,
    /** A double that is closed after the test. */
    async double(scenario: DoubleScenario = {}, tls = false): Promise<ComfyDouble> {
      const d = await startComfyDouble(scenario, { tls });
      doubles.push(d);
      return d;
    },
    smoke(d: ComfyDouble, extra: Partial<SmokeOptions> = {}) {
      return runSmoke({
        url: d.url,
        token: TEST_TOKEN,
        profile: "ci",
        outDir: join(dir(), randomUUID()),
        timeoutMs: 20_000,
        phaseTimeoutsMs: { ready: 1_500, execution: 10_000 },
        pollMs: { fast: 100 },
        readyBackoffMs: { initial: 50, max: 200 },
        ...defaults,
        ...extra,
      });
    },
  };
}
