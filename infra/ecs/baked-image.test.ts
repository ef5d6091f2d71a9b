/**
 * Deploying from a `vace bake` image (wan-vace:bakedImageId) under Pulumi mocks: the instance boots
 * the image with baked-mode user-data; the image's tags are read at preview and each configured
 * image the boot will pull is named in a warning; a missing image fails before anything is made.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BAKE_CONTENTS, DIGEST_A, DIGEST_B, REPO } from "../../test/bake";
import {
  type PulumiTest,
  rawInputs,
  realisticInvokes,
  recordingOptions,
  setupPulumi,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { bakedImageTags } from "../bake/tags";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig } from "../config";
import { INVOKES } from "../offline/mocks";
import { EcsDeployment } from ".";
import { bakedHostDrift, bakedImageFound } from "./baked-image";
import { decodeUserData } from "./boot";

const R = REPO;
const A = DIGEST_A;
const B = DIGEST_B;
const C = `sha256:${"c".repeat(64)}`;
const TYPE = "ecs.gn7i-c8g1.2xlarge";
const BAKED = "m-t4n0baked0001";
const tags = bakedImageTags(BAKE_CONTENTS, { stack: "dev-bake", owner: "wan-vace" });
const config = (image: string) =>
  loadConfig({
    image,
    gatewayImage: `${R}/gateway:0.1.0@${B}`,
    instanceTypes: [TYPE],
    bakedImageId: BAKED,
  }).config;

let t: PulumiTest;
beforeAll(async () => {
  t = await setupPulumi({
    config: {},
    stock: { [TYPE]: { zones: ["ap-southeast-1a"] } },
    ownImages: { [BAKED]: { name: "vace-dev-bake-baked-202612020641", tags } },
  });
});
const warn = vi.spyOn(pulumi.log, "warn");
afterEach(() => warn.mockClear());

const optionsSeen = new Map<string, pulumi.CustomResourceOptions>();
async function deploy(name: string, image: string) {
  const d = new EcsDeployment(
    name,
    { config: config(image), stack: name, expiresAt: autoReleaseTime(new Date(), 240) },
    recordingOptions(optionsSeen),
  );
  await unwrap(d.instanceId);
  await waitForRegistrations(t.record);
  const [instance] = t.record.resources.filter(
    (r) => r.name === `${name}-gpu` && r.type === "alicloud:ecs/instance:Instance",
  );
  if (!instance) throw new Error("no instance");
  return rawInputs(instance);
}
const warnings = () => warn.mock.calls.map(([m]) => String(m));

describe("deploying from a baked image", () => {
  it("boots the image in baked mode, and warns of nothing when the digests are the baked ones", async () => {
    const instance = await deploy("same", `${R}/comfyui:0.1.0@${A}`);
    expect(instance.imageId).toBe(BAKED);
    const userData = decodeUserData(String(instance.userData));
    expect(userData).toContain("HOST_MODE='baked'\n");
    expect(userData).toContain(`BAKED_IMAGE_ID='${BAKED}'\n`);
    expect(warnings().filter((w) => w.includes("the boot pulls"))).toEqual([]);
    const byId = t.record.invokes.filter((i) => i.inputs.imageId === BAKED);
    expect(byId[0]?.inputs).toMatchObject({ imageId: BAKED, owners: "self" });
  });

  it("never keeps the instance's old image: setting or changing bakedImageId boots the new one", async () => {
    // bakedImageId is in boot.env, so a new one changes userData and replaces the instance. With
    // imageId in ignoreChanges, Pulumi would create that replacement from the image id in state
    // (the old OS image: a baked-mode boot that finds no driver and fails).
    await deploy("switch", `${R}/comfyui:0.1.0@${A}`);
    const o = optionsSeen.get("switch-gpu");
    expect(o?.replaceOnChanges).toEqual(["userData"]);
    expect(o?.ignoreChanges ?? []).not.toContain("imageId");
  });

  it("warns for each configured image whose digest differs, naming what the boot will pull", async () => {
    const newer = `${R}/comfyui:0.2.0@${C}`;
    await deploy("newer", newer);
    expect(warnings().filter((w) => w.includes("the boot pulls"))).toEqual([
      `wan-vace:image ${newer} differs from the baked image's ${A}: the boot pulls ${newer} (only its missing layers)`,
    ]);
  });

  it("fails when the image does not exist in this account, naming the key", () => {
    // What ecs.getImages answers for an id that is not this account's (the mocks' realistic table).
    const none = realisticInvokes({}, {}, {})[INVOKES.images]?.({
      imageId: "m-t4n0gone",
      owners: "self",
    });
    expect(none?.images).toEqual([]);
    expect(() => bakedImageFound([], "m-t4n0gone", "ap-southeast-1")).toThrow(
      /^wan-vace:bakedImageId: no available image m-t4n0gone of this account in ap-southeast-1; run vace bake/,
    );
  });

  it("warns when the baked host differs from what this code installs (a baked boot installs nothing)", () => {
    // The fixture's bake matches today's pins and the default apt branch 580.
    const apt = { driver: { mode: "apt", branch: "580" } } as const;
    expect(bakedHostDrift(tags, apt)).toEqual([]);
    const older = { ...tags, "vace-docker": "26.1.4", "vace-driver": "570.133.20" };
    expect(bakedHostDrift(older, apt)).toEqual([
      "wan-vace:bakedImageId: the image has Docker 26.1.4, this configuration installs 5:27.5.1-1~ubuntu.22.04~jammy; a baked boot installs nothing: re-bake (vace bake) to change it",
      "wan-vace:bakedImageId: the image has NVIDIA driver 570.133.20, this configuration installs branch 580; a baked boot installs nothing: re-bake (vace bake) to change it",
    ]);
    expect(bakedHostDrift(undefined, apt)).toHaveLength(3);
  });
});
