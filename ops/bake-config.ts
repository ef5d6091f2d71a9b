/**
 * The bake stack's config: a copy of the source stack's. Plain values travel in the bake stack's own
 * file (Pulumi.<stack>-bake.yaml, which vace owns and rewrites on every bake); secrets never touch a
 * process's arguments: each comes from the environment (ops/pulumi SECRET_CONFIG_ENV), or is read
 * decrypted from the source stack (`pulumi config get`, on stdout) and set with `config set --secret`
 * on stdin. An encrypted value that neither can supply is a config error naming its key, raised
 * before anything is written or created.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { ConfigError, type ConfigIssue, PROJECT } from "../infra/config";
import { readStackConfig } from "../infra/offline/render";
import { writeFileAtomic } from "./atomic-file";
import { bakeStackName } from "./bake";
import {
  type DriverOptions,
  readConfigValue,
  SECRET_CONFIG_ENV,
  StackDriver,
} from "./pulumi/driver";
import { type StackConfigSource, stackConfigFile } from "./stack-config";

type Doc = { encryptionsalt?: unknown; config?: Record<string, unknown> } | null;

const isSecure = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;
/**
 * Keys the bake sets itself, or that describe a deployment booting a baked image: a source stack
 * that already boots one must still bake from the OS image (config rejects bakedImageId there).
 */
const NOT_COPIED = new Set(["bakeStage", "bakeContents", "bakedImageId"]);
const bareKey = (key: string) =>
  key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;

/**
 * The bake stack file: the source's plain config (encrypted values are set separately), and the
 * encryption salt of an earlier bake stack file, which an existing bake stack still needs.
 */
export function bakeStackFileText(
  sourceText: string,
  sourceName: string,
  existingBakeText?: string,
): string {
  const source = (parse(sourceText) as Doc)?.config ?? {};
  const salt = existingBakeText ? (parse(existingBakeText) as Doc)?.encryptionsalt : undefined;
  const config = Object.fromEntries(
    Object.entries(source).filter(([k, v]) => !isSecure(v) && !NOT_COPIED.has(bareKey(k))),
  );
  return [
    `# Written by \`vace bake\` from ${sourceName} on every bake: edit that file, not this one.`,
    stringify({ ...(typeof salt === "string" && { encryptionsalt: salt }), config }),
  ].join("\n");
}

export interface BakeConfigOptions {
  source: StackConfigSource;
  driver: DriverOptions;
  /** Whether the source stack exists in the backend (its secrets can then be read from it). */
  sourceInBackend: boolean;
}

/** Writes the bake stack's file, creates or selects the stack, and sets its secrets. */
export async function openBakeStack(o: BakeConfigOptions): Promise<StackDriver> {
  const { source } = o;
  const env = source.env ?? process.env;
  const file = stackConfigFile(source);
  const sourcePath = resolve(source.root, file);
  const ownFile = sourcePath === resolve(source.root, `Pulumi.${source.stack}.yaml`);
  const { secretKeys } = readStackConfig({
    stack: source.stack,
    root: source.root,
    configFile: file,
  });

  const fromStack: string[] = [];
  const problems: ConfigIssue[] = [];
  for (const key of secretKeys) {
    const bare = bareKey(key);
    const envName = SECRET_CONFIG_ENV[bare];
    if (envName && env[envName]) continue; // StackDriver.open sets it from the environment
    if (o.sourceInBackend && ownFile) {
      fromStack.push(key);
      continue;
    }
    problems.push({
      key,
      message: `is encrypted in ${file}, and only stack ${source.stack} in this backend can decrypt it${o.sourceInBackend ? " (its own Pulumi.<stack>.yaml, not --config)" : ", which does not exist"}: set it with $${envName ?? "(no variable)"} instead`,
    });
  }
  if (problems.length) throw new ConfigError(problems);

  // Read every secret before writing anything: a failure here leaves no trace.
  const secrets: Array<[string, string]> = [];
  for (const key of fromStack)
    secrets.push([key, await readConfigValue(o.driver, source.stack, key)]);

  const name = bakeStackName(source.stack);
  const bakeFile = join(o.driver.workDir, `Pulumi.${name}.yaml`);
  const existing = await readFile(bakeFile, "utf8").catch(() => undefined);
  await writeFileAtomic(
    bakeFile,
    bakeStackFileText(await readFile(sourcePath, "utf8"), file, existing),
  );
  const stack = await StackDriver.open(name, o.driver, { create: true });
  for (const [key, value] of secrets) {
    await stack.setSecret(key, value);
    o.driver.write(`copied secret config ${key} from stack ${source.stack} (on stdin)\n`);
  }
  return stack;
}
