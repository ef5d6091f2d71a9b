import { describe, expect, it } from "vitest";
import { instancePolicy } from "./iam";

const inputs = {
  region: "ap-southeast-1",
  accountId: "5123456789012345",
  secretParameterName: "vace-dev-k3x9q2-boot",
  instanceId: "i-t4n0123456789",
};
type Statement = { Effect: string; Action: string[]; Resource: string[] };
const statements = () => JSON.parse(instancePolicy(inputs)).Statement as Statement[];

describe("the instance role's policy", () => {
  it("reads only its own secret parameter and stops only its own instance", () => {
    const byAction = Object.fromEntries(
      statements().flatMap((s) => s.Action.map((a) => [a, s.Resource])),
    );
    expect(byAction["oos:GetSecretParameter"]).toEqual([
      "acs:oos:ap-southeast-1:5123456789012345:secretparameter/vace-dev-k3x9q2-boot",
    ]);
    expect(byAction["ecs:StopInstance"]).toEqual([
      "acs:ecs:ap-southeast-1:5123456789012345:instance/i-t4n0123456789",
    ]);
  });

  it("grants KMS only GetSecretValue, on secrets of its region and account: no key use", () => {
    const kms = statements().filter((s) => s.Action.some((a) => a.startsWith("kms:")));
    expect(kms.flatMap((s) => s.Action)).toEqual(["kms:GetSecretValue"]);
    expect(kms.flatMap((s) => s.Resource)).toEqual([
      "acs:kms:ap-southeast-1:5123456789012345:secret/*",
    ]);
  });

  it("never uses a service-wide or account-wide wildcard resource", () => {
    for (const s of statements()) {
      expect(s.Effect).toBe("Allow");
      for (const r of s.Resource) {
        expect(r).toMatch(/^acs:(oos|kms|ecs):ap-southeast-1:5123456789012345:[a-z]+\/\S+$/);
        expect(r).not.toMatch(/:\*$/);
      }
    }
  });
});
