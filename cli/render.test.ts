/**
 * `vace render` (design.md contract 2): bad config exits 2 naming every key; the example stack
 * renders to one JSON document whose user-data passes `cloud-init schema`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import type { RenderResult } from "../infra/offline/render";
import { requireBinary } from "../test/binaries";
import { SLOW } from "../test/slow";
import { redactToken, runCli } from "./index";
import { chooseStack, formatSummary, stackOfFile } from "./render";

const ROOT = join(__dirname, "..");
const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "vace-render-"));

function stackFile(config: Record<string, unknown>): string {
  const file = join(dir, `stack-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ config }));
  return file;
}

/** Runs the CLI in-process, capturing what it writes. */
async function render(args: string[]) {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((c) => {
    stdout += String(c);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((c) => {
    stderr += String(c);
    return true;
  });
  // The program's own warnings (pulumi.log.warn) go through console.warn: part of what render says.
  const warn = vi.spyOn(console, "warn").mockImplementation((...a: unknown[]) => {
    stderr += `${a.join(" ")}\n`;
  });
  // The program registers its resources when index.ts loads: a fresh module graph per render.
  vi.resetModules();
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const code = await runCli(["node", "vace", "render", ...args]);
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
    out.mockRestore();
    err.mockRestore();
    warn.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("render with bad config", () => {
  it.each([
    ["a bad CIDR", { "wan-vace:allowedCidrs": ["203.0.113.0/40"] }, "wan-vace:allowedCidrs"],
    ["a ttl under 30 minutes", { "wan-vace:ttl": "20m" }, "wan-vace:ttl"],
    ["an unknown target", { "wan-vace:target": "k8s" }, "wan-vace:target"],
    ["an empty instance-type list", { "wan-vace:instanceTypes": [] }, "wan-vace:instanceTypes"],
    [
      "a non-GPU instance type",
      { "wan-vace:instanceTypes": ["ecs.c7.large"] },
      "wan-vace:instanceTypes",
    ],
    ["a malformed image reference", { "wan-vace:image": "not an image" }, "wan-vace:image"],
    ["a token that is too short", { "wan-vace:token": "abc123" }, "wan-vace:token"],
  ])("exits 2 on %s, naming the key", async (_what, bad, key) => {
    const r = await render([
      "--config",
      stackFile({ "wan-vace:image": IMAGE, ...bad }),
      "--format",
      "json",
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${key}:`);
  });

  it("lists every problem in one run", async () => {
    const r = await render([
      "--config",
      stackFile({
        "wan-vace:ttl": "1m",
        "wan-vace:target": "x",
        "wan-vace:allowedCidrs": ["nope"],
      }),
    ]);
    expect(r.code).toBe(2);
    for (const key of [
      "wan-vace:ttl",
      "wan-vace:target",
      "wan-vace:allowedCidrs",
      "wan-vace:image",
    ]) {
      expect(r.stderr).toContain(`${key}:`);
    }
    expect(r.stderr).toMatch(/4 problems/);
  });

  it("exits 2 for a missing stack file and for a bad --format", async () => {
    const missing = await render(["--stack", "no-such-stack"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--stack: cannot read .*Pulumi\.no-such-stack\.yaml/);
    expect((await render(["--format", "xml"])).code).toBe(2);
  });

  it("renders target acs instead of refusing it; its bad input is named (infra/acs/render.test.ts)", async () => {
    const r = await render([
      "--config",
      stackFile({ "wan-vace:image": IMAGE, "wan-vace:target": "acs" }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/wan-vace:zones: is required with target "acs" and no clusterId/);
    expect(r.stderr).not.toMatch(/not built yet/);
  });
});

describe("render of the example stack", SLOW, () => {
  it("prints one JSON document with the contract's keys, secrets as [secret]", async () => {
    const r = await render(["--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.target).toBe("ecs");
    expect(doc.resources.length).toBeGreaterThanOrEqual(15);
    for (const res of doc.resources)
      expect(Object.keys(res).sort()).toEqual(["inputs", "name", "type"]);
    const types = doc.resources.map((x: { type: string }) => x.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "alicloud:vpc/network:Network",
        "alicloud:vpc/switch:Switch",
        "alicloud:ecs/securityGroup:SecurityGroup",
        "alicloud:ecs/securityGroupRule:SecurityGroupRule",
        "alicloud:ecs/eipAddress:EipAddress",
        "alicloud:ecs/eipAssociation:EipAssociation",
        "alicloud:ecs/instance:Instance",
        "alicloud:oos/secretParameter:SecretParameter",
        "alicloud:ram/role:Role",
      ]),
    );
    const secret = doc.resources.find(
      (x: { type: string }) => x.type === "alicloud:oos/secretParameter:SecretParameter",
    );
    expect(secret.inputs.value).toBe("[secret]");
    expect(doc.outputs.token).toBe("[secret]");
    expect(doc.gateway.env.VACE_TOKEN).toBe("[secret]");
    expect(doc.gateway.caddyfile.length).toBeGreaterThan(100);
    expect(doc.userData).toMatch(/^#cloud-config\n/);
    // Cloud lookups are marked, never invented.
    const instance = doc.resources.find(
      (x: { type: string }) => x.type === "alicloud:ecs/instance:Instance",
    );
    expect(instance.inputs.availabilityZone).toBe("<lookup:zone>");
    expect(instance.inputs.imageId).toMatch(/^<lookup:image /);
    expect(doc.manifests).toBeUndefined();

    // The decoded user-data is valid cloud-config.
    requireBinary("cloud-init");
    const file = join(dir, "user-data.yaml");
    writeFileSync(file, doc.userData);
    const schema = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(schema.status, schema.stdout + schema.stderr).toBe(0);
    expect(schema.stdout).toMatch(/Valid cloud-config/);
  });

  it("warns on stderr that 443 is open to the internet when allowedCidrs is left open", async () => {
    const r = await render(["--format", "json", "--short"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: [runtime] wan-vace:allowedCidrs: port 443 is open");
    // --short leaves the user-data out of JSON too; every output is there, null when it has no value.
    const doc = JSON.parse(r.stdout);
    expect(doc.userData).toBeUndefined();
    expect(doc.outputs).toHaveProperty("hourlyPrice", null);
    expect(Object.keys(doc.outputs)).toContain("expiresAt");
  });

  it("works as written in the contract: npm run --silent vace -- render --format json", () => {
    const stdout = execFileSync(
      "npm",
      ["run", "--silent", "vace", "--", "render", "--format", "json"],
      {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const doc = JSON.parse(stdout);
    expect(Object.keys(doc)).toEqual(
      expect.arrayContaining(["target", "resources", "userData", "gateway"]),
    );
  });
});

describe("unexpected errors", () => {
  it("never print the token, whether it came from VACE_TOKEN or --token", async () => {
    const token = "tok3n-value-that-is-long-enough-0123456789";
    const before = process.env.VACE_TOKEN;
    process.env.VACE_TOKEN = token;
    try {
      expect(redactToken(`at fetch(${token})`, [])).toBe("at fetch([redacted])");
    } finally {
      if (before === undefined) delete process.env.VACE_TOKEN;
      else process.env.VACE_TOKEN = before;
    }
    expect(redactToken(`Bearer ${token}`, ["node", "vace", "smoke", "--token", token])).toBe(
      "Bearer [redacted]",
    );
    expect(redactToken(`x ${token}`, ["node", "vace", "smoke", `--token=${token}`])).toBe(
      "x [redacted]",
    );
    expect(redactToken("nothing to hide", ["--token"])).toBe("nothing to hide");
  });
});

describe("which stack a --config file renders as (issue 12 item 3)", SLOW, () => {
  const hostName = (stdout: string) =>
    JSON.parse(stdout).resources.find(
      (x: { type: string }) => x.type === "alicloud:ecs/instance:Instance",
    ).inputs.hostName;

  it("takes it from a Pulumi.<stack>.yaml file name, and refuses a --stack that disagrees", async () => {
    const staging = mkdtempSync(join(dir, "staging-"));
    const file = join(staging, "Pulumi.staging.yaml");
    writeFileSync(file, stringify({ config: { "wan-vace:image": IMAGE } }));
    const r = await render(["--config", file, "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(hostName(r.stdout)).toBe("vace-staging");
    expect(r.stderr).toContain(`vace: rendering ${file} as stack "staging" (from its file name)`);

    const clash = await render(["--stack", "prod", "--config", file]);
    expect(clash.code).toBe(2);
    expect(clash.stdout).toBe("");
    expect(clash.stderr).toContain(
      `--stack prod and --config ${file} name different stacks ("staging" from the file name): drop one`,
    );
  });

  it("otherwise uses --stack, or says that it used the default", async () => {
    const file = stackFile({ "wan-vace:image": IMAGE });
    const named = await render(["--stack", "prod", "--config", file, "--format", "json"]);
    expect(named.code, named.stderr).toBe(0);
    expect(hostName(named.stdout)).toBe("vace-prod");
    expect(named.stderr).toContain(`rendering ${file} as stack "prod" (--stack)`);
    expect(chooseStack({ value: "dev", given: false }, file)).toEqual({
      stack: "dev",
      note: `rendering ${file} as stack "dev", the default: resource names derive from it, so pass --stack with the name it will be deployed as`,
    });
    expect(chooseStack({ value: "dev", given: false }, undefined)).toEqual({ stack: "dev" });
    expect(stackOfFile("/x/Pulumi.team_a-dev.yml")).toBe("team_a-dev");
    expect(stackOfFile("/x/pulumi.dev.yaml")).toBeUndefined();
  });
});

describe("the render table (issue 12 item 6)", SLOW, () => {
  it("opens with a summary: resources by type, what bills and how, and the TTL", async () => {
    const r = await render([]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("SUMMARY  stack dev, target ecs");
    const doc = JSON.parse((await render(["--format", "json"])).stdout);
    expect(lines[1]).toBe(`  ${doc.resources.length} resources:`);
    expect(r.stdout).toContain("     1  alicloud:ecs/instance:Instance\n");
    expect(r.stdout).toMatch(/ {4}\d+ {2}alicloud:ecs\/securityGroupRule:SecurityGroupRule\n/);
    expect(r.stdout).toContain(
      "    GPU instance ecs.gn7i-c8g1.2xlarge: PostPaid (pay-as-you-go), per second while running; once the idle watchdog stops it (StopCharging)",
    );
    expect(r.stdout).toContain(
      "    system disk cloud_essd 100 GiB: until released, also while stopped",
    );
    expect(r.stdout).toContain("    EIP 100 Mbps peak, PayByTraffic: per GB sent");
    expect(r.stdout).toContain(
      "    hourly price: not looked up offline (set wan-vace:priceLookup: true",
    );
    expect(r.stdout).toMatch(
      /\n {2}TTL: the cloud releases the instance at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 4h\d+m: wan-vace:ttl \+ 10 min\)/,
    );
    expect(r.stdout.indexOf("SUMMARY")).toBeLessThan(r.stdout.indexOf("RESOURCES"));
    // Tags are shown whole, never cut.
    expect(r.stdout).toMatch(
      /\n {6}tags: \{"expires-at":"[^"]+","owner":"[^"]+","project":"wan-vace","stack":"dev"\}\n/,
    );
    expect(r.stdout).not.toMatch(/\.\.\.$|…$/m);
    expect(r.stdout).toContain("USER-DATA (decoded)\n#cloud-config\n");
  });

  it("--short leaves out the user-data and the Caddyfile, and says so", async () => {
    const [full, short] = [await render([]), await render(["--short"])];
    expect(short.code).toBe(0);
    expect(short.stdout).not.toContain("#cloud-config");
    expect(short.stdout).toMatch(/\nUSER-DATA: \d{3,} lines left out by --short\n/);
    expect(short.stdout).toContain("CADDYFILE: left out by --short (the same for every stack)");
    expect(short.stdout).toContain("SUMMARY  stack dev");
    expect(short.stdout).toContain("PLACEHOLDERS");
    const count = (s: string) => s.split("\n").length;
    expect(count(short.stdout)).toBeLessThan(count(full.stdout) / 4);
  });

  it("summarises a spot stack's instance and a looked-up price", () => {
    const spot: RenderResult = {
      target: "ecs",
      resources: [
        {
          type: "alicloud:ecs/instance:Instance",
          name: "vace-gpu",
          inputs: {
            instanceType: "ecs.gn6i-c4g1.xlarge",
            instanceChargeType: "PostPaid",
            spotStrategy: "SpotAsPriceGo",
            systemDiskCategory: "cloud_essd",
            systemDiskSize: 60,
            autoReleaseTime: "2026-01-01T02:10:00Z",
          },
        },
      ],
      gateway: { image: "g", env: {}, caddyfile: "" },
      outputs: { hourlyPrice: 1.25 },
      placeholders: [],
      warnings: [],
    };
    const lines = formatSummary(spot, "team_a-dev", new Date("2026-01-01T00:00:00Z"));
    expect(lines).toContain("SUMMARY  stack team_a-dev, target ecs");
    expect(lines.join("\n")).toContain(
      "ecs.gn6i-c4g1.xlarge: PostPaid (pay-as-you-go), spot (SpotAsPriceGo)",
    );
    expect(lines).toContain("    hourly price of the instance: 1.25 (BSS lookup)");
    expect(lines.join("\n")).toContain("at 2026-01-01T02:10:00Z (in 2h10m: wan-vace:ttl + 10 min)");
  });
});
