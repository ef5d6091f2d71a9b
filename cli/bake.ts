/**
 * `vace bake [--stack S] [--config F] [--timeout-minutes N] [--out DIR]`: thin wiring from flags to
 * ops/bake.ts (docs/cold-start.md "Baking an image"). Exit codes as the lifecycle commands' (design.md
 * contract 7): 0 image made and the bake stack destroyed; 1 the builder ran and failed; 2 usage, or no
 * `pulumi` CLI or cloud credentials; 4 a stage's deploy failed; 5 the bake stack could not be destroyed.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Command } from "commander";
import { ConfigError } from "../infra/config";
import { writeFileAtomic } from "../ops/atomic-file";
import {
  type BakeProgress,
  BUILDER_TTL_MINUTES,
  bakeReport,
  bakeStackName,
  DEFAULT_WAIT_MINUTES,
  destroyLeftover,
  MAX_WAIT_MINUTES,
  runBake,
} from "../ops/bake";
import { openBakeStack } from "../ops/bake-config";
import { consoleOutput, describeInstance } from "../ops/cloud/instance";
import { taggedWithStack } from "../ops/cloud/inventory";
import { LifecycleError, LifecycleExit } from "../ops/errors";
import { listStacks, StackDriver } from "../ops/pulumi/driver";
import { priceFor, worstCase } from "../ops/spend";
import { firstLine } from "../ops/teardown";
import { CliError } from "./errors";
import {
  cloudClient,
  configForCommand,
  driverOptions,
  guarded,
  interrupts,
  say,
} from "./lifecycle";
import { userPath } from "./run";

/** --timeout-minutes: a whole number of minutes the builder may take, within its TTL. */
export function parseWaitMinutes(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_WAIT_MINUTES) {
    throw new CliError(
      LifecycleExit.usage,
      `--timeout-minutes must be a whole number from 1 to ${MAX_WAIT_MINUTES} (the builder is released by ECS ${BUILDER_TTL_MINUTES} min after it is created, and the image stage needs it), not ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * The project's commit for the image's vace-commit tag: `git rev-parse HEAD`, else CI's $GITHUB_SHA.
 * Checked before anything is created: the image stage would refuse a bake without one, after the
 * builder had run for nothing.
 */
async function projectCommit(): Promise<string> {
  const fromGit = await promisify(execFile)("git", ["rev-parse", "HEAD"], {
    cwd: process.cwd(),
  }).then(
    (r) => r.stdout.trim(),
    () => undefined,
  );
  const commit = fromGit || process.env.GITHUB_SHA;
  if (commit && /^[0-9a-f]{7,40}$/.test(commit)) return commit;
  throw new CliError(
    LifecycleExit.usage,
    "vace bake tags the image with the project's git commit and found none: run it in a git checkout of wan-vace, or set GITHUB_SHA",
  );
}

export function registerBake(program: Command): void {
  program
    .command("bake")
    .description(
      "bake an ECS image (verified driver, Docker, NVIDIA toolkit, both images pre-pulled, no secret) in a throw-away <stack>-bake stack, which is always destroyed; the image stays",
    )
    .option("--stack <name>", "the stack whose config the image is baked for", "dev")
    .option(
      "--config <file>",
      "a YAML file shaped like Pulumi.<stack>.yaml, instead of the stack's",
    )
    .option(
      "--timeout-minutes <n>",
      `how long to wait for the builder to power off (1-${MAX_WAIT_MINUTES})`,
      String(DEFAULT_WAIT_MINUTES),
    )
    .option("--out <dir>", "where bake.json goes", "out/bake")
    .action((o: { stack: string; config?: string; timeoutMinutes: string; out: string }) =>
      guarded(async () => {
        const minutes = parseWaitMinutes(o.timeoutMinutes);
        const { config, configFile } = await configForCommand(o.stack, o.config);
        if (config.target !== "ecs")
          throw new CliError(
            LifecycleExit.usage,
            `vace bake makes an ECS image; stack ${o.stack} has wan-vace:target ${config.target}`,
          );
        const commit = await projectCommit();
        const { client, why } = cloudClient(config.region);
        if (!client)
          throw new CliError(
            LifecycleExit.usage,
            `vace bake waits on its builder through the ECS API and needs the cloud: ${why}`,
          );
        const outDir = userPath(o.out);
        await mkdir(outDir, { recursive: true });
        const name = bakeStackName(o.stack);
        say(
          `builder ${worstCase(priceFor(config.instanceTypes[0], config.region), BUILDER_TTL_MINUTES)}`,
        );
        const cloud = taggedWithStack(client, name);
        const prepare = async () => {
          const names = await listStacks(driverOptions());
          if (names.includes(name))
            await destroyLeftover(await StackDriver.open(name, driverOptions()), {
              cloud,
              log: say,
            });
          return openBakeStack({
            source: { root: process.cwd(), stack: o.stack, configFile },
            driver: driverOptions(),
            sourceInBackend: names.includes(o.stack),
          });
        };
        const stack = await prepare().catch((e: unknown) => {
          // A backend that refuses (a wrong passphrase, no access to the state bucket): nothing ran.
          if (e instanceof LifecycleError || e instanceof ConfigError) throw e;
          throw new LifecycleError(
            LifecycleExit.deployFailed,
            `cannot prepare stack ${name}: ${firstLine(e)}`,
          );
        });
        const { signal, release } = interrupts();
        try {
          const file = join(outDir, "bake.json");
          const record = (r: BakeProgress) =>
            writeFileAtomic(file, `${JSON.stringify(bakeReport(r), null, 2)}\n`);
          const result = await runBake({
            stack,
            builder: {
              state: (id) => describeInstance(client, id),
              console: (id) => consoleOutput(client, id),
            },
            commit,
            timeoutMs: minutes * 60_000,
            cloud,
            signal,
            log: say,
            secrets: stack.secretValues(),
            onProgress: record,
          });
          await record(result);
          if (result.imageId) {
            say(`image ${result.imageId}; deploy from it with:`);
            say(`  pulumi config set wan-vace:bakedImageId ${result.imageId} --stack ${o.stack}`);
          }
          say(`bake ${name}: exit ${result.exitCode}; ${file}`);
          // An interrupted console read or poll may still be in flight: nothing else is worth
          // waiting for once teardown is done. unref: a clean run exits first.
          if (result.interrupted) setTimeout(() => process.exit(result.exitCode), 1000).unref();
          return result.exitCode;
        } finally {
          release();
        }
      }),
    );
}
