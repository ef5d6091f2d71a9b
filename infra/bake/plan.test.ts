/** The bake's pure decisions: the builder's release time, the image's name and tags, drift. */
import { describe, expect, it } from "vitest";
import { BAKE_CONTENTS, DIGEST_A, expectedBakedTags, REPO } from "../../test/bake";
import {
  BAKE_TTL_MINUTES,
  BAKED_TAG,
  bakedImageDrift,
  bakedImageName,
  bakedImageTags,
  builderReleaseTime,
} from ".";
import { digestOf } from "./tags";

const A = DIGEST_A;
const R = REPO;
const contents = BAKE_CONTENTS;

describe("builderReleaseTime", () => {
  it("is at most 120 minutes ahead, at least 118, on a whole minute not ending in 0", () => {
    // On a minute ending in 0, just before one, and mid-minute.
    const starts = ["06:00:00.000", "06:09:59.999", "06:31:17.5"];
    for (const now of starts.map((time) => new Date(`2026-12-02T${time}Z`))) {
      const iso = now.toISOString();
      const at = builderReleaseTime(now, undefined);
      const ahead = (Date.parse(at) - now.getTime()) / 60_000;
      expect(ahead, iso).toBeLessThanOrEqual(BAKE_TTL_MINUTES);
      expect(ahead, iso).toBeGreaterThan(BAKE_TTL_MINUTES - 2);
      expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d[1-9]:00Z$/);
    }
  });

  it("keeps the builder's own time in stage image, unless ECS would no longer accept it", () => {
    const now = new Date("2026-12-02T06:40:00Z");
    expect(builderReleaseTime(now, "2026-12-02T08:09:00Z")).toBe("2026-12-02T08:09:00Z");
    // Under 30 minutes left, gone, or unreadable: a fresh one.
    for (const old of ["2026-12-02T07:05:00Z", "2026-12-01T08:09:00Z", "soon"])
      expect(builderReleaseTime(now, old), old).toBe("2026-12-02T08:39:00Z");
  });
});

describe("the baked image", () => {
  it("is named <prefix>-baked-<yyyymmddhhmm> in UTC", () => {
    expect(bakedImageName("vace-dev-bake", new Date("2026-12-02T06:41:59Z"))).toBe(
      "vace-dev-bake-baked-202612020641",
    );
  });

  it("is tagged with what it holds and who it belongs to, never with an expiry", () => {
    expect(bakedImageTags(contents, { stack: "dev-bake", owner: "ml-platform" })).toEqual(
      expectedBakedTags("dev-bake", "ml-platform"),
    );
    expect(digestOf(`${R}/comfyui:0.1.0`)).toBeUndefined();
  });

  it("names each configured image the boot will pull, and none when the digests match", () => {
    const tags = bakedImageTags(contents, { stack: "s", owner: "o" });
    expect(
      bakedImageDrift(tags, {
        image: `${R}/comfyui:0.2.0@${A}`,
        gatewayImage: contents.gatewayImage,
      }),
    ).toEqual([]);
    const newer = `${R}/comfyui:0.3.0@sha256:${"c".repeat(64)}`;
    expect(bakedImageDrift(tags, { image: newer, gatewayImage: `${R}/gateway:0.3.0` })).toEqual([
      `wan-vace:image ${newer} differs from the baked image's ${A}: the boot pulls ${newer} (only its missing layers)`,
      `wan-vace:gatewayImage ${R}/gateway:0.3.0 is pinned by tag only: the boot always pulls it (pin the digest to use the baked copy)`,
    ]);
    const { [BAKED_TAG.gatewayDigest]: _, ...noGateway } = tags;
    expect(
      bakedImageDrift(noGateway, {
        image: contents.comfyuiImage,
        gatewayImage: contents.gatewayImage,
      }),
    ).toEqual([
      `wan-vace:gatewayImage ${contents.gatewayImage} differs from the baked image's (no record): the boot pulls ${contents.gatewayImage} (only its missing layers)`,
    ]);
  });
});
