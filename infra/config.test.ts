import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  CONFIG_KEYS,
  defaultGatewayImage,
  imageRefProblem,
  parseConfig,
  registryHost,
} from "./config";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const TOKEN = "a".repeat(20) + "B".repeat(20);

function errorsOf(raw: Record<string, unknown>) {
  const r = parseConfig(raw);
  if (r.ok) throw new Error("expected config errors");
  return r.errors;
}

describe("parseConfig", () => {
  it("applies the documented defaults", () => {
    const r = parseConfig({ image: IMAGE });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({
      target: "ecs",
      region: "ap-southeast-1",
      instanceTypes: expect.arrayContaining(["ecs.gn7i-c8g1.2xlarge"]),
      allowedCidrs: ["0.0.0.0/0"],
      sshCidrs: [],
      spot: false,
      ttlMinutes: 240,
      idleStopMinutes: 30,
      gatewayImage: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/gateway:0.1.0",
      tls: { mode: "selfsigned" },
      systemDiskSizeGiB: 100,
    });
    expect(r.config.instanceTypes[0]).toBe("ecs.gn7i-c8g1.2xlarge");
    expect(r.config.token).toBeUndefined();
  });

  it("installs Ubuntu's signed 580-server driver by default; Alibaba's script only pinned or explicitly unverified", () => {
    const r = parseConfig({ image: IMAGE, allowedCidrs: ["198.51.100.0/24"] });
    expect(r.ok && r.config.driver).toEqual({ mode: "apt", branch: "580" });
    const pinned = parseConfig({
      image: IMAGE,
      allowedCidrs: ["198.51.100.0/24"],
      driver: "auto-install",
      driverScriptSha256: "b".repeat(64),
    });
    expect(pinned.ok && pinned.config.driver).toMatchObject({ scriptSha256: "b".repeat(64) });
    expect(pinned.warnings).toEqual([]);
    const unverified = parseConfig({
      image: IMAGE,
      allowedCidrs: ["198.51.100.0/24"],
      driver: "auto-install",
      driverScriptUnverified: "true",
    });
    expect(unverified.ok && unverified.config.driver).toEqual({
      mode: "auto-install",
      driverVersion: "570.133.20",
      cudaVersion: "12.8.1",
      cudnnVersion: "9.8.0.87",
      scriptUnverified: true,
    });
    expect(unverified.warnings).toEqual([
      {
        key: "wan-vace:driverScriptUnverified",
        message: expect.stringMatching(/plain HTTP and run as root without a checksum/),
      },
    ]);
  });

  it("warns, but accepts, 443 open to everyone", () => {
    const r = parseConfig({ image: IMAGE });
    expect(r.warnings.map((w) => w.key)).toEqual(["wan-vace:allowedCidrs"]);
    const narrowed = parseConfig({ image: IMAGE, allowedCidrs: ["198.51.100.0/24"] });
    expect(narrowed.warnings).toEqual([]);
  });

  it("reads Pulumi's string forms: JSON arrays, booleans, integers, qualified keys", () => {
    const r = parseConfig({
      "wan-vace:image": IMAGE,
      "wan-vace:instanceTypes": '["ecs.gn6i-c4g1.xlarge"]',
      "wan-vace:spot": "true",
      "wan-vace:idleStopMinutes": "0",
      "wan-vace:ttl": "1h30m",
      "alicloud:region": "cn-hangzhou",
    });
    expect(r.ok && r.config).toMatchObject({
      instanceTypes: ["ecs.gn6i-c4g1.xlarge"],
      spot: true,
      idleStopMinutes: 0,
      ttlMinutes: 90,
      region: "ap-southeast-1",
    });
  });

  it.each([
    ["a bad CIDR", { allowedCidrs: ["10.0.0.0/33"] }, "wan-vace:allowedCidrs", /not a CIDR/],
    ["a bad SSH CIDR", { sshCidrs: "nope", keyPairName: "k" }, "wan-vace:sshCidrs", /not a CIDR/],
    ["a ttl under 30 minutes", { ttl: "29m" }, "wan-vace:ttl", /at least 30 minutes/],
    ["a ttl of 3 years", { ttl: "1095d" }, "wan-vace:ttl", /less than 3 years/],
    ["a ttl that is not a duration", { ttl: "4 hours" }, "wan-vace:ttl", /not a duration/],
    [
      "Caddy's internal CA, which no ECS client could verify",
      { tls: "internal" },
      "wan-vace:tls",
      /not offered on ECS/,
    ],
    ["an unknown target", { target: "gke" }, "wan-vace:target", /unknown target "gke"/],
    [
      "an empty instance-type list",
      { instanceTypes: [] },
      "wan-vace:instanceTypes",
      /at least one/,
    ],
    [
      "a non-GPU instance type",
      { instanceTypes: ["ecs.g7.xlarge"] },
      "wan-vace:instanceTypes",
      /not a GPU instance type/,
    ],
    [
      "a malformed image reference",
      { image: "Registry/Comfy UI" },
      "wan-vace:image",
      /not a valid image reference/,
    ],
    [
      "an unpinned image",
      { image: "registry.example.com/ns/comfyui" },
      "wan-vace:image",
      /no tag or digest/,
    ],
    [
      "an image on latest",
      { image: "registry.example.com/ns/comfyui:latest" },
      "wan-vace:image",
      /latest/,
    ],
    [
      "a token that is too short",
      { token: "short-token" },
      "wan-vace:token",
      /at least 32 characters/,
    ],
    [
      "a token with unsafe characters",
      { token: `${TOKEN}"; drop` },
      "wan-vace:token",
      /may contain only/,
    ],
    ["acme without a domain", { tls: "acme" }, "wan-vace:domain", /required when tls is "acme"/],
    [
      "an ACME email the gateway cannot take",
      { tls: "acme", domain: "vace.example.com", acmeEmail: "o'brien@example.com" },
      "wan-vace:acmeEmail",
      /email address/,
    ],
    [
      "a driver too old for the image's CUDA 12.8",
      { driver: "auto-install", driverScriptUnverified: true, driverVersion: "550.127.08" },
      "wan-vace:driverVersion",
      /570 or newer/,
    ],
    [
      "an apt driver branch too old for the image's CUDA 12.8",
      { driverBranch: "550" },
      "wan-vace:driverBranch",
      /570 or newer/,
    ],
    // Issue 9, item 10: Alibaba's script comes over plain HTTP and runs as root.
    [
      "Alibaba's driver script with neither a sha256 nor the explicit opt-out",
      { driver: "auto-install" },
      "wan-vace:driverScriptSha256",
      /required with driver "auto-install".*driverScriptUnverified: true/,
    ],
    [
      "the driver script both pinned and marked unverified",
      {
        driver: "auto-install",
        driverScriptSha256: "a".repeat(64),
        driverScriptUnverified: "true",
      },
      "wan-vace:driverScriptUnverified",
      /conflicts with driverScriptSha256/,
    ],
    [
      "a driver-script pin with the default apt driver",
      { driverScriptSha256: "c".repeat(64) },
      "wan-vace:driverScriptSha256",
      /only used with driver "auto-install" \(driver is "apt"\)/,
    ],
    ["a token that is too long", { token: "x".repeat(513) }, "wan-vace:token", /at most 512/],
    [
      "a domain without acme",
      { domain: "vace.example.com" },
      "wan-vace:domain",
      /only used with tls "acme"/,
    ],
    [
      "half of the registry credentials",
      { registryUsername: "u" },
      "wan-vace:registryPassword",
      /go together/,
    ],
    [
      "SSH without a key pair",
      { sshCidrs: ["198.51.100.7/32"] },
      "wan-vace:keyPairName",
      /key-only/,
    ],
    [
      "a preinstalled driver without an image",
      { driver: "preinstalled" },
      "wan-vace:imageId",
      /required/,
    ],
    [
      "a system disk too small for the models",
      { systemDiskSize: 40 },
      "wan-vace:systemDiskSize",
      /at least 60/,
    ],
    ["a typo in a key", { ttls: "4h" }, "wan-vace:ttls", /did you mean wan-vace:ttl\?/],
    // Issue 8, item 7: IPv6 would be a rule that admits no one.
    [
      "an IPv6 CIDR (the endpoint is IPv4 only)",
      { allowedCidrs: ["198.51.100.0/24", "2001:db8::/32"] },
      "wan-vace:allowedCidrs",
      /IPv6, but the endpoint is IPv4 only.*\(item 1\)/,
    ],
    [
      "an IPv6 SSH CIDR",
      { sshCidrs: ["::/0"], keyPairName: "k" },
      "wan-vace:sshCidrs",
      /IPv4 only/,
    ],
    // Issue 8, item 10.
    [
      "a duplicate CIDR (two rules with one name)",
      { allowedCidrs: ["198.51.100.0/24", "198.51.100.0/24"] },
      "wan-vace:allowedCidrs",
      /lists 198\.51\.100\.0\/24 more than once/,
    ],
    [
      "a CIDR with host bits set",
      { allowedCidrs: ["203.0.113.7/24"] },
      "wan-vace:allowedCidrs",
      /host bits set; write 203\.0\.113\.0\/24 for the network, or 203\.0\.113\.7\/32/,
    ],
    [
      "an unknown region",
      { region: "ap-southeast-99" },
      "wan-vace:region",
      /not an Alibaba Cloud region id; did you mean ap-southeast-/,
    ],
    [
      "an instance type typo",
      { instanceTypes: ["ecs.gn7i-c8g1.2xlarg"] },
      "wan-vace:instanceTypes",
      /did you mean ecs\.gn7i-c8g1\.2xlarge\? \(item 0\)/,
    ],
    [
      "an image in another region's registry",
      { image: "registry-vpc.cn-hangzhou.aliyuncs.com/wan-vace/comfyui:0.1.0" },
      "wan-vace:image",
      /in cn-hangzhou, but the stack deploys to ap-southeast-1.*registry-vpc\.ap-southeast-1/,
    ],
    [
      "an image on the public registry endpoint",
      { image: "registry.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0" },
      "wan-vace:image",
      /public endpoint.*registry-vpc\.ap-southeast-1\.aliyuncs\.com/,
    ],
    [
      "a gateway image in another region",
      { gatewayImage: "registry-vpc.eu-central-1.aliyuncs.com/wan-vace/gateway:0.1.0" },
      "wan-vace:gatewayImage",
      /in eu-central-1/,
    ],
    ["a ttl without a unit", { ttl: 4 }, "wan-vace:ttl", /^4 has no unit; write 4h for hours/],
    ["a ttl given as the string 4", { ttl: "4" }, "wan-vace:ttl", /4 has no unit/],
    [
      "an owner the tag rules reject",
      { owner: "aliyun-ml" },
      "wan-vace:owner",
      /reserves in tag values/,
    ],
  ])("rejects %s, naming the key", (_what, bad, key, message) => {
    const errors = errorsOf({ image: IMAGE, ...bad });
    const hit = errors.find((e) => e.key === key);
    expect(hit, JSON.stringify(errors)).toBeDefined();
    expect(hit?.message).toMatch(message);
  });

  it("warns, but accepts, an image pulled from outside Alibaba (billed EIP traffic)", () => {
    const r = parseConfig({
      image: "ghcr.io/team/comfyui:0.1.0",
      allowedCidrs: ["198.51.100.0/24"],
    });
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([
      { key: "wan-vace:image", message: expect.stringMatching(/outside Alibaba Cloud/) },
    ]);
  });

  it("requires the image", () => {
    expect(errorsOf({})).toEqual([
      expect.objectContaining({
        key: "wan-vace:image",
        message: expect.stringMatching(/required/),
      }),
    ]);
  });

  it("reports every problem at once, including cross-key ones", () => {
    const errors = errorsOf({
      target: "gke",
      ttl: "5m",
      allowedCidrs: ["x"],
      token: "short",
      tls: "acme",
    });
    expect(errors.map((e) => e.key).sort()).toEqual(
      [
        "wan-vace:allowedCidrs",
        "wan-vace:domain",
        "wan-vace:image",
        "wan-vace:target",
        "wan-vace:token",
        "wan-vace:ttl",
      ].sort(),
    );
  });

  it("never echoes a secret value in an error", () => {
    const secret = "tooshort-but-secret";
    const errors = errorsOf({ image: IMAGE, token: secret });
    expect(JSON.stringify(errors)).not.toContain(secret);
  });

  const project = () =>
    parseYaml(readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };

  it("keeps Pulumi.yaml's schema defaults equal to the code's", () => {
    const { config } = project();
    const withSchemaDefaults = Object.fromEntries(
      Object.entries(config).flatMap(([k, v]) => (v.default === undefined ? [] : [[k, v.default]])),
    );
    expect(parseConfig({ ...withSchemaDefaults, image: IMAGE })).toEqual(
      parseConfig({ image: IMAGE }),
    );
    // Every key the schema declares is one the code accepts (no silent drift).
    expect(Object.keys(config).filter((k) => !CONFIG_KEYS.includes(k))).toEqual([]);
  });

  it("declares no optional key without a default in Pulumi.yaml (Pulumi would make it required)", () => {
    const undefaulted = Object.entries(project().config).filter(([, v]) => v.default === undefined);
    expect(undefaulted.map(([k]) => k)).toEqual(["image"]);
    // The optional ones are still listed there, in the comment above the schema.
    const text = readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8");
    expect(CONFIG_KEYS.filter((k) => !new RegExp(`^(#   |  )${k}:`, "m").test(text))).toEqual([]);
  });

  it("documents every config key in the README's table", () => {
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
    expect(CONFIG_KEYS.filter((k) => !readme.includes(`\`${k}\``))).toEqual([]);
  });

  it("validates the example stack", () => {
    const stack = parseYaml(readFileSync(join(__dirname, "..", "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    const r = parseConfig(stack.config);
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });
});

describe("image references", () => {
  it.each([
    "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
    `crpi-abc.ap-southeast-1.personal.cr.aliyuncs.com/ns/comfyui@sha256:${"0".repeat(64)}`,
    "localhost:5000/comfyui:v1",
    "library/caddy:2.6.2",
  ])("accepts %s", (ref) => expect(imageRefProblem(ref)).toBeUndefined());

  it("derives the gateway image and registry host", () => {
    expect(defaultGatewayImage("localhost:5000/ns/comfyui:v1")).toBe(
      "localhost:5000/ns/gateway:v1",
    );
    expect(
      defaultGatewayImage(`r.example.com/ns/comfyui@sha256:${"1".repeat(64)}`),
    ).toBeUndefined();
    expect(registryHost("localhost:5000/ns/comfyui:v1")).toBe("localhost:5000");
    expect(registryHost("ns/comfyui:v1")).toBe("docker.io");
  });

  it("asks for gatewayImage when the image is pinned by digest alone", () => {
    const errors = errorsOf({ image: `r.example.com/ns/comfyui@sha256:${"1".repeat(64)}` });
    expect(errors).toEqual([expect.objectContaining({ key: "wan-vace:gatewayImage" })]);
  });
});
