import { describe, expect, it } from "vitest";
import { ossBackendProblems, ossBackendUrl } from "./backend";

describe("OSS backend URL (PULUMI_BACKEND_URL for CI)", () => {
  it("points Pulumi's S3 client at OSS's S3-compatible endpoint, virtual-hosted style", () => {
    const url = ossBackendUrl({
      bucket: "acme-pulumi-state",
      region: "ap-southeast-1",
      prefix: "wan-vace/ci",
    });
    expect(url).toBe(
      "s3://acme-pulumi-state/wan-vace/ci?endpoint=https%3A%2F%2Fs3.oss-ap-southeast-1.aliyuncs.com&region=ap-southeast-1",
    );
    // What Pulumi's blob driver reads back: the query parameters decoded.
    const parsed = new URL(url);
    expect(parsed.protocol).toBe("s3:");
    expect(parsed.host).toBe("acme-pulumi-state");
    expect(parsed.pathname).toBe("/wan-vace/ci");
    expect(Object.fromEntries(parsed.searchParams)).toEqual({
      endpoint: "https://s3.oss-ap-southeast-1.aliyuncs.com",
      region: "ap-southeast-1",
    });
    expect(url).not.toMatch(/path_style|ForcePathStyle/);
  });

  it("uses the VPC-internal endpoint when asked", () => {
    expect(ossBackendUrl({ bucket: "b-1x", region: "cn-hangzhou", internal: true })).toBe(
      "s3://b-1x?endpoint=https%3A%2F%2Fs3.oss-cn-hangzhou-internal.aliyuncs.com&region=cn-hangzhou",
    );
  });

  it("names every bad input at once", () => {
    expect(
      ossBackendProblems({ bucket: "Bad_Bucket", region: "Singapore", prefix: "/x/" }),
    ).toEqual([
      expect.stringMatching(/^--bucket "Bad_Bucket": OSS bucket names are 3-63/),
      expect.stringMatching(/^--region "Singapore"/),
      expect.stringMatching(/^--prefix "\/x\/"/),
    ]);
    expect(() => ossBackendUrl({ bucket: "ab", region: "ap-southeast-1" })).toThrow(
      /--bucket "ab"/,
    );
  });
});
