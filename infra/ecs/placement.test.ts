import { describe, expect, it } from "vitest";
import {
  choosePlacement,
  type InstanceTypeOffer,
  keepOrChoosePlacement,
  PlacementError,
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

describe("keepOrChoosePlacement", () => {
  it("keeps a running instance where it is, whatever the stock says", () => {
    const running = { instanceType: "ecs.gn6i-c4g1.xlarge", zone: "ap-southeast-1c" };
    expect(
      keepOrChoosePlacement(running, PREFS, ["ap-southeast-1a"], [], "ap-southeast-1"),
    ).toEqual(running);
  });
  it("walks the preferences when nothing runs yet, and fails the same way", () => {
    expect(() => keepOrChoosePlacement(undefined, PREFS, [], [], "ap-southeast-1")).toThrow(
      PlacementError,
    );
    expect(
      keepOrChoosePlacement(
        undefined,
        PREFS,
        [],
        [offer(PREFS[2] as string, ["ap-southeast-1b"])],
        "ap-southeast-1",
      ),
    ).toEqual({ instanceType: PREFS[2], zone: "ap-southeast-1b" });
  });
});
