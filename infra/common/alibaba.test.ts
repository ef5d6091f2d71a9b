import { describe, expect, it } from "vitest";
import {
  ALIBABA_REGIONS,
  cidrProblem,
  closest,
  instanceTypeProblem,
  regionProblem,
  registryAdvice,
  tagValueProblem,
} from "./alibaba";

describe("regions", () => {
  it("knows the provider's regions and suggests the nearest for a typo", () => {
    expect(ALIBABA_REGIONS).toContain("ap-southeast-1");
    expect(regionProblem("ap-southeast-1")).toBeUndefined();
    expect(regionProblem("cn-hangzhou")).toBeUndefined();
    expect(regionProblem("ap-southeast-99")).toMatch(
      /not an Alibaba Cloud region id; did you mean ap-southeast-\d\?/,
    );
    expect(regionProblem("cn-hangzou")).toMatch(/did you mean cn-hangzhou\?/);
    expect(regionProblem("mars-north-1")).toMatch(/e\.g\. ap-southeast-1/);
  });
});

describe("instance types", () => {
  it("accepts the supported GPU families in every size form", () => {
    for (const t of [
      "ecs.gn7i-c8g1.2xlarge",
      "ecs.gn8is.2xlarge",
      "ecs.gn6i-c4g1.xlarge",
      "ecs.gn8v-2x.8xlarge",
      "ecs.ebmgn7e.32xlarge",
    ])
      expect(instanceTypeProblem(t), t).toBeUndefined();
  });

  it("names the broken part and says what was probably meant", () => {
    expect(instanceTypeProblem("ecs.gn7i-c8g1.2xlarg")).toBe(
      '"ecs.gn7i-c8g1.2xlarg" has no size "2xlarg" (sizes are large, xlarge, 2xlarge, 4xlarge, …); did you mean ecs.gn7i-c8g1.2xlarge?',
    );
    expect(instanceTypeProblem("ecs.gn7-c8g1.2xlarge")).toMatch(
      /not a GPU instance type we support .*; did you mean ecs\.gn7i-c8g1\.2xlarge\?/,
    );
    expect(instanceTypeProblem("ecs.g7.xlarge")).toMatch(/not a GPU instance type/);
    expect(instanceTypeProblem("gn7i-c8g1.2xlarge")).toMatch(/not an ECS instance type/);
  });
});

describe("CIDRs", () => {
  it("accepts IPv4 networks", () => {
    for (const c of ["0.0.0.0/0", "203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8"])
      expect(cidrProblem(c), c).toBeUndefined();
  });

  it("rejects IPv6: nothing in the deployment has an IPv6 address", () => {
    expect(cidrProblem("2001:db8::/32")).toMatch(/IPv6, but the endpoint is IPv4 only/);
    expect(cidrProblem("::/0")).toMatch(/IPv6/);
  });

  it("rejects host bits, offering both readings", () => {
    expect(cidrProblem("203.0.113.7/24")).toBe(
      '"203.0.113.7/24" has host bits set; write 203.0.113.0/24 for the network, or 203.0.113.7/32 for the one address',
    );
    expect(cidrProblem("10.1.2.3/8")).toMatch(/write 10\.0\.0\.0\/8/);
  });

  it.each(["203.0.113.0", "203.0.113.0/33", "256.0.0.0/8", "01.2.3.4/32", "1.2.3.4/8/9", "x/1"])(
    "rejects malformed %s",
    (c) => expect(cidrProblem(c)).toMatch(/not a CIDR block/),
  );
});

describe("tag values", () => {
  it("rejects the prefixes Alibaba reserves, in any case", () => {
    for (const v of ["aliyun", "Aliyun-team", "acs:x", "http://x", "HTTPS://x"])
      expect(tagValueProblem(v), v).toMatch(/reserves in tag values/);
    for (const v of ["team-a", "wan-vace", "httpbin", "my-aliyun"])
      expect(tagValueProblem(v), v).toBeUndefined();
  });
});

describe("registry placement", () => {
  const region = "ap-southeast-1";
  it("accepts the region's VPC endpoints", () => {
    expect(registryAdvice("registry-vpc.ap-southeast-1.aliyuncs.com", region)).toBeUndefined();
    expect(
      registryAdvice("team-registry-vpc.ap-southeast-1.cr.aliyuncs.com", region),
    ).toBeUndefined();
  });

  it("refuses another region's registry, naming the one to use", () => {
    expect(registryAdvice("registry-vpc.cn-hangzhou.aliyuncs.com", region)).toEqual({
      level: "error",
      message: expect.stringMatching(
        /in cn-hangzhou, but the stack deploys to ap-southeast-1: .* use registry-vpc\.ap-southeast-1\.aliyuncs\.com/,
      ),
    });
    expect(registryAdvice("team-registry.cn-beijing.cr.aliyuncs.com", region)?.message).toMatch(
      /use team-registry-vpc\.ap-southeast-1\.cr\.aliyuncs\.com/,
    );
  });

  it("refuses the public endpoint (billed EIP traffic), naming the VPC one", () => {
    expect(registryAdvice("registry.ap-southeast-1.aliyuncs.com", region)).toEqual({
      level: "error",
      message: expect.stringMatching(
        /public endpoint.*use the VPC endpoint registry-vpc\.ap-southeast-1\.aliyuncs\.com/,
      ),
    });
    expect(
      registryAdvice("crpi-abc123.ap-southeast-1.personal.cr.aliyuncs.com", region)?.message,
    ).toMatch(/VPC endpoint crpi-abc123-vpc\.ap-southeast-1\.personal\.cr\.aliyuncs\.com/);
    expect(registryAdvice("team-registry.ap-southeast-1.cr.aliyuncs.com", region)?.message).toMatch(
      /VPC endpoint team-registry-vpc\.ap-southeast-1\.cr\.aliyuncs\.com/,
    );
  });

  it("warns about registries outside Alibaba", () => {
    expect(registryAdvice("docker.io", region)?.level).toBe("warning");
    expect(registryAdvice("ghcr.io", region)?.level).toBe("warning");
  });
});

describe("closest", () => {
  it("returns the nearest known value within the distance, or nothing", () => {
    expect(closest("instanceType", ["instanceTypes", "image"])).toBe("instanceTypes");
    expect(closest("zzzzzzzz", ["image"])).toBeUndefined();
  });
});
