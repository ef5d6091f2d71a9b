/**
 * The ACS target's configuration keys and rules (acs-facts §3). infra/config.ts merges the shape
 * into the one stack schema and runs the rules with its own; nothing here imports config.ts, so
 * the two stay free of import cycles.
 */
import { z } from "zod";
import { imageCacheIssues } from "./imagecache";

/** What a GPU series allows for a one-GPU pod (acs-facts §3 "Sizes for one GPU"). */
export interface GpuSeries {
  /** The card behind the label value. */
  card: string;
  cpu: { min: number; max: number };
  /** GiB; the pod's memory may not exceed either bound. */
  memoryMaxGiB: number;
  memoryPerCpuMaxGiB?: number;
  ephemeralStorageGiB: { min: number; max: number };
  /** Alibaba documents this series as needing a whitelist ticket (acs-facts §3, CN1). */
  whitelistOnly: boolean;
  /** False: Alibaba publishes no one-GPU size table; the L20 bounds are applied as a floor. */
  sizesPublished: boolean;
}

const L20_SIZES = {
  cpu: { min: 2, max: 16 },
  memoryMaxGiB: 128,
  memoryPerCpuMaxGiB: 8,
  ephemeralStorageGiB: { min: 30, max: 256 },
};

/**
 * The `alibabacloud.com/gpu-model-series` values ACS lists. Which of them an account may use
 * without a ticket is not published (UNCONFIRMED in acs-facts); the L20's label value is documented
 * both as `L20` and as its instance family `GN8IS`, so both are accepted.
 */
export const GPU_SERIES: Readonly<Record<string, GpuSeries>> = {
  L20: { card: "NVIDIA L20 48 GB", ...L20_SIZES, whitelistOnly: false, sizesPublished: true },
  GN8IS: { card: "NVIDIA L20 48 GB", ...L20_SIZES, whitelistOnly: false, sizesPublished: true },
  A10: {
    card: "NVIDIA A10 24 GB",
    cpu: { min: 2, max: 16 },
    memoryMaxGiB: 60,
    ephemeralStorageGiB: { min: 30, max: 256 },
    whitelistOnly: false,
    sizesPublished: true,
  },
  T4: {
    card: "NVIDIA T4 16 GB",
    cpu: { min: 2, max: 24 },
    memoryMaxGiB: 64,
    ephemeralStorageGiB: { min: 30, max: 1536 },
    whitelistOnly: false,
    sizesPublished: true,
  },
  L20X: { card: "L20X (GX8SF)", ...L20_SIZES, whitelistOnly: false, sizesPublished: false },
  GU8TF: { card: "H20 (GU8TF)", ...L20_SIZES, whitelistOnly: true, sizesPublished: false },
  GU8TEF: { card: "GU8TEF", ...L20_SIZES, whitelistOnly: false, sizesPublished: false },
  P16EN: { card: "PPU810E (P16EN)", ...L20_SIZES, whitelistOnly: true, sizesPublished: false },
  G49E: { card: "G49E", ...L20_SIZES, whitelistOnly: false, sizesPublished: false },
  G59: { card: "G59", ...L20_SIZES, whitelistOnly: false, sizesPublished: false },
};

/** Each replica is a billed GPU: a typo such as 40 must not start forty of them. */
export const MAX_REPLICAS = 4;
/** The text encoder (6.7 GB) and the VACE weights are read through host memory at load. */
export const MIN_POD_MEMORY_GIB = 16;
/** An ACK cluster takes 1-5 zones (TF `zone_ids`/`vswitch_ids` MaxItems 5). */
export const MAX_CLUSTER_ZONES = 5;

export const ACS_DEFAULTS = {
  gpuModelSeries: "L20",
  replicas: 1,
  podCpu: 8,
  podMemory: 32,
  /** GiB. The image (~15 GB) takes about twice its size there, plus inputs and outputs. */
  ephemeralStorage: 60,
  /** Off: an image cache has a price (docs/acs.md "Image cache") and an add-on to install. */
  imageCache: false,
} as const;

/** Keys that mean something on one target only; setting one on the other target is an error. */
export const ECS_ONLY_KEYS = [
  "instanceTypes",
  "sshCidrs",
  "keyPairName",
  "spot",
  "systemDiskSize",
  "eipBandwidth",
  "driver",
  "driverBranch",
  "driverScriptUnverified",
  "cudaVersion",
  "cudnnVersion",
  "driverScriptSha256",
  "imageId",
  "osImageNameRegex",
  "priceLookup",
] as const;
export const ACS_ONLY_KEYS = [
  "clusterId",
  "gpuModelSeries",
  "replicas",
  "podCpu",
  "podMemory",
  "ephemeralStorage",
  "imageCache",
] as const;

export interface AcsConfig {
  /** Deploy into this existing ACS cluster; undefined: the stack creates one. */
  clusterId?: string;
  gpuModelSeries: string;
  /** 0 means parked: nothing bills for the GPU. */
  replicas: number;
  podCpu: number;
  podMemoryGiB: number;
  ephemeralStorageGiB: number;
  /** The `alibabacloud.com/gpu-driver-version` label (the shared `driverVersion` key). */
  driverVersion: string;
  /** Keep the ComfyUI image in an ACS image cache (infra/acs/imagecache.ts). */
  imageCache: boolean;
}

/** ACK cluster ids: `c` and 32 lower-case hex characters. */
const CLUSTER_ID = /^c[0-9a-f]{32}$/;

/** The ACS keys' zod fields; `int` and `bool` are config.ts's string-tolerant parsers. */
export function acsShape(
  int: (min: number, max: number) => z.ZodType<number>,
  bool: z.ZodType<boolean>,
) {
  return {
    clusterId: z
      .string()
      .regex(CLUSTER_ID, {
        error: (i) =>
          `${JSON.stringify(i.input)} is not an ACS cluster id (c followed by 32 hex characters, as the console and \`aliyun cs DescribeClustersV1\` show)`,
      })
      .optional(),
    gpuModelSeries: z
      .string()
      .refine((s) => Object.hasOwn(GPU_SERIES, s), {
        error: (i) =>
          `unknown GPU series ${JSON.stringify(i.input)}; ACS lists ${Object.keys(GPU_SERIES).join(", ")}`,
      })
      .default(ACS_DEFAULTS.gpuModelSeries),
    replicas: int(0, MAX_REPLICAS).default(ACS_DEFAULTS.replicas),
    podCpu: int(2, 24).default(ACS_DEFAULTS.podCpu),
    podMemory: int(MIN_POD_MEMORY_GIB, 128).default(ACS_DEFAULTS.podMemory),
    ephemeralStorage: int(30, 1536).default(ACS_DEFAULTS.ephemeralStorage),
    imageCache: bool.default(ACS_DEFAULTS.imageCache),
  };
}

export interface KeyIssue {
  /** Bare key, without the project prefix. */
  key: string;
  message: string;
}

/**
 * Keys set for the other target. `isSet` says whether a key differs from its default: Pulumi fills
 * Pulumi.yaml's declared defaults into every stack, so "equal to the default" must count as unset.
 */
export function wrongTargetKeys(target: unknown, isSet: (key: string) => boolean): KeyIssue[] {
  const acs = target === "acs";
  const keys: readonly string[] = acs ? ECS_ONLY_KEYS : ACS_ONLY_KEYS;
  return keys.filter(isSet).map((key) => ({
    key,
    message: acs
      ? `is an ECS setting and means nothing with target "acs"; remove it (see docs/acs.md for the ACS keys)`
      : `is an ACS setting and means nothing with target "${String(target ?? "ecs")}"; remove it or set target: acs`,
  }));
}

const asInt = (v: unknown): number | undefined => {
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) ? n : undefined;
};

/**
 * Rules between ACS keys, on raw values (single-key problems are reported by the schema; a rule
 * whose inputs are invalid stays quiet). Only called with target "acs".
 */
export function acsIssues(v: Record<string, unknown>, zones: unknown[], cidrs: unknown[]) {
  const errors: KeyIssue[] = [];
  const warnings: KeyIssue[] = [];
  const seriesName = String(v.gpuModelSeries ?? ACS_DEFAULTS.gpuModelSeries);
  const series = GPU_SERIES[seriesName];
  const cpu = asInt(v.podCpu ?? ACS_DEFAULTS.podCpu);
  const memory = asInt(v.podMemory ?? ACS_DEFAULTS.podMemory);
  const storage = asInt(v.ephemeralStorage ?? ACS_DEFAULTS.ephemeralStorage);
  if (series) {
    const range = `for a one-GPU ${seriesName} pod (${series.card})`;
    if (cpu !== undefined && (cpu < series.cpu.min || cpu > series.cpu.max))
      errors.push({
        key: "podCpu",
        message: `must be ${series.cpu.min}-${series.cpu.max} vCPU ${range}, got ${cpu}`,
      });
    if (memory !== undefined && memory > series.memoryMaxGiB)
      errors.push({
        key: "podMemory",
        message: `must be at most ${series.memoryMaxGiB} GiB ${range}, got ${memory}`,
      });
    if (
      memory !== undefined &&
      cpu !== undefined &&
      series.memoryPerCpuMaxGiB !== undefined &&
      memory > cpu * series.memoryPerCpuMaxGiB
    )
      errors.push({
        key: "podMemory",
        message: `must be at most ${series.memoryPerCpuMaxGiB} GiB per vCPU ${range} (${cpu * series.memoryPerCpuMaxGiB} GiB with podCpu ${cpu}), got ${memory}`,
      });
    if (
      storage !== undefined &&
      (storage < series.ephemeralStorageGiB.min || storage > series.ephemeralStorageGiB.max)
    )
      errors.push({
        key: "ephemeralStorage",
        message: `must be ${series.ephemeralStorageGiB.min}-${series.ephemeralStorageGiB.max} GiB ${range}, got ${storage}`,
      });
    if (series.whitelistOnly)
      warnings.push({
        key: "gpuModelSeries",
        message: `${seriesName} needs a whitelist ticket; until Alibaba grants it, the pod stays Pending with FeatureGetNoPermission (docs/acs.md)`,
      });
    if (!series.sizesPublished)
      warnings.push({
        key: "gpuModelSeries",
        message: `Alibaba publishes no one-GPU size table for ${seriesName}; the L20 bounds were applied, and ACS may still refuse the size`,
      });
  }
  if (v.clusterId === undefined) {
    if (zones.length === 0)
      errors.push({
        key: "zones",
        message: `is required with target "acs" and no clusterId: the 1-${MAX_CLUSTER_ZONES} zones for the new cluster's vSwitches (zones where ACS offers your GPU series)`,
      });
    if (zones.length > MAX_CLUSTER_ZONES)
      errors.push({
        key: "zones",
        message: `an ACS cluster takes at most ${MAX_CLUSTER_ZONES} zones, got ${zones.length}`,
      });
  } else if (zones.length > 0) {
    errors.push({
      key: "zones",
      message:
        "is only used when the stack creates the cluster; with clusterId the cluster's own vSwitches decide",
    });
  }
  const open = cidrs.some((c) => c === "0.0.0.0/0");
  if ((v.tls ?? "selfsigned") === "acme" && !open)
    errors.push({
      key: "allowedCidrs",
      message:
        'tls "acme" on ACS needs the load balancer open to the CA (0.0.0.0/0): its access list covers every listener and ACME validation servers have no published addresses; keep allowedCidrs narrow with tls selfsigned',
    });
  if (v.imageCache === true || v.imageCache === "true") errors.push(...imageCacheIssues(v.image));
  const replicas = asInt(v.replicas ?? ACS_DEFAULTS.replicas);
  const idle = asInt(v.idleStopMinutes ?? 30);
  if (replicas !== undefined && replicas > 1 && idle !== undefined && idle > 0)
    warnings.push({
      key: "idleStopMinutes",
      message: `idle scale-down acts only with replicas 0 or 1 (each pod sees only its own traffic); with replicas ${replicas} only the ttl scales the Deployment to 0`,
    });
  return { errors, warnings };
}
