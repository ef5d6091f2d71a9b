/**
 * `vace render`: run the real program offline under mocks and report what it would create
 * (design.md contract 2). Lookups that need the cloud come back as `<lookup:…>` placeholders and
 * provider-computed values as `<computed at deploy>`, so a reviewer can tell them from config.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { gatewayCaddyfile, gatewayEnv } from "../common/gateway";
import {
  assertTargetBuilt,
  ConfigError,
  type ConfigIssue,
  loadConfig,
  PROJECT,
  SECRET_KEYS,
} from "../config";
import { decodeUserData } from "../ecs/boot";
import {
  COMPUTED_OUTPUTS,
  createMocks,
  INVOKES,
  type InvokeTable,
  redactSecrets,
  waitForRegistrations,
} from "./mocks";

export const PLACEHOLDER_COMPUTED = "<computed at deploy>";
/** The per-stack name suffix goes into names that must stay valid, so it gets a name-safe stand-in. */
export const PLACEHOLDER_NAME_SUFFIX = "xxxxxx";
const PLACEHOLDER_BY_TYPE: Record<string, string> = {
  "random:index/randomString:RandomString": PLACEHOLDER_NAME_SUFFIX,
};

/** Cloud lookups answered with clearly marked placeholders. */
export const placeholderInvokes: InvokeTable = {
  [INVOKES.instanceTypes]: (inputs) => ({
    id: "offline",
    ids: [inputs.instanceType],
    instanceTypes: [
      {
        id: inputs.instanceType,
        family: String(inputs.instanceType).split("-")[0],
        availabilityZones: ["<lookup:zone>"],
        price: "",
        cpuCoreCount: 0,
        memorySize: 0,
        gpu: { amount: "<lookup>", category: "<lookup>" },
      },
    ],
  }),
  [INVOKES.images]: (inputs) => ({
    id: "offline",
    ids: [`<lookup:image ${String(inputs.nameRegex)}>`],
    images: [{ id: `<lookup:image ${String(inputs.nameRegex)}>`, name: "<lookup>" }],
  }),
  // Render shows a first deploy: no running instance to keep.
  [INVOKES.instances]: () => ({ id: "offline", ids: [], names: [], instances: [] }),
  [INVOKES.callerIdentity]: () => ({
    id: "offline",
    accountId: "<lookup:account-id>",
    arn: "<lookup:arn>",
    identityType: "<lookup>",
    principalId: "<lookup>",
  }),
};

export const PLACEHOLDER_NOTES = [
  "<lookup:zone>: chosen at deploy, the first allowed zone where the instance type is in stock",
  "instanceType: shown as the first preference; at deploy it is the first of wan-vace:instanceTypes in stock",
  "<lookup:image …>: the newest public image matching wan-vace:osImageNameRegex, found at deploy",
  "<lookup:account-id>: the deploying account, found at deploy",
  `${PLACEHOLDER_COMPUTED}: generated or assigned by the cloud during deploy (EIP address, token, certificate)`,
  "<computed id of …>: the cloud resource id, assigned at deploy",
  `${PLACEHOLDER_NAME_SUFFIX} in account-wide names (RAM role and policy, secret parameter): a random suffix made at the first deploy and kept`,
];

export interface StackSource {
  stack: string;
  /** A YAML file shaped like Pulumi.<stack>.yaml; defaults to Pulumi.<stack>.yaml in `root`. */
  configFile?: string;
  root: string;
}

export interface RenderedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export interface RenderResult {
  target: string;
  resources: RenderedResource[];
  userData?: string;
  manifests?: unknown[];
  gateway: { image: string; env: Record<string, string>; caddyfile: string };
  outputs: Record<string, unknown>;
  placeholders: string[];
  warnings: ConfigIssue[];
}

/** A value that passes validation wherever a `secure:` value stands (render cannot decrypt). */
const SECRET_STANDIN = "offline-render-secret-standin-0123456789abcdef";

/**
 * Reads a stack file's `config:` into raw key/value pairs. Encrypted values of secret keys become
 * a stand-in (they print as "[secret]"); encrypted values of other keys cannot be rendered.
 */
export function readStackConfig(src: StackSource): {
  raw: Record<string, unknown>;
  secretKeys: string[];
} {
  const file = resolve(src.root, src.configFile ?? `Pulumi.${src.stack}.yaml`);
  const source = src.configFile !== undefined ? "--config" : "--stack";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([
      { key: source, message: `cannot read ${file}: ${(e as Error).message}` },
    ]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError([
      { key: source, message: `${file} is not valid YAML: ${(e as Error).message}` },
    ]);
  }
  const config = (doc as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError([
      { key: source, message: `${file}: "config" must be a mapping of keys to values` },
    ]);
  }
  const raw: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  const errors: ConfigIssue[] = [];
  for (const [key, value] of Object.entries(config)) {
    const isSecure = typeof value === "object" && value !== null && "secure" in value;
    if (!isSecure) {
      raw[key] = value;
      continue;
    }
    const bare = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;
    if ((SECRET_KEYS as readonly string[]).includes(bare)) {
      raw[key] = SECRET_STANDIN;
      secretKeys.push(key);
    } else {
      errors.push({
        key,
        message:
          "is encrypted, and only wan-vace:token and wan-vace:registryPassword are expected to be secrets; render cannot decrypt it",
      });
    }
  }
  if (errors.length) throw new ConfigError(errors);
  return { raw, secretKeys };
}

async function resolveExport(v: unknown): Promise<unknown> {
  if (!pulumi.Output.isInstance(v)) return v;
  const out = v as pulumi.Output<unknown>;
  const [value, secret] = await Promise.all([
    new Promise((r) => out.apply(r)),
    pulumi.isSecret(out),
  ]);
  return secret ? "[secret]" : value;
}

function readableUserData(v: unknown): string | undefined {
  return typeof v === "string" ? decodeUserData(v) : undefined;
}

/**
 * Runs the program at `root` offline. Config problems throw ConfigError (every problem, each
 * naming its key) before any resource is registered.
 */
export async function renderStack(src: StackSource): Promise<RenderResult> {
  const { raw, secretKeys } = readStackConfig(src);
  const { config, warnings } = loadConfig(raw);
  assertTargetBuilt(config);

  const computed = (r: { type: string }) =>
    Object.fromEntries(
      (COMPUTED_OUTPUTS[r.type] ?? []).map((k) => [
        k,
        PLACEHOLDER_BY_TYPE[r.type] ?? PLACEHOLDER_COMPUTED,
      ]),
    );
  const { mocks, record } = createMocks(
    placeholderInvokes,
    computed,
    (name) => `<computed id of ${name}>`,
  );
  await pulumi.runtime.setMocks(mocks, PROJECT, src.stack, false);
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(raw).map(([k, v]) => [
        k.includes(":") ? k : `${PROJECT}:${k}`,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    ),
    secretKeys,
  );

  // The program registers its resources as a side effect of loading.
  // import(), not require(): it goes through the TypeScript loader both under tsx and vitest.
  const mod = (await import(join(resolve(src.root), "index.ts"))) as Record<string, unknown>;
  // Loaded as CommonJS, the exports sit on `default`; loaded as ESM, on the namespace.
  const program = (
    typeof mod.default === "object" && mod.default !== null ? mod.default : mod
  ) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(program)) outputs[k] = await resolveExport(v);
  await waitForRegistrations(record);

  const resources = record.resources.map((r) => ({
    type: r.type,
    name: r.name,
    inputs: redactSecrets(r.inputs) as Record<string, unknown>,
  }));
  const instance = resources.find((r) => r.type === "alicloud:ecs/instance:Instance");
  const userData = readableUserData(instance?.inputs.userData);
  return {
    target: config.target,
    resources,
    ...(userData !== undefined && { userData }),
    gateway: {
      image: config.gatewayImage,
      env: { VACE_TOKEN: "[secret]", ...gatewayEnv(config) },
      caddyfile: gatewayCaddyfile(),
    },
    outputs,
    placeholders: PLACEHOLDER_NOTES,
    warnings,
  };
}
