/** The ACS keys through the one config parser: defaults, every bad input named, target crossings. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../config";
import { ACS_DEFAULTS, ACS_ONLY_KEYS, ECS_ONLY_KEYS, GPU_SERIES, MAX_REPLICAS } from "./settings";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const CLUSTER = `c${"0123456789abcdef".repeat(2)}`;
const ACS = { image: IMAGE, target: "acs", zones: ["ap-southeast-1a"] };

function errorsOf(raw: Record<string, unknown>) {
  const r = parseConfig(raw);
  if (r.ok) throw new Error(`expected config errors for ${JSON.stringify(raw)}`);
  return r.errors;
}

describe("ACS config", () => {
  it("applies the documented defaults and keeps the shared keys", () => {
    const r = parseConfig({ ...ACS, allowedCidrs: ["198.51.100.0/24"] });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok) return;
    expect(r.config.acs).toEqual({
      gpuModelSeries: "L20",
      replicas: 1,
      podCpu: 8,
      podMemoryGiB: 32,
      ephemeralStorageGiB: 60,
      driverVersion: "570.133.20",
      imageCache: false,
    });
    expect(r.config).toMatchObject({
      ttlMinutes: 240,
      idleStopMinutes: 30,
      tls: { mode: "selfsigned" },
    });
    expect(r.warnings).toEqual([]);
    expect(ACS_DEFAULTS.gpuModelSeries in GPU_SERIES).toBe(true);
  });

  it("takes an existing cluster, parked replicas and Pulumi's string forms", () => {
    const r = parseConfig({
      "wan-vace:image": IMAGE,
      "wan-vace:target": "acs",
      "wan-vace:clusterId": CLUSTER,
      "wan-vace:replicas": "0",
      "wan-vace:podCpu": "16",
      "wan-vace:podMemory": "60",
      "wan-vace:gpuModelSeries": "A10",
    });
    expect(r.ok && r.config.acs).toEqual({
      clusterId: CLUSTER,
      gpuModelSeries: "A10",
      replicas: 0,
      podCpu: 16,
      podMemoryGiB: 60,
      ephemeralStorageGiB: 60,
      driverVersion: "570.133.20",
      imageCache: false,
    });
  });

  it("has no acs section on ECS, and ECS stacks are unchanged", () => {
    const r = parseConfig({ image: IMAGE });
    expect(r.ok && r.config.acs).toBeUndefined();
  });

  it.each([
    [
      "an unknown GPU series",
      { gpuModelSeries: "H100" },
      "wan-vace:gpuModelSeries",
      /unknown GPU series "H100"; ACS lists L20, GN8IS, A10, T4/,
    ],
    ["too few vCPU for a GPU pod", { podCpu: 1 }, "wan-vace:podCpu", /at least 2/],
    [
      "more vCPU than an L20 pod takes",
      { podCpu: 20 },
      "wan-vace:podCpu",
      /must be 2-16 vCPU for a one-GPU L20 pod/,
    ],
    ["memory under the model's floor", { podMemory: 8 }, "wan-vace:podMemory", /at least 16/],
    [
      "more memory than an A10 pod takes",
      { gpuModelSeries: "A10", podMemory: 61 },
      "wan-vace:podMemory",
      /at most 60 GiB for a one-GPU A10 pod/,
    ],
    [
      "more memory per vCPU than L20 allows",
      { podCpu: 4, podMemory: 40 },
      "wan-vace:podMemory",
      /at most 8 GiB per vCPU .* \(32 GiB with podCpu 4\), got 40/,
    ],
    [
      "ephemeral storage beyond the L20 range",
      { ephemeralStorage: 300 },
      "wan-vace:ephemeralStorage",
      /30-256 GiB/,
    ],
    [
      "ephemeral storage below the free 30 GiB",
      { ephemeralStorage: 20 },
      "wan-vace:ephemeralStorage",
      /at least 30/,
    ],
    ["negative replicas", { replicas: -1 }, "wan-vace:replicas", /at least 0/],
    [
      "replicas above the limit",
      { replicas: MAX_REPLICAS + 1 },
      "wan-vace:replicas",
      new RegExp(`at most ${MAX_REPLICAS}`),
    ],
    [
      "a malformed clusterId",
      { clusterId: "my-cluster" },
      "wan-vace:clusterId",
      /not an ACS cluster id/,
    ],
    [
      "zones together with clusterId",
      { clusterId: CLUSTER },
      "wan-vace:zones",
      /only used when the stack creates the cluster/,
    ],
    [
      "acme without a domain",
      { tls: "acme", allowedCidrs: ["0.0.0.0/0"] },
      "wan-vace:domain",
      /required when tls is "acme"/,
    ],
    [
      "acme behind a narrowed ACL",
      { tls: "acme", domain: "vace.example.com", allowedCidrs: ["198.51.100.0/24"] },
      "wan-vace:allowedCidrs",
      /needs the load balancer open to the CA/,
    ],
    [
      "an IPv6 range for the IPv4 ACL",
      { allowedCidrs: ["2001:db8::/32"] },
      "wan-vace:allowedCidrs",
      /IPv6/,
    ],
    [
      "a driver too old for CUDA 12.8",
      { driverVersion: "550.90.07" },
      "wan-vace:driverVersion",
      /570 or newer/,
    ],
    [
      "an ECS key: instanceTypes",
      { instanceTypes: ["ecs.gn7i-c8g1.2xlarge"] },
      "wan-vace:instanceTypes",
      /ECS setting .* target "acs"/,
    ],
    ["an ECS key: spot", { spot: true }, "wan-vace:spot", /ECS setting/],
    [
      "an ECS key: sshCidrs",
      { sshCidrs: ["198.51.100.7/32"], keyPairName: "k" },
      "wan-vace:sshCidrs",
      /ECS setting/,
    ],
  ])("rejects %s, naming the key", (_what, bad, key, message) => {
    const errors = errorsOf({ ...ACS, ...bad });
    const hit = errors.find((e) => e.key === key);
    expect(hit, JSON.stringify(errors)).toBeDefined();
    expect(hit?.message).toMatch(message);
  });

  it("needs zones for a new cluster", () => {
    const errors = errorsOf({ image: IMAGE, target: "acs" });
    expect(errors).toEqual([
      expect.objectContaining({
        key: "wan-vace:zones",
        message: expect.stringMatching(/required with target "acs" and no clusterId/),
      }),
    ]);
    expect(
      errorsOf({
        ...ACS,
        zones: ["ap-x-1a", "ap-x-1b", "ap-x-1c", "ap-x-1d", "ap-x-1e", "ap-x-1f"],
      }),
    ).toEqual([
      expect.objectContaining({
        key: "wan-vace:zones",
        message: expect.stringMatching(/at most 5 zones/),
      }),
    ]);
  });

  it("rejects ACS keys on ECS, naming each", () => {
    const errors = errorsOf({
      image: IMAGE,
      clusterId: CLUSTER,
      replicas: 2,
      gpuModelSeries: "T4",
    });
    expect(errors.map((e) => e.key).sort()).toEqual(
      ["wan-vace:clusterId", "wan-vace:gpuModelSeries", "wan-vace:replicas"].sort(),
    );
    expect(errors[0]?.message).toMatch(/ACS setting .* set target: acs/);
  });

  it("treats a key equal to its declared default as unset (Pulumi fills Pulumi.yaml's defaults in)", () => {
    const project = parseYaml(readFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };
    const defaults = Object.fromEntries(
      Object.entries(project.config).flatMap(([k, v]) =>
        v.default === undefined ? [] : [[k, v.default]],
      ),
    );
    // Every target-specific key with a default is declared, so both targets see them all.
    for (const k of [...ECS_ONLY_KEYS, ...ACS_ONLY_KEYS].filter(
      (k) =>
        k !== "clusterId" && k !== "keyPairName" && k !== "driverScriptSha256" && k !== "imageId",
    ))
      expect(Object.keys(defaults), k).toContain(k);
    const acs = parseConfig({ ...defaults, ...ACS, allowedCidrs: ["198.51.100.0/24"] });
    expect(acs.ok, JSON.stringify(acs)).toBe(true);
    const ecs = parseConfig({ ...defaults, image: IMAGE });
    expect(ecs.ok, JSON.stringify(ecs)).toBe(true);
  });

  it("warns about whitelist-only series and about idle scale-down with several replicas", () => {
    const r = parseConfig({
      ...ACS,
      gpuModelSeries: "GU8TF",
      replicas: 2,
      allowedCidrs: ["198.51.100.0/24"],
    });
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.key)).toEqual([
      "wan-vace:gpuModelSeries",
      "wan-vace:gpuModelSeries",
      "wan-vace:idleStopMinutes",
    ]);
    expect(r.warnings[0]?.message).toMatch(/whitelist ticket.*FeatureGetNoPermission/);
  });

  it("reports every ACS problem at once", () => {
    const errors = errorsOf({
      image: IMAGE,
      target: "acs",
      gpuModelSeries: "nope",
      replicas: 9,
      clusterId: "x",
      spot: true,
      podCpu: 40,
    });
    expect(errors.map((e) => e.key).sort()).toEqual(
      [
        "wan-vace:clusterId",
        "wan-vace:gpuModelSeries",
        "wan-vace:podCpu",
        "wan-vace:replicas",
        "wan-vace:spot",
      ].sort(),
    );
  });

  it("validates the example ACS stack", () => {
    const stack = parseYaml(
      readFileSync(join(__dirname, "..", "..", "Pulumi.acs.yaml"), "utf8"),
    ) as {
      config: Record<string, unknown>;
    };
    const r = parseConfig(stack.config);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.ok && r.config.target).toBe("acs");
  });
});

describe("wan-vace:imageCache", () => {
  const PINNED = `${IMAGE}@sha256:${"ab".repeat(32)}`;

  it("is off by default and turns on with a digest-pinned image (Pulumi's string form too)", () => {
    const r = parseConfig({ ...ACS, image: PINNED, imageCache: "true" });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.ok && r.config.acs?.imageCache).toBe(true);
    const digestOnly = parseConfig({
      ...ACS,
      image: `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui@sha256:${"cd".repeat(32)}`,
      gatewayImage: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/gateway:0.1.0",
      imageCache: true,
    });
    expect(digestOnly.ok, JSON.stringify(digestOnly)).toBe(true);
  });

  it("is an error on target ecs, naming it", () => {
    const errors = errorsOf({ image: PINNED, imageCache: true });
    expect(errors).toEqual([
      expect.objectContaining({
        key: "wan-vace:imageCache",
        message: expect.stringMatching(/ACS setting .* target "ecs"/),
      }),
    ]);
  });

  it("needs the image pinned by digest: a tag can move under a cache matched by name", () => {
    expect(errorsOf({ ...ACS, imageCache: true })).toEqual([
      expect.objectContaining({
        key: "wan-vace:imageCache",
        message: expect.stringMatching(/pinned by digest .*comfyui:0\.1\.0.* pinned by tag only/),
      }),
    ]);
  });

  it("lists every problem at once: not a boolean, with the other bad keys", () => {
    const errors = errorsOf({ ...ACS, imageCache: "yes", replicas: 9 });
    expect(errors.map((e) => e.key).sort()).toEqual(["wan-vace:imageCache", "wan-vace:replicas"]);
    expect(errors.find((e) => e.key === "wan-vace:imageCache")?.message).toMatch(/true or false/);
    // The digest rule and a size rule, reported together.
    expect(
      errorsOf({ ...ACS, imageCache: true, podMemory: 100 })
        .map((e) => e.key)
        .sort(),
    ).toEqual(["wan-vace:imageCache", "wan-vace:podMemory"]);
  });
});
