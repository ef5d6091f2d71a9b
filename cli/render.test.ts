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
import { requireBinary } from "../test/binaries";
import { redactToken, runCli } from "./index";

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
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const code = await runCli(["node", "vace", "render", ...args]);
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
    out.mockRestore();
    err.mockRestore();
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

  it("says ACS is not built yet, naming wan-vace:target", async () => {
    const r = await render([
      "--config",
      stackFile({ "wan-vace:image": IMAGE, "wan-vace:target": "acs" }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/wan-vace:target: the ACS target is not built yet/);
  });
});

describe("render of the example stack", () => {
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
