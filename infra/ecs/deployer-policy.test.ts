/**
 * docs/deployer-policy.json names every API action the program's resources and lookups use:
 * the program runs under mocks in every shape a stack can take, and each resource type and
 * invoke it registers must have an entry in ACTIONS_BY_TYPE, whose actions the file must hold.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BAKE_CONTENTS } from "../../test/bake";
import { type PulumiTest, setupPulumi, unwrap, waitForRegistrations } from "../../test/pulumi";
import { BakeBuilder } from "../bake";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig } from "../config";
import { EcsDeployment } from ".";
import { ACTIONS_BY_TYPE, deployerPolicy } from "./deployer-policy";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const BAKED_IMAGE = "m-t4n0baked0001";
const FILE = join(__dirname, "..", "..", "docs", "deployer-policy.json");

let t: PulumiTest;

beforeAll(async () => {
  t = await setupPulumi({
    config: {},
    stock: { "ecs.gn7i-c8g1.2xlarge": { zones: ["ap-southeast-1a"] } },
    ownImages: { [BAKED_IMAGE]: { name: "vace-bake-baked-202612020641", tags: {} } },
  });
  const shapes: Record<string, Record<string, unknown>> = {
    plain: {},
    everything: {
      spot: true,
      tls: "acme",
      domain: "vace.example.com",
      sshCidrs: ["198.51.100.7/32"],
      keyPairName: "ops",
      registryUsername: "puller",
      registryPassword: "registry-password-0123456789",
      token: "a-configured-token-that-is-long-enough-0123",
    },
    preinstalled: { driver: "preinstalled", imageId: "m-t4n0123456789" },
    baked: { bakedImageId: BAKED_IMAGE },
  };
  const expiresAt = autoReleaseTime(new Date(), 240);
  const deployments = Object.entries(shapes).map(
    ([name, raw]) =>
      new EcsDeployment(name, {
        config: loadConfig({ image: IMAGE, ...raw }).config,
        stack: name,
        expiresAt,
      }),
  );
  // `vace bake`'s stage image: the builder and the image.
  const bake = new BakeBuilder("bake", {
    config: loadConfig({
      image: IMAGE,
      bakeStage: "image",
      bakeContents: JSON.stringify(BAKE_CONTENTS),
    }).config,
    stack: "bake",
    now: new Date(),
  });
  await Promise.all([...deployments.map((d) => unwrap(d.instanceId)), unwrap(bake.imageId)]);
  await waitForRegistrations(t.record);
});

describe("docs/deployer-policy.json", () => {
  it("is the generated policy", () => {
    expect(JSON.parse(readFileSync(FILE, "utf8"))).toEqual(deployerPolicy());
  });

  it("covers every resource type and lookup the program uses", () => {
    const used = new Set([
      ...t.record.resources.map((r) => r.type),
      ...t.record.invokes.map((i) => i.token),
    ]);
    expect(used.size).toBeGreaterThanOrEqual(15);
    expect([...used].filter((u) => !(u in ACTIONS_BY_TYPE))).toEqual([]);
    const granted = new Set(
      (JSON.parse(readFileSync(FILE, "utf8")).Statement as { Action: string[] }[]).flatMap(
        (s) => s.Action,
      ),
    );
    const needed = [...used].flatMap((u) => ACTIONS_BY_TYPE[u] ?? []);
    expect(needed.filter((a) => !granted.has(a))).toEqual([]);
    // The boot secret is an OOS encryption parameter, which KMS stores: the README's old list
    // had no KMS rights, so CreateSecretParameter failed.
    expect(granted).toContain("kms:CreateSecret");
    expect(granted).toContain("ram:PassRole");
  });

  it("grants nothing the program does not use", () => {
    const used = new Set([
      ...t.record.resources.map((r) => r.type),
      ...t.record.invokes.map((i) => i.token),
    ]);
    const needed = new Set([...used].flatMap((u) => ACTIONS_BY_TYPE[u] ?? []));
    const granted = deployerPolicy().Statement.flatMap((s) => (s as { Action: string[] }).Action);
    expect(granted.filter((a) => !needed.has(a))).toEqual([]);
  });
});
