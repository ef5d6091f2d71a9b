import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_KEY, type FakeCloud, startFakeCloud } from "../test/doubles/alibaba/server";
import { RpcClient } from "./cloud/rpc";
import { formatStatus, instanceState, type StatusSources, statusRow } from "./status";

const NOW = new Date("2026-12-01T11:00:00Z");
const OUTPUTS = {
  target: "ecs",
  url: "https://203.0.113.10",
  instanceType: "ecs.gn7i-c8g1.2xlarge",
  hourlyPrice: 1.8,
  expiresAt: "2026-12-01T13:00:00Z",
};
let cloud: FakeCloud;
beforeAll(async () => {
  cloud = await startFakeCloud();
});
afterAll(async () => {
  await cloud.close();
});

const sources = (resources: string[], withCloud = true): StatusSources => ({
  open: async () => ({ outputs: async () => OUTPUTS, resources: async () => resources }),
  region: () => "ap-southeast-1",
  cloud: (region) =>
    withCloud
      ? { client: new RpcClient({ credentials: FAKE_KEY, region, endpoint: cloud.endpoint }) }
      : { why: "no cloud credentials" },
  now: NOW,
});

describe("vace status", () => {
  it("names each state in words", () => {
    expect(instanceState("Running")).toBe("running");
    expect(instanceState("Stopped", "StopCharging")).toBe(
      "stopped by the watchdog (GPU not billed)",
    );
    expect(instanceState("Stopped", "KeepCharging")).toBe("stopped (still billed)");
    expect(instanceState(undefined)).toBe("released (the instance is gone)");
  });

  it("a running stack: time left, and spend so far from the cloud's CreationTime", async () => {
    cloud.resources = [
      {
        kind: "instance",
        id: "i-1",
        status: "Running",
        creationTime: "2026-12-01T10:00Z",
        tags: { project: "wan-vace", stack: "dev" },
      },
    ];
    const row = await statusRow("dev", sources(["urn:x"]));
    expect(row).toMatchObject({
      state: "running",
      minutesLeft: 120,
      pricePerHour: 1.8,
      currency: "USD",
      spendSoFar: 1.8,
    });
    expect(formatStatus([row])).toContain("  expires:        2026-12-01T13:00:00Z (120 min left)");
  });

  it("released at its TTL while the state still holds resources; parked when the state is empty", async () => {
    cloud.resources = [];
    expect((await statusRow("dev", sources(["urn:x"]))).state).toBe(
      "released (the instance is gone)",
    );
    expect((await statusRow("dev", sources([]))).state).toBe(
      "parked (no resources; its config is kept)",
    );
  });

  it("without credentials it says what it cannot know", async () => {
    expect((await statusRow("dev", sources(["urn:x"], false))).state).toBe(
      "deployed (1 resources; cloud state unknown: no cloud credentials)",
    );
  });
});
