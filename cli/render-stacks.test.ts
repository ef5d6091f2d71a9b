/**
 * `vace render` for the stacks issue 8 names (a zones stack, a spot stack, a stack named
 * `team_a-dev`, an ACME stack): each renders with exit 0 and shows what a deploy would choose.
 * One program load per process, so each success renders in its own CLI process, as a user runs it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { runCli } from "./index";

const ROOT = join(__dirname, "..");
const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "vace-render-stacks-"));

function file(doc: unknown): string {
  const f = join(dir, `stack-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, stringify(doc));
  return f;
}

/** The CLI as a user runs it, in its own process (from `cwd`: the program to render). */
function renderProcess(
  args: string[],
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(ROOT, "node_modules", ".bin", "tsx"),
      [join(ROOT, "cli", "index.ts"), "render", ...args],
      { cwd, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += String(c);
    });
    child.stderr.on("data", (c) => {
      stderr += String(c);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface Rendered {
  resources: { type: string; name: string; inputs: Record<string, unknown> }[];
}
const one = (doc: Rendered, type: string) => {
  const found = doc.resources.filter((r) => r.type === type);
  expect(found, type).toHaveLength(1);
  return (found[0] as Rendered["resources"][number]).inputs;
};

describe("render succeeds for the stacks users have", () => {
  it.each([
    {
      what: "a stack that pins zones: the first allowed zone, for instance and vSwitch",
      stack: "zones",
      config: { "wan-vace:zones": ["ap-southeast-1b", "ap-southeast-1a"] },
      check: (doc: Rendered) => {
        expect(one(doc, "alicloud:ecs/instance:Instance").availabilityZone).toBe("ap-southeast-1b");
        expect(one(doc, "alicloud:vpc/switch:Switch").zoneId).toBe("ap-southeast-1b");
        expect(one(doc, "alicloud:ecs/instance:Instance").instanceType).toBe(
          "ecs.gn7i-c8g1.2xlarge",
        );
      },
    },
    {
      what: "a spot stack",
      stack: "spot",
      config: { "wan-vace:spot": true, "wan-vace:instanceTypes": ["ecs.gn6i-c4g1.xlarge"] },
      check: (doc: Rendered) => {
        expect(one(doc, "alicloud:ecs/instance:Instance")).toMatchObject({
          spotStrategy: "SpotAsPriceGo",
          instanceType: "ecs.gn6i-c4g1.xlarge",
        });
      },
    },
    {
      what: "a stack named team_a-dev: names valid for RAM and the host name",
      stack: "team_a-dev",
      config: {},
      check: (doc: Rendered) => {
        expect(one(doc, "alicloud:ram/role:Role").roleName).toMatch(/^[A-Za-z0-9.-]{1,64}$/);
        expect(one(doc, "alicloud:ram/policy:Policy").policyName).toMatch(/^[A-Za-z0-9-]{1,128}$/);
        expect(one(doc, "alicloud:ecs/instance:Instance").hostName).toBe("vace-team-a-dev");
        expect(one(doc, "alicloud:ecs/instance:Instance").tags).toMatchObject({
          stack: "team_a-dev",
        });
      },
    },
    {
      what: "an ACME stack",
      stack: "acme",
      config: { "wan-vace:tls": "acme", "wan-vace:domain": "vace.example.com" },
      check: (doc: Rendered) => {
        const rules = doc.resources
          .filter((r) => r.type === "alicloud:ecs/securityGroupRule:SecurityGroupRule")
          .map((r) => r.inputs.portRange);
        expect(rules).toContain("80/80");
        expect(
          doc.resources.some((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert"),
        ).toBe(false);
      },
    },
  ])("$what", { timeout: 180_000 }, async ({ stack, config, check }) => {
    const r = await renderProcess([
      "--stack",
      stack,
      "--config",
      file({ config: { "wan-vace:image": IMAGE, ...config } }),
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    check(JSON.parse(r.stdout) as Rendered);
  });
});

/** The CLI in-process (these fail before the program loads). */
async function renderInProcess(args: string[]) {
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation((c) => {
    stderr += String(c);
    return true;
  });
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    return { code: await runCli(["node", "vace", "render", ...args]), stderr };
  } finally {
    process.chdir(cwd);
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("render refuses, with exit 2 and what to write", () => {
  it("a program that fails offline: exit 2 naming the error, no crash", {
    timeout: 180_000,
  }, async () => {
    const r = await renderProcess(
      ["--config", file({ config: { "wan-vace:image": IMAGE } }), "--format", "json"],
      join(ROOT, "test", "fixtures", "failing-program"),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/program: the program failed offline: .*no GPU capacity \(fixture\)/);
    expect(r.stderr).not.toMatch(/triggerUncaughtException|unexpected error/);
    expect(r.stdout).toBe("");
  });

  it("keys written at the top level instead of under config:", async () => {
    const r = await renderInProcess([
      "--config",
      file({ "wan-vace:image": IMAGE, "wan-vace:ttl": "2h" }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /wan-vace:image: is at the top level of .*; indent it under "config:"/,
    );
    expect(r.stderr).toMatch(/wan-vace:ttl: is at the top level/);
    expect(r.stderr).not.toMatch(/image: is required/);
  });

  it("a stack name the tag rules reject", async () => {
    const r = await renderInProcess([
      "--stack",
      "aliyun-dev",
      "--config",
      file({ config: { "wan-vace:image": IMAGE } }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stack: stack name starts with "aliyun"/);
  });
});
