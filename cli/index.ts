#!/usr/bin/env node
// First, before undici (via ./models) loads: refuses an old Node.js with a message naming the fix.
import "./node-version";
import type { Command } from "commander";
import { registerBake } from "./bake";
import { registerRun } from "./edit";
import { registerLifecycle } from "./lifecycle";
import { registerModels } from "./models";
import { projectPackage } from "./node-version";
import { registerRender } from "./render";
import { newProgram, runIfMain, runProgram } from "./run";
import { registerSmoke } from "./smoke";
import { registerVerify } from "./verify";

export { redactToken } from "./run";

/** A fresh command tree per run: commander keeps parsed state on the objects. */
export function buildProgram(): Command {
  const program = newProgram(
    "wan-vace: a Wan2.1-VACE ComfyUI endpoint on Alibaba Cloud. up, status, down, e2e, reap and bake drive `pulumi` for you (or use `pulumi up` directly); review (render), smoke-test and verify it, and fetch its models (see the README).",
  ).version(projectPackage().version, "-V, --version", "print the wan-vace version");
  registerModels(program);
  registerRender(program);
  registerSmoke(program);
  registerRun(program);
  registerVerify(program);
  // Lifecycle (design.md contract 7): up, status, down, e2e, reap.
  registerLifecycle(program);
  // A custom ECS image, baked in a throw-away stack (docs/cold-start.md "Baking an image").
  registerBake(program);
  return program;
}

/** Runs the full CLI in-process and returns its exit code. */
export function runCli(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}

// Run only when executed directly (`npm run vace`), not when a test imports the module.
runIfMain(module, buildProgram);
