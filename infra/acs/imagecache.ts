/**
 * The optional ACS image cache (`wan-vace:imageCache`): the ComfyUI image kept as an ACS image
 * cache, so that a pod start after the first (a wake, a scale from 0, a replaced pod) mounts the
 * image instead of pulling ~15 GB. Pure decisions, tested without the Pulumi runtime; index.ts
 * wires them, manifests.ts puts the pod side into the Deployment.
 *
 * Sources (shared/reference/acs-facts.md §4 and alicloud-facts.md; docs/acs.md "Image cache"):
 * - ACS, "使用镜像缓存加速ACS Pod启动" (PRICE.source): one image per cache; 20 caches per region
 *   free of storage charges, then 0.18 CNY/GiB/month; 0.00231 CNY/GiB/hour for the whole runtime of
 *   every pod that uses a cache; the size billed is the image's unpacked size. Its "使用镜像缓存"
 *   section: a pod opts in with `image.alibabacloud.com/enable-image-cache: "true"`, is matched to
 *   the newest ready cache whose image name is exactly its own, only with imagePullPolicy Always,
 *   and gets `image.alibabacloud.com/matched-image-caches` on a hit.
 * - ACS, "Automate image cache creation with image-cache-operator": the add-on that turns
 *   ImageCache custom resources into caches; `rbac.secret` lets it read pull Secrets;
 *   `image.alibabacloud.com/cascade-delete-image-cache: "true"` deletes the cloud cache with the CR.
 * - The Kubernetes ImageCache API (Alibaba's ECI page, the only published schema of that CR):
 *   `spec.images`, `spec.imagePullSecrets` as `namespace:name`, `spec.imageCacheSize` 20-32768 GiB
 *   ("at least twice the image"), `spec.retentionDays` 1-65536.
 * UNCONFIRMED without an ACS account (docs/acs.md "Image cache"): the CR's group/version and spec
 * fields on ACS (IMAGE_CACHE_API_VERSION; ECI's schema), the add-on's config as JSON, and the whole
 * "使用镜像缓存" part above (the pod annotation, which acs-facts §4 lists as unconfirmed, the
 * `Always` rule, which ECI's pages contradict by recommending IfNotPresent, and the matched
 * annotation): the copy of that page searchable here holds only its introduction and prices.
 */
import type * as alicloud from "@pulumi/alicloud";
import type * as pulumi from "@pulumi/pulumi";
import type { KeyIssue } from "./settings";

/** The add-on that serves ImageCache CRs (installed by the stack only on a cluster it creates). */
export const IMAGE_CACHE_ADDON = {
  name: "image-cache-operator",
  // `rbac.secret=true`: the operator may read the registry Secret the CR names (acs-facts §4).
  config: { rbac: { secret: true } },
} as const;

/**
 * The add-on on a cluster the stack creates (TF resource_alicloud_cs_kubernetes_addon.go @81c43b6:
 * create installs it, or updates an existing one's config; delete uninstalls it). No version: the
 * current one, as the console installs it. On an existing cluster (`clusterId`) the stack does not
 * manage it: it is cluster-wide, other workloads may use it, and destroy would uninstall it.
 */
export function imageCacheAddonArgs(
  clusterId: pulumi.Input<string>,
): alicloud.cs.KubernetesAddonArgs {
  return {
    clusterId,
    name: IMAGE_CACHE_ADDON.name,
    config: JSON.stringify(IMAGE_CACHE_ADDON.config),
  };
}

/**
 * The ImageCache CR's API. UNCONFIRMED on ACS: this is the group/version of the only published
 * ImageCache schema (ECI's, the same fields the image-cache-operator page describes). If the
 * cluster serves another one, `pulumi up` stops with "no matches for kind ImageCache": nothing is
 * created silently in its place.
 */
export const IMAGE_CACHE_API_VERSION = "eci.alibabacloud.com/v1";
export const IMAGE_CACHE_KIND = "ImageCache";

export const IMAGE_CACHE_ANNOTATIONS = {
  /** On the pod: match a cache by image name. */
  enable: "image.alibabacloud.com/enable-image-cache",
  /** Set by ACS on a pod that hit a cache: `[{"imageCacheId":"imc-…","size":30}]`. */
  matched: "image.alibabacloud.com/matched-image-caches",
  /** On the CR: deleting it deletes the cloud cache (else destroy would leave the cache behind). */
  cascadeDelete: "image.alibabacloud.com/cascade-delete-image-cache",
} as const;

/** Alibaba's published price (CNY, mainland price page; other regions may differ). */
export const IMAGE_CACHE_PRICE = {
  freeCachesPerRegion: 20,
  storageCnyPerGiBMonth: 0.18,
  accelerationCnyPerGiBHour: 0.00231,
  source: "https://help.aliyun.com/zh/cs/user-guide/use-imagecache-to-accelerate-acs-pod-startup",
} as const;

/**
 * The ComfyUI image unpacked, GiB: docs/cold-start.md "Image size" puts it at ~17-20 GB (no image
 * was built here). The upper figure sizes the cache and the price; it is an estimate.
 */
export const IMAGE_UNPACKED_GIB = 20;

/** The CR's `imageCacheSize` bounds (GiB) and rule: at least twice the image. */
export const CACHE_SIZE_GIB = { min: 20, max: 32768 } as const;
export function cacheSizeGiB(unpackedGiB: number = IMAGE_UNPACKED_GIB): number {
  return Math.min(CACHE_SIZE_GIB.max, Math.max(CACHE_SIZE_GIB.min, Math.ceil(2 * unpackedGiB)));
}

/**
 * Days past the ttl the cache outlives a stack nobody destroys: `pulumi destroy` deletes it
 * (cascade), but `vace reap` deleting a lost stack's cluster takes the operator with it, and the
 * cloud cache has no tags the reaper could find. Retention makes such a cache expire on its own.
 * A week covers a stack kept alive by `pulumi up` renewals for that long; past it the pod pulls as
 * if uncached (still within the startup budget, see startupBudgetSeconds) until the cache is remade.
 */
export const RETENTION_MARGIN_DAYS = 7;
export function retentionDays(ttlMinutes: number): number {
  return Math.min(65536, Math.ceil(ttlMinutes / (24 * 60)) + RETENTION_MARGIN_DAYS);
}

const DIGEST = /@sha256:([a-f0-9]{64})$/;

/** The image's sha256 digest (hex), or undefined for a reference pinned by tag only. */
export function imageDigest(ref: string): string | undefined {
  return DIGEST.exec(ref)?.[1];
}

/**
 * The CR's name: cluster-wide, so the stack's namespace name plus the digest's first 12 hex
 * characters. A new digest is a new cache (created before the old one is deleted), never an edit
 * of a cache that holds other bytes.
 */
export function imageCacheName(namespace: string, image: string): string {
  const digest = imageDigest(image);
  if (!digest) throw new Error(`image cache needs a digest-pinned image, got ${image}`);
  return `${namespace}-comfyui-${digest.slice(0, 12)}`;
}

/** Config rule: a cache is matched by exact image name, and a tag can move under it. */
export function imageCacheIssues(image: unknown): KeyIssue[] {
  if (typeof image !== "string" || imageDigest(image) !== undefined) return [];
  return [
    {
      key: "imageCache",
      message: `needs wan-vace:image pinned by digest (…@sha256:<64 hex>): the cache holds exactly one image and a pod uses it only when its image name matches; ${JSON.stringify(image)} is pinned by tag only, and a tag can move`,
    },
  ];
}

/** The probes' period; the budget is a whole number of periods. */
export const STARTUP_PERIOD_SECONDS = 10;
/** Without a cache: the budget the ACS target shipped with, unchanged. */
export const UNCACHED_STARTUP_BUDGET_SECONDS = 30 * 60;

/**
 * What the cached start is sized from (the probe window runs from the containers' start, after
 * the image is local or mounted, to ComfyUI answering):
 * - ComfyUI's process start (imports, custom nodes) from a local disk: 20-40 s (docs/cold-start.md,
 *   estimated); the upper figure.
 * - With a cache, the worst case planned for: the image is a disk made from a snapshot (Alibaba
 *   documents image caches as snapshots) whose blocks load on first read, so the start also reads
 *   what it touches through the cache: at most the non-model part of the image,
 *   ~11 GB (cold-start.md layer table: base 7-9 GB, apt 0.4, Python requirements 1-1.5, source 0.1).
 * - At the slowest transfer rate in acs-facts §4 (a 1.34 GB image pulled in 36 s, ~37 MB/s): the
 *   only published figure; none exists for a cache's first reads.
 * - Twice that sum as margin: every figure above is an estimate until an e2e run measures it.
 */
export const CACHED_START = {
  processSeconds: 40,
  readBytes: 11e9,
  slowestBytesPerSecond: 1.34e9 / 36,
  margin: 2,
} as const;

/**
 * The startup probes' budget. Cached: 2 × (40 s + 11 GB / 37 MB/s) ≈ 671 s, rounded up to whole
 * minutes: 12 minutes instead of 30, so a start that hangs shows in minutes. A cache miss (not
 * ready yet, expired, or the annotation ignored) cannot spend that budget: kubelet pulls the image
 * before the containers start, outside the probe window, and a start from a local disk is the fast
 * case. Uncached: unchanged (30 minutes).
 */
export function startupBudgetSeconds(cached: boolean): number {
  if (!cached) return UNCACHED_STARTUP_BUDGET_SECONDS;
  const s = CACHED_START;
  const seconds = s.margin * (s.processSeconds + s.readBytes / s.slowestBytesPerSecond);
  return Math.ceil(seconds / 60) * 60;
}

/** The startup probe's failureThreshold for that budget. */
export function startupFailureThreshold(cached: boolean): number {
  return startupBudgetSeconds(cached) / STARTUP_PERIOD_SECONDS;
}

/** What the cache costs, CNY, at the estimated unpacked size (IMAGE_CACHE_PRICE). */
export function imageCacheCost(unpackedGiB: number = IMAGE_UNPACKED_GIB) {
  const p = IMAGE_CACHE_PRICE;
  return {
    /** Only once the region holds more than the free caches. */
    storagePerMonth: unpackedGiB * p.storageCnyPerGiBMonth,
    /** Per running pod that uses the cache, for its whole runtime. */
    accelerationPerPodHour: unpackedGiB * p.accelerationCnyPerGiBHour,
  };
}

export interface ImageCacheObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: {
    images: string[];
    imagePullSecrets?: string[];
    imageCacheSize: number;
    retentionDays: number;
  };
}

export interface ImageCacheInputs {
  /** The stack's namespace (its name prefixes the cluster-wide CR's). */
  namespace: string;
  labels: Record<string, string>;
  /** Digest-pinned; exactly the pod's image string, so the pod's name matches. */
  image: string;
  /** The namespace's dockerconfigjson Secret, when the registry needs credentials. */
  pullSecret?: string;
  ttlMinutes: number;
  /** project/stack/owner (naming.ts standardTags) without expires-at, which changes every deploy. */
  tags: Record<string, string>;
}

/** The ImageCache custom resource: a reference to the pull Secret, never the credentials. */
export function imageCacheObject(i: ImageCacheInputs): ImageCacheObject {
  return {
    apiVersion: IMAGE_CACHE_API_VERSION,
    kind: IMAGE_CACHE_KIND,
    metadata: {
      name: imageCacheName(i.namespace, i.image),
      labels: i.labels,
      annotations: {
        [IMAGE_CACHE_ANNOTATIONS.cascadeDelete]: "true",
        ...Object.fromEntries(Object.entries(i.tags).map(([k, v]) => [`wan-vace/${k}`, v])),
      },
    },
    spec: {
      images: [i.image],
      ...(i.pullSecret !== undefined && { imagePullSecrets: [`${i.namespace}:${i.pullSecret}`] }),
      imageCacheSize: cacheSizeGiB(),
      retentionDays: retentionDays(i.ttlMinutes),
    },
  };
}
