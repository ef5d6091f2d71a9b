/**
 * The one program (this project's index.ts), driven through Pulumi's Automation API: a LocalWorkspace
 * over the project folder, so `vace up` deploys exactly what `pulumi up` would. The SDK shells out to
 * the `pulumi` CLI on PATH; everything it does is visible in that CLI's arguments, environment and
 * output, which is how the tests check it (a fake `pulumi` under test/doubles/pulumi).
 *
 * Progress is streamed from the CLI's own output (onOutput). The SDK's structured event stream is not
 * used: from CLI 3.206 on it is a gRPC service rather than a file, and plain output is what people read.
 */
import { spawn } from "node:child_process";
import { constants, existsSync } from "node:fs";
import { access, copyFile, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { LifecycleError, LifecycleExit } from "../errors";

/** What a person does when there is no `pulumi` on PATH. */
export const PULUMI_INSTALL_STEPS = [
  "the `pulumi` CLI is not on PATH; vace drives it through Pulumi's Automation API. Install it:",
  "  curl -fsSL https://get.pulumi.com | sh        # then: export PATH=$HOME/.pulumi/bin:$PATH",
  "  (or: brew install pulumi; in GitHub Actions: uses: pulumi/actions@v6)",
  "and check with: pulumi version",
].join("\n");

/** The example environment a new stack starts from when no --config is given. */
export const EXAMPLE_STACK_FILE = "Pulumi.dev.yaml";

/**
 * Config values that are secrets come from the environment and reach `pulumi config set --secret`
 * on stdin, never in a process's arguments (the SDK's setConfig passes values as arguments).
 */
export const SECRET_CONFIG_ENV: Record<string, string> = {
  registryPassword: "VACE_REGISTRY_PASSWORD",
  token: "VACE_STACK_TOKEN",
};

/** Finds an executable `pulumi` on PATH, or undefined. */
export const findPulumi = (path = process.env.PATH ?? "") => findOnPath("pulumi", path);

/** Finds an executable named `bin` on PATH, or undefined. */
export async function findOnPath(
  bin: string,
  path = process.env.PATH ?? "",
): Promise<string | undefined> {
  for (const folder of path.split(delimiter).filter(Boolean)) {
    const candidate = join(folder, bin);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DriverOptions {
  /** The project folder: holds Pulumi.yaml, index.ts and the Pulumi.<stack>.yaml files. */
  workDir: string;
  /** Raw CLI output, streamed as it comes (progress). */
  write: (chunk: string) => void;
}

export interface OpenOptions {
  /** Create the stack when it is missing (up, e2e); otherwise a missing stack is a usage error. */
  create?: boolean;
  /** A YAML file shaped like Pulumi.<stack>.yaml for a new stack; default: the example file. */
  configFile?: string;
}

/** Stack outputs with secrets in plain text (only ever used in memory). */
export type Outputs = Record<string, unknown>;

/** Fails with exit 2 and the install steps when the CLI is missing. */
export async function requirePulumi(): Promise<void> {
  if (!(await findPulumi())) throw new LifecycleError(LifecycleExit.usage, PULUMI_INSTALL_STEPS);
}

/** The project's workspace (same index.ts as `pulumi up`). */
export async function openWorkspace(opts: DriverOptions): Promise<LocalWorkspace> {
  await requirePulumi();
  return LocalWorkspace.create({ workDir: opts.workDir });
}

/** The names of the stacks in the current backend. */
export async function listStacks(opts: DriverOptions): Promise<string[]> {
  const ws = await openWorkspace(opts);
  return (await ws.listStacks()).map((s) => s.name);
}

/** One stack, driven step by step. Each method streams the CLI's output through `write`. */
export class StackDriver {
  private readonly secrets: string[] = [];

  private constructor(
    readonly name: string,
    private readonly stack: Stack,
    private readonly opts: DriverOptions,
  ) {}

  static async open(
    name: string,
    opts: DriverOptions,
    open: OpenOptions = {},
  ): Promise<StackDriver> {
    const ws = await openWorkspace(opts);
    const exists = (await ws.listStacks()).some((s) => s.name === name);
    if (!exists) {
      if (!open.create) {
        throw new LifecycleError(
          LifecycleExit.usage,
          `no stack named ${name} in this backend (see: vace status --all)`,
        );
      }
      await seedStackFile(opts.workDir, name, open.configFile);
    } else if (open.configFile !== undefined) {
      await assertSameConfig(opts.workDir, name, open.configFile);
    }
    if (!exists) await ws.createStack(name);
    const driver = new StackDriver(name, await Stack.select(name, ws), opts);
    await driver.setSecretsFromEnv();
    return driver;
  }

  /** Deploys. Aborting `signal` sends the CLI SIGINT, which cancels the update gracefully. */
  async up(signal?: AbortSignal): Promise<Outputs> {
    await this.stack.up({ onOutput: this.opts.write, onError: this.opts.write, signal });
    return this.outputs();
  }

  /** Destroys everything the stack holds; `refresh` first re-reads the cloud (after a failed try). */
  async destroy(refresh = false): Promise<void> {
    await this.stack.destroy({ onOutput: this.opts.write, onError: this.opts.write, refresh });
  }

  /** Clears an update left running or locked (after an interrupted `up`). */
  async cancel(): Promise<void> {
    await this.stack.cancel();
  }

  async outputs(): Promise<Outputs> {
    const out = await this.stack.outputs();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
  }

  /** URNs of every resource the stack's state still holds. */
  async resources(): Promise<string[]> {
    const state = await this.stack.exportStack();
    const resources = (state.deployment as { resources?: Array<{ urn: string }> }).resources ?? [];
    return resources.map((r) => r.urn);
  }

  /** Cloud ids of the state's resources of this type (also one whose create failed after it got an id). */
  async idsOf(type: string): Promise<string[]> {
    const state = await this.stack.exportStack();
    type Res = { type?: string; id?: unknown };
    const resources = (state.deployment as { resources?: Res[] }).resources ?? [];
    return resources.flatMap((r) =>
      r.type === type && typeof r.id === "string" && r.id ? [r.id] : [],
    );
  }

  /**
   * The region the stack's alicloud provider was configured with, from the state (a runner that
   * never had the stack's config file still knows where to look). Undefined when the state is empty.
   */
  async region(): Promise<string | undefined> {
    const state = await this.stack.exportStack();
    type Res = { type?: string; inputs?: { region?: unknown }; outputs?: { region?: unknown } };
    const resources = (state.deployment as { resources?: Res[] }).resources ?? [];
    const provider = resources.find((r) => r.type === "pulumi:providers:alicloud");
    const region = provider?.inputs?.region ?? provider?.outputs?.region;
    return typeof region === "string" ? region : undefined;
  }

  /** Removes the stack (its state and history) from the backend; the stack file stays. */
  async remove(): Promise<void> {
    await this.stack.workspace.removeStack(this.name, { preserveConfig: true });
  }

  /** A plain (non-secret) config value; the SDK passes it in the CLI's arguments. */
  async setConfig(key: string, value: string): Promise<void> {
    await this.stack.setConfig(key, { value, secret: false });
  }

  /** The secret values this process set on the stack (kept in memory only, to redact them). */
  secretValues(): string[] {
    return [...this.secrets];
  }

  /** `pulumi config set --secret KEY` with the value on stdin, never in a process's arguments. */
  async setSecret(key: string, value: string): Promise<void> {
    this.secrets.push(value);
    await pulumiWithStdin(
      ["config", "set", "--secret", key, "--stack", this.name],
      value,
      this.opts.workDir,
    );
  }

  /** Every SECRET_CONFIG_ENV that is set, as a secret. */
  private async setSecretsFromEnv(): Promise<void> {
    for (const [key, env] of Object.entries(SECRET_CONFIG_ENV)) {
      const value = process.env[env];
      if (!value) continue;
      await this.setSecret(key, value);
      this.opts.write(`set secret config ${key} from $${env}\n`);
    }
  }
}

/**
 * A config value of a stack in the backend, decrypted (`pulumi config get KEY --json`): it arrives on
 * the CLI's stdout, never in arguments. The stack itself is not selected or changed.
 */
export async function readConfigValue(
  opts: DriverOptions,
  stack: string,
  key: string,
): Promise<string> {
  const ws = await openWorkspace(opts);
  return (await ws.getConfig(stack, key)).value;
}

/** Runs `pulumi ARGS` with `input` on stdin; rejects with its stderr on a non-zero exit. */
function pulumiWithStdin(args: string[], input: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", args, { cwd, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`pulumi ${args.slice(0, 4).join(" ")} failed: ${stderr.trim()}`)),
    );
    child.stdin.end(input);
  });
}

/**
 * A new stack starts from --config, or from the example file when the stack has no file yet
 * (`stack init` then adds its encryption salt to that file).
 */
async function seedStackFile(workDir: string, name: string, configFile?: string): Promise<void> {
  const target = join(workDir, `Pulumi.${name}.yaml`);
  if (configFile !== undefined) {
    if (existsSync(target)) {
      await assertSameConfig(workDir, name, configFile);
      return;
    }
    await copyFile(configFile, target).catch((e: Error) => {
      throw new LifecycleError(
        LifecycleExit.usage,
        `cannot read --config ${configFile}: ${e.message}`,
      );
    });
    return;
  }
  if (!existsSync(target)) await copyFile(join(workDir, EXAMPLE_STACK_FILE), target);
}

/** --config must not silently replace a stack file that already says something else. */
async function assertSameConfig(workDir: string, name: string, configFile: string): Promise<void> {
  const target = join(workDir, `Pulumi.${name}.yaml`);
  const [given, existing] = await Promise.all([
    readFile(configFile, "utf8").catch((e: Error) => {
      throw new LifecycleError(
        LifecycleExit.usage,
        `cannot read --config ${configFile}: ${e.message}`,
      );
    }),
    readFile(target, "utf8").catch(() => undefined),
  ]);
  if (existing === undefined) return;
  const body = (s: string) => s.replace(/^encryptionsalt:.*\n/m, "");
  if (body(existing) !== body(given)) {
    throw new LifecycleError(
      LifecycleExit.usage,
      `--config ${configFile} differs from the stack's existing ${target}; edit that file instead, or drop --config`,
    );
  }
}
