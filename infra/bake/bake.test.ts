/**
 * BakeBuilder under Pulumi mocks, both stages of one bake stack: the builder is released by ECS
 * itself and reachable by nothing; stage `image` adds only the kept, tagged image and changes
 * nothing of stage `builder`. One setMocks for the file; the running table stands for the cloud
 * between the two `pulumi up`s.
 */
import type * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BAKE_CONTENTS, expectedBakedTags } from "../../test/bake";
import {
  type PulumiTest,
  type Running,
  rawInputs,
  recordingOptions,
  setupPulumi,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { loadConfig } from "../config";
import { decodeUserData } from "../ecs/boot";
import type { RecordedResource } from "../offline/mocks";
import { BAKE_TTL_MINUTES, BakeBuilder, IMAGE_CREATE_TIMEOUT } from ".";

const IMAGE = `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0`;
const TYPE = "ecs.gn7i-c8g1.2xlarge";
const STACK = "dev-bake";
const PASSWORD = "Registry-Password-9f8e7d6c5b4a";
const CONTENTS = BAKE_CONTENTS;
/** What ops copies from the source stack (a configured token too: the builder must not get it). */
const SOURCE = {
  image: IMAGE,
  instanceTypes: [TYPE],
  registryUsername: "puller@123",
  registryPassword: PASSWORD,
  token: "Deploy0token0that0the0builder0must0never0see0x",
  allowedCidrs: ["203.0.113.0/24"],
  sshCidrs: ["198.51.100.0/24"],
  keyPairName: "ops",
};
const stage1Start = new Date();
const stage2Start = new Date(stage1Start.getTime() + 25 * 60_000);

const optionsSeen = new Map<string, pulumi.CustomResourceOptions>();
const running: Running = {};
let t: PulumiTest;

async function bake(name: string, raw: Record<string, unknown>, now: Date) {
  const config = loadConfig({ ...SOURCE, ...raw }).config;
  const b = new BakeBuilder(name, { config, stack: STACK, now }, recordingOptions(optionsSeen));
  await unwrap(b.builderInstanceId);
  await waitForRegistrations(t.record);
  return b;
}
const mine = (prefix: string) => t.record.resources.filter((r) => r.name.startsWith(`${prefix}-`));
const one = (prefix: string, type: string) => {
  const found = mine(prefix).filter((r) => r.type === type);
  if (found.length !== 1)
    throw new Error(`expected one ${type} for ${prefix}, got ${found.length}`);
  return rawInputs(found[0] as RecordedResource);
};
const INSTANCE = "alicloud:ecs/instance:Instance";
const IMAGE_TYPE = "alicloud:ecs/image:Image";

let builder: BakeBuilder;
let imaged: BakeBuilder;
beforeAll(async () => {
  t = await setupPulumi({ config: {}, stock: { [TYPE]: { zones: ["ap-southeast-1a"] } }, running });
  builder = await bake("stage1", { bakeStage: "builder" }, stage1Start);
  // Between the stages the builder ran bake.sh and powered off; the cloud lists it with its tags.
  const tags = one("stage1", INSTANCE).tags as Record<string, string>;
  running[`vace-dev-bake-k3x9q2-gpu`] = { instanceType: TYPE, zone: "ap-southeast-1a", tags };
  imaged = await bake(
    "stage2",
    { bakeStage: "image", bakeContents: JSON.stringify({ ok: true, ...CONTENTS }) },
    stage2Start,
  );
}, 60_000);

describe("stage builder", () => {
  it("is released by ECS itself at most 120 minutes after the bake started", async () => {
    const at = Date.parse(String(one("stage1", INSTANCE).autoReleaseTime));
    expect(at - stage1Start.getTime()).toBeLessThanOrEqual(BAKE_TTL_MINUTES * 60_000);
    expect(at - stage1Start.getTime()).toBeGreaterThan((BAKE_TTL_MINUTES - 2) * 60_000);
    expect(await unwrap(builder.expiresAt)).toBe(one("stage1", INSTANCE).autoReleaseTime);
    expect(builder.imageId).toBeUndefined();
  });

  it("has no ingress rule at all, whatever the source stack opens", () => {
    expect(mine("stage1").filter((r) => r.type.includes("securityGroupRule"))).toEqual([]);
    expect(mine("stage1").filter((r) => r.type === IMAGE_TYPE)).toEqual([]);
  });

  it("carries no key pair, whatever the source stack sets: its authorized key would stay in the image", () => {
    // cloud-init writes the pair's public key to /root/.ssh/authorized_keys on the builder, and
    // bake.sh does not remove it: every deployment from the image would accept that key.
    expect(SOURCE.keyPairName).toBe("ops");
    expect(one("stage1", INSTANCE)).not.toHaveProperty("keyName");
    expect(one("stage2", INSTANCE)).not.toHaveProperty("keyName");
  });

  it("boots in bake mode and its secret holds a fresh token and the registry login, no TLS", () => {
    const userData = decodeUserData(String(one("stage1", INSTANCE).userData));
    const config = parse(userData) as { runcmd: string[][] };
    expect(config.runcmd.at(-1)).toEqual([
      "systemctl",
      "start",
      "--no-block",
      "wan-vace-bake.service",
    ]);
    expect(userData).toContain("HOST_MODE='bake'");
    const secret = JSON.parse(
      String(one("stage1", "alicloud:oos/secretParameter:SecretParameter").value),
    ) as Record<string, string>;
    expect(Object.keys(secret).sort()).toEqual(["registryPassword", "registryUsername", "token"]);
    expect(secret.token).not.toBe(SOURCE.token);
    expect(secret.registryPassword).toBe(PASSWORD);
  });
});

describe("stage image", () => {
  it("adds one image of the builder, kept when the bake stack is destroyed", async () => {
    const image = one("stage2", IMAGE_TYPE);
    expect(image.instanceId).toBe("stage2-gpu-id");
    expect(image.imageName).toBe(
      `vace-dev-bake-baked-${stage2Start.toISOString().slice(0, 16).replace(/[-T:]/g, "")}`,
    );
    expect(image.architecture).toBe("x86_64");
    const opts = optionsSeen.get("stage2-image");
    expect(opts?.retainOnDelete).toBe(true);
    expect(opts?.customTimeouts).toEqual({ create: IMAGE_CREATE_TIMEOUT });
    expect(await unwrap(imaged.imageId as pulumi.Output<string>)).toBe("stage2-image-id");
  });

  it("is tagged exactly with what it holds, and never with an expiry the reaper would act on", () => {
    expect(one("stage2", IMAGE_TYPE).tags).toEqual(expectedBakedTags(STACK, "wan-vace"));
  });

  it("replaces nothing of stage builder: the same resources with the same inputs", async () => {
    // Secrets are compared by value; each stage's own resource names and ids are made alike.
    const of = (stage: string) =>
      mine(stage)
        .filter((r) => r.type !== IMAGE_TYPE)
        .map((r) => ({ type: r.type, name: r.name, inputs: rawInputs(r) }))
        .map((r) => JSON.parse(JSON.stringify(r).replaceAll(`${stage}-`, "STAGE-")) as unknown)
        .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    // The token is generated per component here; in the real stack stage image keeps stage
    // builder's from state. Everything else must match byte for byte.
    const withoutToken = (rs: unknown[]) =>
      JSON.parse(
        JSON.stringify(rs).replace(/\\"token\\":\\"[A-Za-z0-9]+\\"/g, "TOKEN"),
      ) as unknown[];
    const first = of("stage1");
    expect(first.length).toBeGreaterThanOrEqual(12);
    expect(withoutToken(of("stage2"))).toEqual(withoutToken(first));
    expect(await unwrap(imaged.expiresAt)).toBe(await unwrap(builder.expiresAt));
  });
});
