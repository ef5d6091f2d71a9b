/**
 * The bake keys of infra/config.ts: `bakeStage` and `bakeContents` (set by `vace bake` in its
 * `<stack>-bake` stack) and `bakedImageId` (set by people, ECS only). Every problem at once,
 * each naming its key; conflicts are rejected before anything is created.
 */
import { describe, expect, it } from "vitest";
import { BAKE_CONTENTS } from "../test/bake";
import { parseBakeContents, parseConfig } from "./config";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const CONTENTS = BAKE_CONTENTS;

function errorsOf(raw: Record<string, unknown>) {
  const r = parseConfig({ image: IMAGE, ...raw });
  if (r.ok) throw new Error("expected config errors");
  return r.errors;
}

describe("bake configuration", () => {
  it("reads a builder stage, an image stage with its contents, and a baked image id", () => {
    const builder = parseConfig({ image: IMAGE, bakeStage: "builder" });
    expect(builder.ok && builder.config.bake).toEqual({ stage: "builder" });
    // ops passes the verdict as printed (with its "ok") plus the commit, as one JSON string.
    const image = parseConfig({
      image: IMAGE,
      bakeStage: "image",
      bakeContents: JSON.stringify({ ok: true, ...CONTENTS }),
    });
    expect(image.ok && image.config.bake).toEqual({ stage: "image", contents: CONTENTS });
    const baked = parseConfig({ image: IMAGE, bakedImageId: "m-t4n0abc123XYZ" });
    expect(baked.ok && baked.config.bakedImageId).toBe("m-t4n0abc123XYZ");
    expect(baked.ok && baked.config.bake).toBeUndefined();
    const plain = parseConfig({ image: IMAGE });
    expect(plain.ok && [plain.config.bake, plain.config.bakedImageId]).toEqual([
      undefined,
      undefined,
    ]);
  });

  it("names every bad field of bakeContents, each as its own error under the key", () => {
    const errors = errorsOf({
      bakeStage: "image",
      bakeContents: JSON.stringify({
        ...CONTENTS,
        comfyuiImage: `${IMAGE}`,
        gatewayImage: "not a reference",
        driver: "",
        kernel: "5.15 generic",
        commit: "HEAD",
        toolkit: undefined,
      }),
    });
    expect(errors.every((e) => e.key === "wan-vace:bakeContents")).toBe(true);
    expect(errors.map((e) => e.message.split(":")[0])).toEqual([
      "comfyuiImage",
      "gatewayImage",
      "driver",
      "toolkit",
      "kernel",
      "commit",
    ]);
    expect(errors[0]?.message).toContain("carries no @sha256 digest");
    expect(parseBakeContents("{not json").ok).toBe(false);
    expect(parseBakeContents("[1]")).toEqual({
      ok: false,
      errors: [{ key: "wan-vace:bakeContents", message: expect.stringContaining("JSON object") }],
    });
  });

  it("rejects conflicting bake keys, all at once, before anything is created", () => {
    expect(
      errorsOf({
        bakeStage: "image",
        bakedImageId: "m-abc",
        driver: "preinstalled",
        imageId: "m-x",
      }),
    ).toEqual([
      expect.objectContaining({
        key: "wan-vace:bakedImageId",
        message: expect.stringContaining("conflicts with bakeStage"),
      }),
      expect.objectContaining({
        key: "wan-vace:bakedImageId",
        message: expect.stringContaining('driver "preinstalled"'),
      }),
      expect.objectContaining({
        key: "wan-vace:bakeContents",
        message: expect.stringContaining("is required with bakeStage image"),
      }),
    ]);
    expect(errorsOf({ bakeContents: JSON.stringify(CONTENTS) })).toEqual([
      expect.objectContaining({
        key: "wan-vace:bakeContents",
        message: expect.stringContaining("only used with bakeStage image"),
      }),
    ]);
    const acs = errorsOf({ target: "acs", bakedImageId: "m-abc", bakeStage: "builder" });
    expect(acs.map((e) => e.key)).toEqual(
      expect.arrayContaining(["wan-vace:bakedImageId", "wan-vace:bakeStage"]),
    );
  });

  it("checks the form of bakedImageId and bakeStage, naming the key", () => {
    expect(errorsOf({ bakedImageId: "ubuntu_22_04.vhd", bakeStage: "final" })).toEqual([
      expect.objectContaining({
        key: "wan-vace:bakedImageId",
        message: expect.stringContaining("m-t4n0abc123"),
      }),
      expect.objectContaining({
        key: "wan-vace:bakeStage",
        message: expect.stringContaining('"final"'),
      }),
      expect.objectContaining({
        key: "wan-vace:bakedImageId",
        message: expect.stringContaining("conflicts with bakeStage"),
      }),
    ]);
  });
});
