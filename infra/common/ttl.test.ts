import { describe, expect, it } from "vitest";
import { formatMinutes, parseDurationMinutes } from "./duration";
import { autoReleaseTime, DEPLOY_ALLOWANCE_MINUTES, MAX_TTL_MINUTES, MIN_TTL_MINUTES } from "./ttl";

const ECS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("autoReleaseTime", () => {
  const now = new Date("2026-11-26T12:00:00.250Z");

  it("is ECS's yyyy-MM-ddTHH:mm:ssZ, ttl plus the deploy allowance ahead", () => {
    const t = autoReleaseTime(now, 240);
    expect(t).toMatch(ECS_TIME);
    expect(t).toBe("2026-11-26T16:10:01Z");
  });

  it("stays at least 30 minutes ahead even at the smallest ttl", () => {
    const t = Date.parse(autoReleaseTime(now, MIN_TTL_MINUTES));
    expect(t - now.getTime()).toBeGreaterThanOrEqual((30 + DEPLOY_ALLOWANCE_MINUTES) * 60_000);
  });

  it("rejects ttls outside ECS's bounds", () => {
    expect(() => autoReleaseTime(now, 29)).toThrow(/between 30 minutes and 3 years/);
    expect(() => autoReleaseTime(now, MAX_TTL_MINUTES + 1)).toThrow(RangeError);
    expect(() => autoReleaseTime(now, 30.5)).toThrow(RangeError);
  });

  it("stays under 3 years at the largest ttl, from any start date (leap years included)", () => {
    for (const start of [
      "2028-03-01T00:00:00Z",
      "2027-02-28T23:59:59.999Z",
      "2026-11-26T12:00:00Z",
    ]) {
      const from = new Date(start);
      const end = new Date(from);
      end.setUTCFullYear(from.getUTCFullYear() + 3);
      expect(Date.parse(autoReleaseTime(from, MAX_TTL_MINUTES)), start).toBeLessThan(end.getTime());
    }
  });

  it("stays under 3 years at the largest ttl", () => {
    const t = Date.parse(autoReleaseTime(now, MAX_TTL_MINUTES));
    const threeYears = new Date(now);
    threeYears.setUTCFullYear(now.getUTCFullYear() + 3);
    expect(t).toBeLessThan(threeYears.getTime());
  });
});

describe("durations", () => {
  it.each([
    ["45m", 45],
    ["4h", 240],
    ["2d", 2880],
    ["1h30m", 90],
    ["1d2h3m", 1563],
  ])("parses %s", (text, minutes) => expect(parseDurationMinutes(text)).toBe(minutes));

  it.each(["", "4", "4 hours", "1.5h", "m", "30s", "-1h"])("rejects %j", (text) =>
    expect(parseDurationMinutes(text)).toBeUndefined(),
  );

  it("formats minutes back", () => {
    expect(formatMinutes(1563)).toBe("1d2h3m");
    expect(formatMinutes(0)).toBe("0m");
  });
});
