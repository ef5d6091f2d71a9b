import { describe, expect, it } from "vitest";
import {
  choosePlacement,
  type InstanceTypeOffer,
  PlacementError,
  planPlacement,
} from "./placement";

const PREFS = ["ecs.gn7i-c8g1.2xlarge", "ecs.gn7i-c16g1.4xlarge", "ecs.gn6i-c4g1.xlarge"];
const offer = (instanceType: string, zones: string[], price = ""): InstanceTypeOffer => ({
  instanceType,
  zones,
  price,
});

describe("choosePlacement", () => {
  it("takes the first preferred type in its first zone", () => {
    const p = choosePlacement(
      PREFS,
      [],
      [
        offer(PREFS[1] as string, ["ap-southeast-1c", "ap-southeast-1a"]),
        offer(PREFS[0] as string, ["ap-southeast-1b"]),
      ],
      "ap-southeast-1",
    );
    expect(p).toEqual({ instanceType: PREFS[0], zone: "ap-southeast-1b" });
  });

  it("falls back to the next type when the first is sold out", () => {
    const p = choosePlacement(
      PREFS,
      [],
      [
        offer(PREFS[2] as string, ["ap-southeast-1a"]),
        offer(PREFS[1] as string, ["ap-southeast-1c", "ap-southeast-1a"]),
      ],
      "ap-southeast-1",
    );
    expect(p).toEqual({ instanceType: PREFS[1], zone: "ap-southeast-1a" });
  });

  it("honours the allowed zones, in their order", () => {
    const offers = [
      offer(PREFS[0] as string, ["ap-southeast-1a"]),
      offer(PREFS[1] as string, ["ap-southeast-1a", "ap-southeast-1c"]),
    ];
    const p = choosePlacement(
      PREFS,
      ["ap-southeast-1c", "ap-southeast-1a"],
      offers,
      "ap-southeast-1",
    );
    expect(p).toEqual({ instanceType: PREFS[0], zone: "ap-southeast-1a" });
    const onlyC = choosePlacement(PREFS, ["ap-southeast-1c"], offers, "ap-southeast-1");
    expect(onlyC).toEqual({ instanceType: PREFS[1], zone: "ap-southeast-1c" });
  });

  it("reports the price when the lookup returned one", () => {
    const p = choosePlacement(
      PREFS,
      [],
      [offer(PREFS[0] as string, ["ap-southeast-1a"], "1.234")],
      "ap-southeast-1",
    );
    expect(p.hourlyPrice).toBe(1.234);
  });

  it("fails listing everything it tried when nothing is in stock", () => {
    const offers = [offer(PREFS[1] as string, ["ap-southeast-1b"])];
    let err: unknown;
    try {
      choosePlacement(PREFS, ["ap-southeast-1a"], offers, "ap-southeast-1");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlacementError);
    const e = err as PlacementError;
    expect(e.tried).toHaveLength(3);
    expect(e.message).toContain(
      "ecs.gn7i-c8g1.2xlarge: sold out (or not offered) in every zone of ap-southeast-1",
    );
    expect(e.message).toContain(
      "ecs.gn7i-c16g1.4xlarge: in stock only in ap-southeast-1b, none of the allowed zones ap-southeast-1a",
    );
    expect(e.message).toMatch(
      /wan-vace:instanceTypes.*wan-vace:zones.*wan-vace:spot.*wan-vace:region/s,
    );
  });
});

describe("planPlacement", () => {
  const base = {
    preferences: PREFS,
    allowedZones: [] as string[],
    region: "ap-southeast-1",
    bootDigest: "new",
  };
  const running = (bootDigest?: string) => ({
    instanceType: PREFS[0] as string,
    zone: "ap-southeast-1c",
    ...(bootDigest !== undefined && { bootDigest }),
  });

  it("keeps a running instance with the same boot inputs where it is, whatever the stock says", () => {
    expect(planPlacement({ ...base, running: running("new"), offers: [] })).toEqual({
      instanceType: PREFS[0],
      zone: "ap-southeast-1c",
      action: "keep",
    });
    // An instance from before the digest tag: a replacement cannot be foreseen, so keep.
    expect(planPlacement({ ...base, running: running(), offers: [] }).action).toBe("keep");
  });

  it("walks the preferences when nothing runs, and fails the same way", () => {
    expect(() => planPlacement({ ...base, running: undefined, offers: [] })).toThrow(
      PlacementError,
    );
    expect(
      planPlacement({
        ...base,
        running: undefined,
        offers: [offer(PREFS[2] as string, ["ap-southeast-1b"])],
      }),
    ).toEqual({ instanceType: PREFS[2], zone: "ap-southeast-1b", action: "create" });
  });

  it("replaces in place when the boot inputs changed and the type is still in stock there", () => {
    const plan = planPlacement({
      ...base,
      running: running("old"),
      offers: [offer(PREFS[0] as string, ["ap-southeast-1a", "ap-southeast-1c"])],
    });
    expect(plan).toMatchObject({
      instanceType: PREFS[0],
      zone: "ap-southeast-1c",
      action: "replace",
    });
  });

  it("moves a replacement to the first preference in stock when its type sold out there", () => {
    const plan = planPlacement({
      ...base,
      running: running("old"),
      offers: [
        offer(PREFS[0] as string, ["ap-southeast-1a"]),
        offer(PREFS[1] as string, ["ap-southeast-1c"]),
      ],
    });
    expect(plan).toMatchObject({
      instanceType: PREFS[0],
      zone: "ap-southeast-1a",
      action: "replace-and-move",
    });
    expect(plan.note).toMatch(/ecs\.gn7i-c8g1\.2xlarge in ap-southeast-1c is sold out/);
  });

  it("moves a replacement off a type or zone the config no longer allows", () => {
    const plan = planPlacement({
      ...base,
      allowedZones: ["ap-southeast-1a"],
      running: running("old"),
      offers: [offer(PREFS[0] as string, ["ap-southeast-1a", "ap-southeast-1c"])],
    });
    expect(plan).toMatchObject({ zone: "ap-southeast-1a", action: "replace-and-move" });
    expect(plan.note).toMatch(/no longer allowed/);
  });

  it("refuses, before anything is deleted, a replacement that nothing in stock could take", () => {
    expect(() => planPlacement({ ...base, running: running("old"), offers: [] })).toThrow(
      /must be replaced, but ecs\.gn7i-c8g1\.2xlarge in ap-southeast-1c is no longer available and nothing else is in stock; nothing was changed/,
    );
  });
});
