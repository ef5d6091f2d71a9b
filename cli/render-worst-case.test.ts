import { describe, expect, it } from "vitest";
import type { RenderResult } from "../infra/offline/render";
import { formatSummary } from "./render";

/** A rendered ECS stack: the provider's region and the instance's type and release time. */
const rendered = (region: string, hourlyPrice?: number): RenderResult => ({
  target: "ecs",
  resources: [
    { type: "pulumi:providers:alicloud", name: "alicloud", inputs: { region } },
    {
      type: "alicloud:ecs/instance:Instance",
      name: "vace-gpu",
      inputs: { instanceType: "ecs.gn7i-c8g1.2xlarge", autoReleaseTime: "2026-01-01T04:10:00Z" },
    },
  ],
  gateway: { image: "g", env: {}, caddyfile: "" },
  outputs: hourlyPrice === undefined ? {} : { hourlyPrice },
  placeholders: [],
  warnings: [],
});
const NOW = new Date("2026-01-01T00:00:00Z");

describe("vace render: the worst case before deploying (price per hour × time until release)", () => {
  it("from the dated price table where it has the region", () => {
    expect(formatSummary(rendered("cn-shenzhen"), "dev", NOW)).toContainEqual(
      expect.stringMatching(
        /^ {2}worst case: 9\.74 CNY\/h × 4\.17 h until release = 40\.58 CNY \(price table of 2026-09-24/,
      ),
    );
  });

  it("says unknown, and how to learn it, where it has no price", () => {
    expect(formatSummary(rendered("ap-southeast-1"), "dev", NOW)).toContainEqual(
      expect.stringMatching(/^ {2}worst case: unknown \(.*set wan-vace:priceLookup true/),
    );
  });
});
