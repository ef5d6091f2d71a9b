/**
 * The validated config of the stack a lifecycle command is about to create or drive: --config, else
 * Pulumi.<stack>.yaml, else the example file; plus the secrets that vace itself will set from the
 * environment (ops/pulumi SECRET_CONFIG_ENV), so a file that leaves them out on purpose validates.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, PROJECT, parseConfig, type WanVaceConfig } from "../infra/config";
import { readStackConfig } from "../infra/offline/render";
import { EXAMPLE_STACK_FILE, SECRET_CONFIG_ENV } from "./pulumi/driver";

export interface StackConfigSource {
  root: string;
  stack: string;
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** The file a stack's config comes from: --config, else Pulumi.<stack>.yaml, else the example. */
export function stackConfigFile(src: StackConfigSource): string {
  const own = `Pulumi.${src.stack}.yaml`;
  return src.configFile ?? (existsSync(join(src.root, own)) ? own : EXAMPLE_STACK_FILE);
}

/** Throws ConfigError listing every problem, each naming its key. */
export function stackConfig(src: StackConfigSource): WanVaceConfig {
  const env = src.env ?? process.env;
  const file = stackConfigFile(src);
  const { raw } = readStackConfig({ stack: src.stack, root: src.root, configFile: file });
  for (const [key, name] of Object.entries(SECRET_CONFIG_ENV)) {
    const value = env[name];
    if (value && raw[`${PROJECT}:${key}`] === undefined && raw[key] === undefined) {
      raw[`${PROJECT}:${key}`] = value;
    }
  }
  const parsed = parseConfig(raw);
  if (!parsed.ok) throw new ConfigError(parsed.errors);
  return parsed.config;
}
