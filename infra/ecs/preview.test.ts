/**
 * `pulumi preview` of a new stack: its name suffix is not generated yet, so it cannot have an
 * instance to keep, and the stock check must still run (and fail early when nothing is in stock).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { beforeAll, describe, expect, it } from "vitest";
import { type PulumiTest, realisticComputed, setupPulumi, unwrap } from "../../test/pulumi";
import { lookupRunningInstance } from "./lookups";

let t: PulumiTest;

beforeAll(async () => {
  t = await setupPulumi({
    preview: true,
    config: {},
    stock: {},
    running: {
      "vace-new-known1-gpu": {
        instanceType: "ecs.gn6i-c4g1.xlarge",
        zone: "ap-southeast-1a",
        tags: { project: "wan-vace", stack: "new" },
      },
    },
    // A RandomString being created has no result yet in a preview.
    computed: (r) =>
      r.type === "random:index/randomString:RandomString" ? {} : realisticComputed(r),
  });
});

const instanceLookups = () =>
  t.record.invokes.filter((i) => i.token === "alicloud:ecs/getInstances:getInstances");

describe("previewing a new stack", () => {
  it("looks for no instance while the name suffix is unknown", async () => {
    const uid = new random.RandomString("new-uid", { length: 6, special: false, upper: false })
      .result;
    const running = lookupRunningInstance(pulumi.interpolate`vace-new-${uid}-gpu`, "new", {});
    expect(await unwrap(running)).toBeUndefined();
    expect(instanceLookups()).toEqual([]);
  });

  it("does look once the name is known (an existing stack's preview)", async () => {
    const running = lookupRunningInstance(pulumi.output("vace-new-known1-gpu"), "new", {});
    expect(await unwrap(running)).toEqual({
      instanceType: "ecs.gn6i-c4g1.xlarge",
      zone: "ap-southeast-1a",
    });
    expect(instanceLookups()).toHaveLength(1);
  });
});
