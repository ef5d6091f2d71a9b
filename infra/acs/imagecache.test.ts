/** The image cache's decisions, without the Pulumi runtime (imagecache.ts). */
import { describe, expect, it } from "vitest";
import {
  CACHED_START,
  cacheSizeGiB,
  IMAGE_CACHE_ADDON,
  IMAGE_CACHE_PRICE,
  imageCacheAddonArgs,
  imageCacheCost,
  imageCacheIssues,
  imageCacheName,
  imageCacheObject,
  imageDigest,
  retentionDays,
  startupBudgetSeconds,
  startupFailureThreshold,
} from "./imagecache";

const DIGEST = "3c".repeat(32);
const IMAGE = `registry-vpc.cn-hangzhou.aliyuncs.com/team/comfyui:0.2.0@sha256:${DIGEST}`;

describe("startup budget", () => {
  it("uncached: the 30 minutes the target shipped with", () => {
    expect(startupBudgetSeconds(false)).toBe(30 * 60);
    expect(startupFailureThreshold(false)).toBe(180);
  });

  it("cached: 2 × (40 s start + 11 GB at the slowest published rate), in whole minutes: 12 min", () => {
    const raw =
      CACHED_START.margin *
      (CACHED_START.processSeconds + CACHED_START.readBytes / CACHED_START.slowestBytesPerSecond);
    expect(raw).toBeCloseTo(671, 0);
    expect(startupBudgetSeconds(true)).toBe(12 * 60);
    expect(startupFailureThreshold(true)).toBe(72);
    // Still above the 3-minute goal with the margin, and well under the uncached budget.
    expect(startupBudgetSeconds(true)).toBeGreaterThanOrEqual(2 * 3 * 60);
    expect(startupBudgetSeconds(true)).toBeLessThan(startupBudgetSeconds(false));
  });
});

describe("cache size, retention, name", () => {
  it("sizes at twice the unpacked image, within the CR's 20-32768 GiB", () => {
    expect(cacheSizeGiB()).toBe(40);
    expect(cacheSizeGiB(4)).toBe(20);
    expect(cacheSizeGiB(17.2)).toBe(35);
    expect(cacheSizeGiB(20_000)).toBe(32768);
  });

  it("keeps the cache the ttl plus a week, in whole days", () => {
    expect(retentionDays(240)).toBe(8);
    expect(retentionDays(24 * 60)).toBe(8);
    expect(retentionDays(24 * 60 + 1)).toBe(9);
    expect(retentionDays(7 * 24 * 60)).toBe(14);
  });

  it("names the cluster-wide CR after the namespace and the digest; refuses a tag-only image", () => {
    expect(imageDigest(IMAGE)).toBe(DIGEST);
    expect(imageDigest("registry-vpc.cn-hangzhou.aliyuncs.com/team/comfyui:0.2.0")).toBeUndefined();
    expect(imageCacheName("vace-dev", IMAGE)).toBe("vace-dev-comfyui-3c3c3c3c3c3c");
    expect(() => imageCacheName("vace-dev", "x/comfyui:1")).toThrow(/digest-pinned/);
  });

  it("config rule: quiet for a digest (or a value the schema already refuses), names the key otherwise", () => {
    expect(imageCacheIssues(IMAGE)).toEqual([]);
    expect(imageCacheIssues(undefined)).toEqual([]);
    expect(imageCacheIssues("x/comfyui:1")).toEqual([
      { key: "imageCache", message: expect.stringMatching(/pinned by digest/) },
    ]);
  });
});

describe("the CR and the add-on", () => {
  it("holds one image by digest and a Secret reference; cascade-delete; tags as annotations", () => {
    const o = imageCacheObject({
      namespace: "vace-dev",
      labels: { "app.kubernetes.io/name": "wan-vace" },
      image: IMAGE,
      pullSecret: "vace-registry",
      ttlMinutes: 240,
      tags: { project: "wan-vace", stack: "dev", owner: "team" },
    });
    expect(o).toEqual({
      apiVersion: "eci.alibabacloud.com/v1",
      kind: "ImageCache",
      metadata: {
        name: "vace-dev-comfyui-3c3c3c3c3c3c",
        labels: { "app.kubernetes.io/name": "wan-vace" },
        annotations: {
          "image.alibabacloud.com/cascade-delete-image-cache": "true",
          "wan-vace/project": "wan-vace",
          "wan-vace/stack": "dev",
          "wan-vace/owner": "team",
        },
      },
      spec: {
        images: [IMAGE],
        imagePullSecrets: ["vace-dev:vace-registry"],
        imageCacheSize: 40,
        retentionDays: 8,
      },
    });
    // A public image: no pull Secret at all.
    const { spec } = imageCacheObject({
      namespace: "vace-dev",
      labels: {},
      image: IMAGE,
      ttlMinutes: 240,
      tags: {},
    });
    expect(spec.imagePullSecrets).toBeUndefined();
  });

  it("installs image-cache-operator with rbac.secret so it may read the pull Secret", () => {
    expect(imageCacheAddonArgs("c-1")).toEqual({
      clusterId: "c-1",
      name: "image-cache-operator",
      config: '{"rbac":{"secret":true}}',
    });
    expect(IMAGE_CACHE_ADDON.config.rbac.secret).toBe(true);
  });
});

describe("cost", () => {
  it("prices ~20 GiB unpacked at Alibaba's published rates", () => {
    expect(IMAGE_CACHE_PRICE).toMatchObject({
      freeCachesPerRegion: 20,
      storageCnyPerGiBMonth: 0.18,
      accelerationCnyPerGiBHour: 0.00231,
    });
    const c = imageCacheCost();
    expect(c.storagePerMonth).toBeCloseTo(3.6, 6);
    expect(c.accelerationPerPodHour).toBeCloseTo(0.0462, 6);
    // A pod kept up 8 hours a day for a month: ~11 CNY of acceleration.
    expect(c.accelerationPerPodHour * 8 * 30).toBeCloseTo(11.09, 1);
  });
});
