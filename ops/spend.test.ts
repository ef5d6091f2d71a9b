import { describe, expect, it } from "vitest";
import {
  computeSpend,
  formatSpendMarkdown,
  formatSpendTable,
  PRICE_TABLE,
  priceFor,
  worstCase,
} from "./spend";

/** Timestamps recorded from a run: ECS CreationTime (cloud) and the destroy's end (local clock). */
const run = {
  stack: "ci-42",
  target: "ecs",
  region: "ap-southeast-1",
  instanceType: "ecs.gn7i-c8g1.2xlarge",
  startedAt: new Date("2026-12-01T10:00:00Z"),
  startedFrom: "cloud" as const,
  endedAt: new Date("2026-12-01T10:37:30Z"),
  endedFrom: "local clock" as const,
  egressBytes: 1_234_567,
};

describe("spend", () => {
  it("bills the seconds from creation to release at the pricing API's hourly price", () => {
    const s = computeSpend({ ...run, hourlyPrice: 1.8 });
    expect(s).toMatchObject({
      stack: "ci-42",
      target: "ecs",
      instanceType: "ecs.gn7i-c8g1.2xlarge",
      pricePerHour: 1.8,
      currency: "USD",
      billedMinutes: 37.5,
      // 1.8 × 37.5 / 60
      total: 1.125,
      startedAt: "2026-12-01T10:00:00.000Z",
      endedAt: "2026-12-01T10:37:30.000Z",
      timestamps: "start from cloud, end from local clock",
    });
    expect(s.priceSource).toMatch(/^pricing API/);
    expect(s.eip.egressGB).toBe(0.001235);
    // spend.json: contract 7's keys, in order, before the detail.
    expect(Object.keys(s).slice(0, 8)).toEqual([
      "stack",
      "target",
      "instanceType",
      "pricePerHour",
      "currency",
      "priceSource",
      "billedMinutes",
      "total",
    ]);
  });

  it("rounds a part-second up, never down", () => {
    const s = computeSpend({
      ...run,
      hourlyPrice: 3.6,
      endedAt: new Date("2026-12-01T10:00:00.200Z"),
    });
    expect(s.billedMinutes).toBe(0.02); // 1 s
    expect(s.total).toBe(0.001);
  });

  it("falls back to the dated table, only for the regions a row names", () => {
    const p = priceFor("ecs.gn7i-c8g1.2xlarge", "cn-shanghai");
    expect(p).toMatchObject({ pricePerHour: 9.74, currency: "CNY" });
    expect(p.priceSource).toMatch(
      /^price table of 2026-09-24 \(ops\/spend\.ts\): ECS DescribePrice quote/,
    );
    expect(computeSpend({ ...run, region: "cn-shanghai" }).total).toBe(6.0875);
    for (const row of PRICE_TABLE) {
      expect(row.asOf).toMatch(/^\d{4}-\d\d-\d\d$/);
      expect(row.source.length).toBeGreaterThan(20);
    }
  });

  it("says the price is unknown rather than guessing, and the total with it", () => {
    const s = computeSpend({ ...run, hourlyPrice: null });
    expect(s).toMatchObject({
      pricePerHour: null,
      currency: null,
      total: null,
      billedMinutes: 37.5,
    });
    expect(s.priceSource).toBe(
      "unknown: no dated price for ecs.gn7i-c8g1.2xlarge in ap-southeast-1 in ops/spend.ts; set wan-vace:priceLookup true to ask the pricing API",
    );
  });

  it("has no minutes without both timestamps (a deploy that never made an instance)", () => {
    const s = computeSpend({ ...run, hourlyPrice: 1.8, startedAt: undefined, startedFrom: "none" });
    expect(s).toMatchObject({ billedMinutes: null, total: null, startedAt: null });
  });

  it("worst case is the hourly price for the whole ttl", () => {
    expect(worstCase(priceFor("ecs.gn7i-c8g1.2xlarge", "cn-shenzhen"), 240)).toMatch(
      /^worst case: 9\.74 CNY\/h × 4 h ttl = 38\.96 CNY/,
    );
    expect(worstCase(priceFor("ecs.gn7i-c8g1.2xlarge", "ap-southeast-1"), 240)).toMatch(
      /^worst case: unknown/,
    );
  });

  it("prints a table and a step-summary table from the same figures", () => {
    const s = computeSpend({ ...run, hourlyPrice: 1.8 });
    expect(formatSpendTable(s)).toContain("  total (GPU instance)  1.125 USD");
    const md = formatSpendMarkdown(s);
    expect(md.split("\n").slice(0, 4)).toEqual(["### Spend", "", "| | |", "|---|---|"]);
    expect(md).toContain("| billed minutes | 37.5 |");
    expect(md).toContain("| total (GPU instance) | 1.125 USD |");
  });
});
