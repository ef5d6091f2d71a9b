import { describe, expect, it } from "vitest";
import { formatMinutes, parseDurationMinutes } from "./duration";
import { autoReleaseTime, DEPLOY_ALLOWANCE_MINUTES, MAX_TTL_MINUTES, MIN_TTL_MINUTES } from "./ttl";

const ECS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("autoReleaseTime", () => {
  const now = new Date("2026-11-26T12:00:00.250Z");

  it("is ECS's yyyy-MM-ddTHH:mm:ssZ, ttl plus the deploy allowance ahead", () => {
    const t = autoReleaseTime(now, 240);
    expect(t).toMatch(ECS_TIME);
    // 16:10:00.25 rounds up to 16:11: a whole minute whose last digit is not 0 (see below).
    expect(t).toBe("2026-11-26T16:11:00Z");
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

/**
 * The provider's `auto_release_time` DiffSuppressFunc, ported line for line from
 * terraform-provider-alicloud resource_alicloud_instance.go (81c43b67):
 *   return old != "" && new != "" && strings.HasPrefix(new, strings.Trim(old, ":00Z"))
 * Go's strings.Trim removes leading and trailing characters found in the cutset.
 */
function goTrim(s: string, cutset: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && cutset.includes(s[start] as string)) start++;
  while (end > start && cutset.includes(s[end - 1] as string)) end--;
  return s.slice(start, end);
}
const providerSuppresses = (old: string, next: string) =>
  old !== "" && next !== "" && next.startsWith(goTrim(old, ":00Z"));
/** What Read stores after the API answers at minute precision ("…T23:50Z" → "…T23:50:00Z"). */
const readBack = (sent: string) => `${sent.slice(0, 16)}:00Z`;

describe("autoReleaseTime against the provider's diff suppression", () => {
  it("the port reproduces the defect on the old values the issue lists", () => {
    expect(goTrim("2026-12-02T10:00:00Z", ":00Z")).toBe("2026-12-02T1");
    expect(providerSuppresses("2026-12-02T10:00:00Z", "2026-12-02T19:59:00Z")).toBe(true);
    expect(providerSuppresses("2026-12-02T06:10:00Z", "2026-12-02T06:19:00Z")).toBe(true);
    // The third row does not hold: "T" is not in the cutset, so trimming stops there.
    expect(goTrim("2026-12-10T00:00:00Z", ":00Z")).toBe("2026-12-10T");
    expect(providerSuppresses("2026-12-10T00:00:00Z", "2026-12-19T08:00:00Z")).toBe(false);
    expect(providerSuppresses("2026-12-10T00:00:00Z", "2026-12-10T08:00:00Z")).toBe(true);
    expect(providerSuppresses("2026-12-02T06:11:00Z", "2026-12-02T06:12:00Z")).toBe(false);
  });

  it("never hides a change between any two release times the program can produce", () => {
    // Deploy starts around minute, hour, day, month, year and leap-day boundaries, at odd
    // seconds, with short and long ttls: every value a first deploy or an extension can send.
    const windows = [
      "2026-12-02T10:00:00Z",
      "2026-12-02T06:10:00Z",
      "2026-12-10T00:00:00Z",
      "2026-12-31T23:59:00Z",
      "2027-02-28T23:00:00Z",
      "2028-02-29T12:00:00Z",
      "2026-11-26T12:00:00Z",
    ];
    const ttls = [MIN_TTL_MINUTES, 45, 60, 240, 600, 1440, 2880, 14400, 43200];
    const produced = new Set<string>();
    for (const w of windows) {
      const centre = Date.parse(w);
      for (let m = -130; m <= 130; m++) {
        for (const secs of [0, 0.25, 29, 59.999]) {
          const now = new Date(centre + m * 60_000 + secs * 1000);
          for (const ttl of ttls) produced.add(autoReleaseTime(now, ttl));
        }
      }
    }
    const sorted = [...produced].sort();
    expect(sorted.length).toBeGreaterThan(10_000);
    const hidden: string[] = [];
    for (const old of sorted) {
      const stored = readBack(old);
      expect(stored).toBe(old); // whole minutes: what Read stores is what was sent
      // ISO times sort chronologically, so the values sharing the trimmed prefix are contiguous.
      const prefix = goTrim(stored, ":00Z");
      for (let i = lowerBound(sorted, prefix); i < sorted.length; i++) {
        const next = sorted[i] as string;
        if (!next.startsWith(prefix)) break;
        if (next !== old && providerSuppresses(stored, next)) hidden.push(`${old} -> ${next}`);
      }
    }
    expect(hidden.slice(0, 5)).toEqual([]);
  });
});

function lowerBound(sorted: string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as string) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
