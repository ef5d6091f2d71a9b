import { describe, expect, it } from "vitest";
import { namePrefix, stackNameIssues } from "./naming";

/** RAM RoleName: 1-64 letters, digits, `.` and `-`. PolicyName: 1-128 letters, digits and `-`. */
const RAM_ROLE = /^[A-Za-z0-9.-]{1,64}$/;
const RAM_POLICY = /^[A-Za-z0-9-]{1,128}$/;
/** ECS Linux HostName: segments of letters, digits and `-`, no leading/trailing or doubled `-`. */
const HOSTNAME = /^(?=.{2,64}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/;

describe("namePrefix", () => {
  it.each([
    ["dev", "vace-dev"],
    ["team_a-dev", "vace-team-a-dev"],
    ["team--a", "vace-team-a"],
    ["ends-", "vace-ends"],
    ["a.b_c", "vace-a-b-c"],
    [`${"x".repeat(39)}_y`, `vace-${"x".repeat(39)}`],
    ["___", "vace"],
  ])("%s → %s", (stack, prefix) => expect(namePrefix(stack)).toBe(prefix));

  it.each(["dev", "team_a-dev", "team--a", "ends-", "a.b_c", "Prod_EU.2", "x".repeat(80), "-_-"])(
    "gives valid RAM role, policy and host names for stack %j",
    (stack) => {
      const prefix = namePrefix(stack);
      // The account-wide names add "-<6-char suffix>-<what>" (infra/ecs).
      expect(`${prefix}-abc123-instance`).toMatch(RAM_ROLE);
      expect(`${prefix}-abc123-instance`).toMatch(RAM_POLICY);
      expect(prefix).toMatch(HOSTNAME);
    },
  );
});

describe("stackNameIssues", () => {
  it("rejects stack names the tag rules reject, and accepts the rest", () => {
    expect(stackNameIssues("aliyun-dev")).toEqual([
      { key: "stack", message: expect.stringMatching(/reserves in tag values.*pulumi stack init/) },
    ]);
    expect(stackNameIssues("ALIYUN")).toHaveLength(1);
    expect(stackNameIssues("team_a-dev")).toEqual([]);
    expect(stackNameIssues("httpbin")).toEqual([]);
  });
});
