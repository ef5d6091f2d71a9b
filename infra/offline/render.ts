/**
 * `vace render`: run the real program offline under mocks and report what it would create
 * (design.md contract 2). Lookups that need the cloud come back as `<lookup:…>` placeholders and
 * provider-computed values as `<computed at deploy>`, so a reviewer can tell them from config.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { gatewayEnvAcs } from "../acs/manifests";
import { BAKED_TAG, digestOf } from "../bake/tags";
import { gatewayCaddyfile, gatewayEnv } from "../common/gateway";
import { stackNameIssues } from "../common/naming";
import {
  ConfigError,
  type ConfigIssue,
  loadConfig,
  PROJECT,
  SECRET_KEYS,
  type WanVaceConfig,
} from "../config";
import { decodeUserData, HOST_PINS } from "../ecs/boot";
import {
  COMPUTED_OUTPUTS,
  createMocks,
  INVOKES,
  type InvokeTable,
  imageRecord,
  isSecretMarker,
  redactSecrets,
  waitForRegistrations,
} from "./mocks";

export const PLACEHOLDER_COMPUTED = "<computed at deploy>";
/** The per-stack name suffix goes into names that must stay valid, so it gets a name-safe stand-in. */
export const PLACEHOLDER_NAME_SUFFIX = "xxxxxx";
const PLACEHOLDER_BY_TYPE: Record<string, string> = {
  "random:index/randomString:RandomString": PLACEHOLDER_NAME_SUFFIX,
};

export const PLACEHOLDER_ZONE = "<lookup:zone>";

/**
 * Cloud lookups answered offline with what a deploy of this config could get: every preferred
 * type in stock in the zones the config asks for (so render shows the first preference in the
 * first allowed zone), or in a marked placeholder zone when it asks for none. Everything else the
 * cloud decides is a clearly marked placeholder.
 */
export function offlineInvokes(
  config: Pick<WanVaceConfig, "zones" | "image" | "gatewayImage" | "driver">,
): InvokeTable {
  const zones = config.zones.length > 0 ? [...config.zones] : [PLACEHOLDER_ZONE];
  return {
    [INVOKES.instanceTypes]: (inputs) => ({
      id: "offline",
      ids: [inputs.instanceType],
      instanceTypes: [
        {
          id: inputs.instanceType,
          family: String(inputs.instanceType).split("-")[0],
          availabilityZones: zones,
          price: "",
          cpuCoreCount: 0,
          memorySize: 0,
          gpu: { amount: "<lookup>", category: "<lookup>" },
        },
      ],
    }),
    [INVOKES.images]: (inputs) =>
      // wan-vace:bakedImageId: render assumes the baked image holds the configured digests.
      inputs.imageId !== undefined
        ? {
            id: "offline",
            ids: [inputs.imageId],
            images: [
              imageRecord({
                id: String(inputs.imageId),
                name: "<lookup>",
                ownerAlias: "self",
                tags: bakedImageTagsFor(config),
              }),
            ],
          }
        : {
            id: "offline",
            ids: [`<lookup:image ${String(inputs.nameRegex)}>`],
            images: [{ id: `<lookup:image ${String(inputs.nameRegex)}>`, name: "<lookup>" }],
          },
    // Render shows a first deploy: no running instance to keep.
    [INVOKES.instances]: () => ({ id: "offline", ids: [], names: [], instances: [] }),
    // Render shows objects, never a cluster's credential.
    [INVOKES.clusterCredential]: (inputs) => ({
      id: "offline",
      clusterId: inputs.clusterId,
      clusterName: "<lookup>",
      kubeConfig: "<lookup:kubeconfig>",
      expiration: "<lookup>",
      certificateAuthority: {},
    }),
    [INVOKES.callerIdentity]: () => ({
      id: "offline",
      accountId: "<lookup:account-id>",
      arn: "<lookup:arn>",
      identityType: "<lookup>",
      principalId: "<lookup>",
    }),
  };
}

/** Tags of a baked image that holds what this config and code would install (render's assumption). */
function bakedImageTagsFor(c: Pick<WanVaceConfig, "image" | "gatewayImage" | "driver">) {
  const tags: Record<string, string> = {
    [BAKED_TAG.docker]: HOST_PINS.dockerVersion.replace(/^\d+:/, "").replace(/-.*$/, ""),
    [BAKED_TAG.toolkit]: HOST_PINS.nvidiaToolkitVersion,
  };
  if (c.driver.mode === "apt") tags[BAKED_TAG.driver] = `${c.driver.branch}.0`;
  if (c.driver.mode === "auto-install") tags[BAKED_TAG.driver] = c.driver.driverVersion;
  const comfyui = digestOf(c.image);
  const gateway = digestOf(c.gatewayImage);
  if (comfyui) tags[BAKED_TAG.comfyuiDigest] = comfyui;
  if (gateway) tags[BAKED_TAG.gatewayDigest] = gateway;
  return tags;
}

export const PLACEHOLDER_NOTES = [
  `${PLACEHOLDER_ZONE}: chosen at deploy, the first zone where the instance type is in stock (with wan-vace:zones set, render shows the first of them)`,
  "instanceType: shown as the first preference; at deploy it is the first of wan-vace:instanceTypes in stock",
  "<lookup:image …>: the newest public image matching wan-vace:osImageNameRegex, found at deploy",
  "<lookup:account-id>: the deploying account, found at deploy",
  "wan-vace:bakedImageId: render assumes the image exists and holds the configured image digests and what this code installs; preview checks its tags and warns for each image the boot will pull",
  `${PLACEHOLDER_COMPUTED}: generated or assigned by the cloud during deploy (EIP address, token, certificate)`,
  "<computed id of …>: the cloud resource id, assigned at deploy",
  "<lookup:kubeconfig>: the ACS cluster's credential, fetched at deploy (a secret; never rendered)",
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
  const misplaced = Object.keys(
    typeof doc === "object" && doc !== null && !Array.isArray(doc) ? doc : {},
  ).filter((k) => k.startsWith(`${PROJECT}:`) || k.startsWith("alicloud:"));
  if (misplaced.length > 0) {
    throw new ConfigError(
      misplaced.map((key) => ({
        key,
        message: `is at the top level of ${file}; indent it under "config:" (Pulumi reads stack settings only from there)`,
      })),
    );
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

/**
 * Runs the program, turning an error raised inside it into a ConfigError that names the program:
 * render answers 0 or 2, never a stack trace. An Output's apply runs detached, so its error also
 * arrives as unhandled rejections (one per dependent Output); after a failure those are expected
 * and stay caught until the process ends.
 */
async function failOnProgramError<T>(run: () => Promise<T>): Promise<T> {
  const asConfigError = (e: unknown) =>
    e instanceof ConfigError
      ? e
      : new ConfigError([
          {
            key: "program",
            message: `the program failed offline: ${e instanceof Error ? e.message : String(e)}`,
          },
        ]);
  let onError: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onError = (e) => reject(asConfigError(e));
  });
  process.on("unhandledRejection", onError);
  try {
    const result = await Promise.race([run(), failed]);
    process.off("unhandledRejection", onError);
    return result;
  } catch (e) {
    throw asConfigError(e);
  }
}

/**
 * A Kubernetes Secret's `data`/`stringData` is one secret as a whole; render shows its keys, each
 * value "[secret]", so a reviewer sees what the Secret holds and the object stays schema-valid.
 */
function secretKeysShown(inputs: Record<string, unknown>): Record<string, unknown> {
  if (inputs.kind !== "Secret") return inputs;
  const shown = { ...inputs };
  for (const field of ["data", "stringData"]) {
    const v = inputs[field];
    if (isSecretMarker(v) && typeof v.value === "object" && v.value !== null)
      shown[field] = Object.fromEntries(Object.keys(v.value).map((k) => [k, "[secret]"]));
  }
  return shown;
}

/** A Kubernetes object from its recorded inputs: apiVersion and kind first, engine-only keys dropped. */
function manifestOf(inputs: Record<string, unknown>): Record<string, unknown> {
  const { apiVersion, kind, ...rest } = inputs;
  return Object.fromEntries(
    Object.entries({ apiVersion, kind, ...rest }).filter(([, v]) => v !== undefined),
  );
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
  const stackIssues = stackNameIssues(src.stack);
  if (stackIssues.length) throw new ConfigError(stackIssues);

  const computed = (r: { type: string }) =>
    Object.fromEntries(
      (COMPUTED_OUTPUTS[r.type] ?? []).map((k) => [
        k,
        PLACEHOLDER_BY_TYPE[r.type] ?? PLACEHOLDER_COMPUTED,
      ]),
    );
  const { mocks, record } = createMocks(
    offlineInvokes(config),
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

  const outputs = await failOnProgramError(async () => {
    // The program registers its resources as a side effect of loading.
    // import(), not require(): it goes through the TypeScript loader both under tsx and vitest.
    const mod = (await import(join(resolve(src.root), "index.ts"))) as Record<string, unknown>;
    // Loaded as CommonJS, the exports sit on `default`; loaded as ESM, on the namespace.
    const program = (
      typeof mod.default === "object" && mod.default !== null ? mod.default : mod
    ) as Record<string, unknown>;
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(program)) resolved[k] = await resolveExport(v);
    await waitForRegistrations(record);
    return resolved;
  });

  const resources = record.resources.map((r) => ({
    type: r.type,
    name: r.name,
    inputs: redactSecrets(secretKeysShown(r.inputs)) as Record<string, unknown>,
  }));
  const instance = resources.find((r) => r.type === "alicloud:ecs/instance:Instance");
  const userData = readableUserData(instance?.inputs.userData);
  // Kubernetes objects are rendered as the plain objects they are (design.md contract 8).
  const isManifest = (r: RenderedResource) => r.type.startsWith("kubernetes:");
  const manifests = resources.filter(isManifest).map((r) => manifestOf(r.inputs));
  return {
    target: config.target,
    resources: resources.filter((r) => !isManifest(r)),
    ...(userData !== undefined && { userData }),
    ...(config.target === "acs" && { manifests }),
    gateway: {
      image: config.gatewayImage,
      env: {
        VACE_TOKEN: "[secret]",
        ...(config.target === "acs" ? gatewayEnvAcs(config.tls) : gatewayEnv(config)),
      },
      caddyfile: gatewayCaddyfile(),
    },
    outputs,
    placeholders: PLACEHOLDER_NOTES,
    warnings,
  };
}
