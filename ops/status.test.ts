import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ColdStartReport } from "../smoke/cold-start";
import { FAKE_KEY, type FakeCloud, startFakeCloud } from "../test/doubles/alibaba/server";
import { RpcClient } from "./cloud/rpc";
import {
  formatBoot,
  formatStatus,
  instanceState,
  outsideFrom,
  type StatusSources,
  statusRow,
} from "./status";

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

const sources = (
  resources: string[],
  withCloud = true,
  extra: Partial<StatusSources> = {},
): StatusSources => ({
  open: async () => ({ outputs: async () => OUTPUTS, resources: async () => resources }),
  region: () => "ap-southeast-1",
  cloud: (region) =>
    withCloud
      ? { client: new RpcClient({ credentials: FAKE_KEY, region, endpoint: cloud.endpoint }) }
      : { why: "no cloud credentials" },
  now: NOW,
  ...extra,
});

/** The cloud holds the stack's instance, running since 10:00. */
const running = () => {
  cloud.resources = [
    {
      kind: "instance",
      id: "i-1",
      status: "Running",
      creationTime: "2026-12-01T10:00Z",
      tags: { project: "wan-vace", stack: "dev" },
    },
  ];
};

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
    running();
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

const BOOT: NonNullable<ColdStartReport["instance"]> = {
  boots: 2,
  phases: [
    { phase: "cloud-init", at: "2026-12-01T10:00:00.000Z", sinceCloudInitS: 0 },
    { phase: "driver", at: "2026-12-01T10:09:12.000Z", sinceCloudInitS: 552 },
    { phase: "docker", at: "2026-12-01T10:10:14.000Z", sinceCloudInitS: 614 },
    { phase: "images", at: "2026-12-01T10:13:24.000Z", sinceCloudInitS: 804 },
    { phase: "comfyui", at: "2026-12-01T10:13:49.000Z", sinceCloudInitS: 829 },
    { phase: "models", at: "2026-12-01T10:14:37.000Z", sinceCloudInitS: 877 },
    { phase: "gateway", at: "2026-12-01T10:14:39.000Z", sinceCloudInitS: 879 },
  ],
};
const COLD: ColdStartReport = {
  deployStartedAt: "2026-12-01T09:58:30.000Z",
  firstHealthzAt: "2026-12-01T10:14:40.000Z",
  videoVerifiedAt: "2026-12-01T10:15:31.000Z",
  healthzAfterDeployS: 970,
  videoAfterDeployS: 1021,
  instance: BOOT,
  instanceNote: null,
};

describe("vace status: cold start from both sides", () => {
  it("a running ECS endpoint shows its boot timeline, each phase with the time it took", async () => {
    running();
    const asked: Record<string, unknown>[] = [];
    const row = await statusRow(
      "dev",
      sources(["urn:x"], true, {
        bootTimeline: async (outputs) => {
          asked.push(outputs);
          return { instance: BOOT, note: null };
        },
      }),
    );
    expect(asked).toEqual([OUTPUTS]);
    expect(row.boot).toEqual(BOOT);
    expect(formatStatus([row])).toContain(
      "  boot:           cloud-init +0s, driver +9m12s, docker +1m02s, images +3m10s, comfyui +25s, models +48s, gateway +2s (14m39s from cloud-init, 2 boots)\n",
    );
  });

  it("says why there is no timeline, and asks for none when the instance is not running", async () => {
    running();
    const note = "GET /view for the boot timeline answered HTTP 401";
    const row = await statusRow(
      "dev",
      sources(["urn:x"], true, { bootTimeline: async () => ({ instance: null, note }) }),
    );
    expect(formatStatus([row])).toContain(`  boot:           ${note}\n`);
    cloud.resources = [];
    let calls = 0;
    const gone = await statusRow(
      "dev",
      sources(["urn:x"], true, {
        bootTimeline: async () => {
          calls++;
          return { instance: BOOT, note: null };
        },
      }),
    );
    expect(calls).toBe(0);
    expect(gone.boot).toBeNull();
    expect(formatStatus([gone])).not.toContain("boot:");
  });

  it("--report shows what the smoke measured from outside, from a smoke's or e2e's report.json", async () => {
    running();
    const smoke = outsideFrom("out/up/report.json", JSON.stringify({ ok: true, coldStart: COLD }));
    const e2e = outsideFrom(
      "out/e2e/report.json",
      JSON.stringify({ ok: true, smoke: { ok: true, summary: "", report: { coldStart: COLD } } }),
    );
    expect(e2e.coldStart).toEqual(smoke.coldStart);
    const row = await statusRow("dev", sources(["urn:x"], true, { outside: smoke }));
    expect(formatStatus([row])).toContain(
      "  cold start:     /healthz 200 after 16m10s, first verified video after 17m01s, from the deploy start 2026-12-01T09:58:30.000Z (out/up/report.json)\n",
    );
    const noStart = outsideFrom(
      "r.json",
      JSON.stringify({ coldStart: { ...COLD, deployStartedAt: null, healthzAfterDeployS: null } }),
    );
    const row2 = await statusRow("dev", sources(["urn:x"], true, { outside: noStart }));
    expect(formatStatus([row2])).toContain("r.json: no deploy start recorded");
  });

  it("--report names the file and what to give when it holds no cold start", () => {
    expect(() => outsideFrom("x.json", "{not json")).toThrow(
      /^x\.json is not JSON .*report\.json$/,
    );
    expect(() => outsideFrom("spend.json", JSON.stringify({ total: 1 }))).toThrow(
      "spend.json has no coldStart section: give the report.json of a smoke or e2e run",
    );
  });

  it("formats a timeline whose first boot lacks cloud-init's mark without inventing times", () => {
    expect(
      formatBoot({ boots: 1, phases: [{ phase: "gateway", at: "x", sinceCloudInitS: null }] }),
    ).toBe("gateway");
  });

  it("says for the images phase how many images the host had and how many it pulled (a baked image)", () => {
    const phase = (name: string, s: number, detail?: Record<string, unknown>) => ({
      phase: name,
      at: "x",
      sinceCloudInitS: s,
      ...(detail && { detail }),
    });
    const boot = {
      boots: 1,
      phases: [
        phase("cloud-init", 0),
        phase("images", 40, { present: ["r/comfyui@sha256:a"], pulled: ["r/gateway@sha256:b"] }),
      ],
    };
    expect(formatBoot(boot)).toBe(
      "cloud-init +0s, images (1 present, 1 pulled) +40s (40s from cloud-init)",
    );
  });
});
