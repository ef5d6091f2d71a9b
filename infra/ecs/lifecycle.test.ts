/**
 * The second `pulumi up` and later ones, under Pulumi mocks: what the provider and the cloud do
 * that a single deploy cannot show (issue 8). One setMocks for the file; each case deploys its own
 * component, and the mutable stock and running tables stand for the cloud between deploys.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  type PulumiTest,
  type Running,
  rawInputs,
  setupPulumi,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig } from "../config";
import { EcsDeployment } from ".";
import { vswitchCidr } from "./network";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const TYPE = "ecs.gn7i-c8g1.2xlarge";
const expiresAt = autoReleaseTime(new Date(), 240);
const config = loadConfig({ image: IMAGE, instanceTypes: [TYPE] }).config;

const optionsSeen = new Map<string, pulumi.CustomResourceOptions>();
const running: Running = {};
let t: PulumiTest;

async function deploy(name: string, stack: string) {
  const d = new EcsDeployment(
    name,
    { config, stack, expiresAt },
    {
      transformations: [
        (a) => {
          optionsSeen.set(a.name, a.opts as pulumi.CustomResourceOptions);
          return undefined;
        },
      ],
    },
  );
  await unwrap(d.instanceId);
  await waitForRegistrations(t.record);
  return d;
}

const mine = (prefix: string, type: string) =>
  t.ofType(type).filter((r) => r.name.startsWith(`${prefix}-`));
const only = (prefix: string, type: string) => {
  const [r, ...rest] = mine(prefix, type);
  if (!r || rest.length) throw new Error(`expected one ${type} for ${prefix}`);
  return rawInputs(r);
};
const INSTANCE = "alicloud:ecs/instance:Instance";
const VSWITCH = "alicloud:vpc/switch:Switch";
const POLICY = "alicloud:ram/policy:Policy";

beforeAll(async () => {
  t = await setupPulumi({ config: {}, stock: {}, running });
});

/**
 * RAM policy versions, as the RAM API documents CreatePolicyVersion: at most 5 versions; with
 * RotateStrategy None (the default) a 6th fails with LimitExceeded.Policy.Version; with
 * DeleteOldestNonDefaultVersionWhenLimitExceeded the oldest non-default version goes first.
 * The provider sends RotateStrategy only when rotate_strategy is set
 * (resource_alicloud_ram_policy.go, Update), and every update sets the new version as default.
 */
class RamPolicyVersions {
  versions: { id: number; document: string }[] = [];
  defaultId = 0;
  private next = 1;
  create(document: string) {
    this.versions = [{ id: this.next, document }];
    this.defaultId = this.next++;
  }
  createVersion(document: string, rotateStrategy: string | undefined) {
    if (this.versions.length >= 5) {
      if (rotateStrategy !== "DeleteOldestNonDefaultVersionWhenLimitExceeded")
        throw new Error("LimitExceeded.Policy.Version");
      const oldest = this.versions.find((v) => v.id !== this.defaultId);
      this.versions = this.versions.filter((v) => v !== oldest);
    }
    this.versions.push({ id: this.next, document });
    this.defaultId = this.next++;
  }
  get defaultDocument() {
    return this.versions.find((v) => v.id === this.defaultId)?.document;
  }
}

describe("a stack whose instance is replaced again and again (item 1)", () => {
  it("keeps its RAM policy updatable, and the default version names the newest instance", async () => {
    t.stock[TYPE] = { zones: ["ap-southeast-1a"] };
    // Eight replacements of one stack's instance: one policy name, a new instance id each time.
    const documents: { document: string; rotate: string | undefined; name: string }[] = [];
    for (let i = 1; i <= 8; i++) {
      await deploy(`r${i}`, "churn");
      const policy = only(`r${i}`, POLICY);
      documents.push({
        document: String(policy.policyDocument),
        rotate: policy.rotateStrategy as string | undefined,
        name: String(policy.policyName),
      });
    }
    expect(new Set(documents.map((d) => d.name)).size).toBe(1);
    const ram = new RamPolicyVersions();
    const [first, ...updates] = documents;
    ram.create(String(first?.document));
    for (const u of updates) ram.createVersion(u.document, u.rotate);
    expect(ram.versions).toHaveLength(5);
    expect(ram.defaultDocument).toContain("instance/r8-gpu-id");
    expect(ram.defaultDocument).not.toContain("instance/r7-gpu-id");
    // The model does refuse a 6th version without the strategy (what happened before).
    const unrotated = new RamPolicyVersions();
    unrotated.create("v1");
    for (const v of ["v2", "v3", "v4", "v5"]) unrotated.createVersion(v, undefined);
    expect(() => unrotated.createVersion("v6", undefined)).toThrow(/LimitExceeded/);
  });
});

describe("placement and network move together (items 4 and 5)", () => {
  it("a redeploy after release, with the first zone sold out, lands instance and vSwitch in B", async () => {
    t.stock[TYPE] = { zones: ["ap-southeast-1a"] };
    await deploy("first", "moved");
    expect(only("first", INSTANCE).availabilityZone).toBe("ap-southeast-1a");
    expect(only("first", VSWITCH)).toMatchObject({
      zoneId: "ap-southeast-1a",
      cidrBlock: "10.42.1.0/24",
    });

    // The cloud released the instance (TTL) and zone A sold out; `refresh: always` removed it
    // from state, so the lookup finds none and the program plans a new one.
    t.stock[TYPE] = { zones: ["ap-southeast-1b"] };
    await deploy("again", "moved");
    expect(only("again", INSTANCE).availabilityZone).toBe("ap-southeast-1b");
    expect(only("again", VSWITCH)).toMatchObject({
      zoneId: "ap-southeast-1b",
      cidrBlock: "10.42.2.0/24",
    });
    // The vSwitch is not sticky: its zone change replaces it (zoneId is ForceNew), and the new
    // one is created before the old one is deleted, which works because the CIDRs differ.
    expect(optionsSeen.get("again-vswitch")?.ignoreChanges).toBeUndefined();
    expect(optionsSeen.get("again-vswitch")?.deleteBeforeReplace).toBeUndefined();
    // Nothing leaks: the second deploy declares exactly the same resources (by logical name),
    // so Pulumi replaces or updates each one and deletes what it replaced.
    const names = (prefix: string) =>
      t.record.resources
        .filter((r) => r.name.startsWith(`${prefix}-`) || r.name === prefix)
        .map((r) => `${r.type} ${r.name.replace(prefix, "")}`)
        .sort();
    expect(names("again")).toEqual(names("first"));
  });

  it("a replacement keeps type and zone while they are in stock there", async () => {
    running["vace-same-k3x9q2-gpu"] = {
      instanceType: TYPE,
      zone: "ap-southeast-1c",
      tags: { project: "wan-vace", stack: "same", "boot-digest": "an-older-boot" },
    };
    t.stock[TYPE] = { zones: ["ap-southeast-1a", "ap-southeast-1c"] };
    await deploy("same", "same");
    expect(only("same", INSTANCE).availabilityZone).toBe("ap-southeast-1c");
    expect(only("same", VSWITCH).zoneId).toBe("ap-southeast-1c");
  });

  it("a replacement whose type sold out in its zone moves, with its vSwitch, instead of failing after the delete", async () => {
    running["vace-repl-k3x9q2-gpu"] = {
      instanceType: TYPE,
      zone: "ap-southeast-1a",
      tags: { project: "wan-vace", stack: "repl", "boot-digest": "an-older-boot" },
    };
    t.stock[TYPE] = { zones: ["ap-southeast-1b"] };
    const warn = vi.spyOn(pulumi.log, "warn");
    try {
      await deploy("repl", "repl");
      // The preview says so before anything is deleted (the plan runs in preview too).
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /replaced; ecs\.gn7i-c8g1\.2xlarge in ap-southeast-1a is sold out, so the new instance is ecs\.gn7i-c8g1\.2xlarge in ap-southeast-1b \(its vSwitch moves with it\)/,
        ),
        expect.anything(),
      );
    } finally {
      warn.mockRestore();
    }
    expect(only("repl", INSTANCE)).toMatchObject({
      instanceType: TYPE,
      availabilityZone: "ap-southeast-1b",
    });
    expect(only("repl", VSWITCH)).toMatchObject({
      zoneId: "ap-southeast-1b",
      cidrBlock: vswitchCidr("ap-southeast-1b"),
    });
    // The instance's digest tag changes with its boot inputs, so the next deploy keeps it.
    const tags = only("repl", INSTANCE).tags as Record<string, string>;
    expect(tags["boot-digest"]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("redeploy after the cloud released the instance (item 3)", () => {
  it("refreshes state on every up, preview and destroy, so a released instance is recreated, not updated", () => {
    const project = parseYaml(readFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), "utf8")) as {
      options?: { refresh?: string };
    };
    expect(project.options?.refresh).toBe("always");
  });
});

describe("vSwitch CIDRs", () => {
  it("give every zone letter its own /24 inside the VPC, zone a keeping the original one", () => {
    const letters = "abcdefghijklmnopqrstuvwxyz".split("");
    const cidrs = letters.map((l) => vswitchCidr(`cn-hangzhou-${l}`));
    expect(new Set(cidrs).size).toBe(26);
    expect(vswitchCidr("ap-southeast-1a")).toBe("10.42.1.0/24");
    for (const c of [...cidrs, vswitchCidr("<lookup:zone>")])
      expect(c).toMatch(/^10\.42\.(\d{1,3})\.0\/24$/);
  });
});
