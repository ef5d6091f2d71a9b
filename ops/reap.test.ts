import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FAKE_KEY,
  type FakeCloud,
  type FakeResource,
  startFakeCloud,
} from "../test/doubles/alibaba/server";
import { DEPLOYED_OUTPUTS, useFakePulumi } from "../test/doubles/pulumi";
import { RpcClient } from "./cloud/rpc";
import { StackDriver } from "./pulumi/driver";
import { planLost, reap } from "./reap";

const NOW = new Date("2026-12-02T12:00:00Z");
const PAST = "2026-12-02T08:00:00Z";
const FUTURE = "2026-12-02T20:00:00Z";
const tags = (stack: string, expiresAt: string, project = "wan-vace") => ({
  project,
  stack,
  owner: "platform-team",
  "expires-at": expiresAt,
});

/** A stack whose state was lost: every resource it made, still in the cloud, expired. */
const lost = (): FakeResource[] => {
  const t = tags("ci-old", PAST);
  return [
    { kind: "vpc", id: "vpc-old", tags: t },
    { kind: "vswitch", id: "vsw-old", tags: t },
    { kind: "security-group", id: "sg-old", tags: t },
    { kind: "instance", id: "i-old", tags: t },
    { kind: "eip", id: "eip-old", tags: t, attachedTo: "i-old" },
    { kind: "oos-parameter", id: "vace-ci-old-ab12cd-boot", tags: t },
    { kind: "ram-role", id: "vace-ci-old-ab12cd-instance" },
    {
      kind: "ram-policy",
      id: "vace-ci-old-ab12cd-instance",
      attachedTo: "vace-ci-old-ab12cd-instance",
    },
  ];
};
/** A lost ACS stack (infra/acs): its CLB and ACL, the NAT gateway and its EIP, the network. */
const lostAcs = (stack = "ci-acs", expiresAt = PAST): FakeResource[] => {
  const t = tags(stack, expiresAt);
  return [
    { kind: "vpc", id: `vpc-${stack}`, tags: t },
    { kind: "vswitch", id: `vsw-${stack}-a`, tags: t },
    { kind: "vswitch", id: `vsw-${stack}-b`, tags: t },
    { kind: "nat-gateway", id: `ngw-${stack}`, tags: t },
    { kind: "eip", id: `eip-${stack}`, tags: t, attachedTo: `ngw-${stack}`, attachedType: "Nat" },
    { kind: "acl", id: `acl-${stack}`, tags: t },
    { kind: "load-balancer", id: `lb-${stack}`, tags: t },
    { kind: "cluster", id: `c-${stack}`, tags: t },
  ];
};
const others = (): FakeResource[] => [
  { kind: "vpc", id: "vpc-unexpired", tags: tags("ci-new", FUTURE) },
  { kind: "eip", id: "eip-unexpired", tags: tags("ci-new", FUTURE) },
  { kind: "vpc", id: "vpc-untagged" },
  { kind: "vpc", id: "vpc-other-project", tags: tags("ci-old", PAST, "someone-else") },
  { kind: "ram-role", id: "unrelated-role" },
  { kind: "vpc", id: "vpc-owned", tags: tags("dev", PAST) },
];

let cloud: FakeCloud;
const retries: string[] = [];
const client = (region = "ap-southeast-1") =>
  new RpcClient({
    credentials: FAKE_KEY,
    region,
    endpoint: cloud.endpoint,
    retryDelayMs: 1,
    onRetry: (e) => retries.push(e.message),
  });
beforeEach(async () => {
  cloud = await startFakeCloud([...lost(), ...others()]);
  retries.length = 0;
});
afterEach(async () => {
  await cloud.close();
});

/** A backend holding one unexpired stack, "dev", which the reaper must leave alone. */
const noStacks = (names: string[] = ["dev"]) => ({
  names: async () => names,
  open: async (name: string) => ({
    name,
    outputs: async () => ({ expiresAt: FUTURE }),
    region: async () => "ap-southeast-1",
    destroy: async () => expect.fail("an unexpired stack was destroyed"),
    resources: async () => [],
    remove: async () => expect.fail("an unexpired stack was removed"),
  }),
});
/** One reap of the fake cloud, with the backend holding only "dev". */
const sweep = (dryRun: boolean, log: (line: string) => void) =>
  reap({
    stacks: noStacks(),
    clients: [client()],
    clientFor: () => client(),
    dryRun,
    now: NOW,
    log,
  });
const mutations = () => cloud.calls.filter((c) => !/^(Describe|List|Get)/.test(c));

describe("vace reap: lost resources (loopback fake of the Alibaba APIs)", () => {
  it("deletes expired, tagged, unowned resources in dependency order", async () => {
    const log: string[] = [];
    const r = await sweep(false, (l) => log.push(l));
    expect(mutations()).toEqual([
      "UnassociateEipAddress eip-old",
      "ReleaseEipAddress eip-old",
      "DeleteInstance i-old",
      "DeleteSecurityGroup sg-old",
      "DeleteVSwitch vsw-old",
      "DeleteVpc vpc-old",
      "DetachPolicyFromRole vace-ci-old-ab12cd-instance",
      "DeletePolicy vace-ci-old-ab12cd-instance",
      "DeleteRole vace-ci-old-ab12cd-instance",
      "DeleteSecretParameter vace-ci-old-ab12cd-boot",
    ]);
    expect(r.failed).toEqual([]);
    expect(r.deleted).toHaveLength(9); // the policy's detach and delete are one step
  });

  it("deletes a lost ACS stack's CLB, ACL, NAT gateway and its EIP, vSwitches and VPC in order", async () => {
    cloud.resources = [
      ...lostAcs(),
      ...lostAcs("ci-acs-new", FUTURE),
      { kind: "load-balancer", id: "lb-untagged" },
      { kind: "cluster", id: "c-untagged" },
      { kind: "nat-gateway", id: "ngw-other", tags: tags("ci-other", PAST, "someone-else") },
    ];
    const r = await sweep(false, () => {});
    expect(mutations()).toEqual([
      "DeleteCluster c-ci-acs",
      "DeleteLoadBalancer lb-ci-acs",
      "DeleteAccessControlList acl-ci-acs",
      "UnassociateEipAddress eip-ci-acs",
      "ReleaseEipAddress eip-ci-acs",
      "DeleteNatGateway ngw-ci-acs",
      "DeleteVSwitch vsw-ci-acs-a",
      "DeleteVSwitch vsw-ci-acs-b",
      "DeleteVpc vpc-ci-acs",
    ]);
    expect(r.failed).toEqual([]);
    expect(cloud.resources.map((x) => x.id).sort()).toEqual(
      [
        ...lostAcs("ci-acs-new", FUTURE).map((x) => x.id),
        "lb-untagged",
        "c-untagged",
        "ngw-other",
      ].sort(),
    );
    expect(r.kept).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/load-balancer lb-ci-acs-new \[stack ci-acs-new\]: unexpired/),
        expect.stringMatching(/nat-gateway ngw-ci-acs-new \[stack ci-acs-new\]: unexpired/),
        expect.stringMatching(/cluster c-ci-acs-new \[stack ci-acs-new\]: unexpired/),
      ]),
    );
  });

  it("signs Container Service's ROA calls with V3; a wrong secret is refused, not taken for no clusters", async () => {
    cloud.resources = lostAcs();
    const bad = new RpcClient({
      credentials: { ...FAKE_KEY, accessKeySecret: "wrong" },
      region: "ap-southeast-1",
      endpoint: cloud.endpoint,
      retryDelayMs: 1,
    });
    await expect(
      bad.roa("cs", "DescribeClustersV1", "GET", "/api/v1/clusters", { page_size: 50 }),
    ).rejects.toThrow(/DescribeClustersV1: SignatureDoesNotMatch/);
    await expect(
      client().roa("cs", "DescribeClustersV1", "GET", "/api/v1/clusters", { page_size: 50 }),
    ).resolves.toMatchObject({ clusters: [{ cluster_id: "c-ci-acs" }] });
  });

  it("--dry-run names a lost ACS stack's resources and deletes none", async () => {
    cloud.resources = lostAcs();
    const log: string[] = [];
    await sweep(true, (l) => log.push(l));
    expect(mutations()).toEqual([]);
    expect(log).toEqual(
      expect.arrayContaining([
        "[dry run] delete ap-southeast-1 load-balancer lb-ci-acs [stack ci-acs]",
        "[dry run] delete ap-southeast-1 nat-gateway ngw-ci-acs [stack ci-acs]",
        "[dry run] delete ap-southeast-1 cluster c-ci-acs [stack ci-acs]",
      ]),
    );
    expect(cloud.resources).toHaveLength(lostAcs().length);
  });

  it("keeps unexpired and owned resources and never touches untagged ones", async () => {
    const r = await sweep(false, () => {});
    expect(cloud.resources.map((x) => x.id).sort()).toEqual(
      [
        "eip-unexpired",
        "unrelated-role",
        "vpc-other-project",
        "vpc-owned",
        "vpc-unexpired",
        "vpc-untagged",
      ].sort(),
    );
    expect(r.kept).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/vpc vpc-unexpired \[stack ci-new\]: unexpired/),
        expect.stringMatching(/vpc vpc-owned \[stack dev\]: owned by stack dev/),
      ]),
    );
    const touched = mutations().join("\n");
    for (const id of [
      "vpc-untagged",
      "vpc-other-project",
      "unrelated-role",
      "vpc-unexpired",
      "vpc-owned",
    ]) {
      expect(touched).not.toContain(id);
    }
  });

  it("--dry-run lists what it would delete and deletes nothing", async () => {
    const log: string[] = [];
    await sweep(true, (l) => log.push(l));
    expect(mutations()).toEqual([]);
    expect(log).toContain("[dry run] delete ap-southeast-1 instance i-old [stack ci-old]");
    expect(cloud.resources).toHaveLength(lost().length + others().length);
  });

  it("retries API errors (throttling, a dependency still going away) and reports what keeps failing", async () => {
    cloud.faults.push({ action: "DeleteVpc", code: "Throttling.User", status: 400, times: 2 });
    cloud.faults.push({
      action: "DeleteSecretParameter",
      code: "InternalError",
      status: 500,
      times: "always",
    });
    const r = await sweep(false, () => {});
    expect(retries.filter((m) => m.includes("DeleteVpc: Throttling.User"))).toHaveLength(2);
    expect(cloud.resources.some((x) => x.id === "vpc-old")).toBe(false);
    expect(r.failed).toEqual([
      expect.stringMatching(
        /oos-parameter vace-ci-old-ab12cd-boot \[stack ci-old\]: DeleteSecretParameter: InternalError: injected fault/,
      ),
    ]);
    expect(cloud.calls.filter((c) => c.startsWith("DeleteSecretParameter"))).toHaveLength(4);
  });

  it("a listing that fails is reported, not taken for an empty cloud", async () => {
    cloud.faults.push({
      action: "DescribeInstances",
      code: "Forbidden.RAM",
      status: 403,
      times: "always",
    });
    const r = await sweep(false, () => {});
    expect(r.failed).toEqual([
      expect.stringMatching(/listing tagged resources failed: DescribeInstances: Forbidden\.RAM/),
    ]);
    expect(mutations()).toEqual([]);
  });

  it("planLost is pure and explains every decision", () => {
    const d = planLost(
      [
        { kind: "vpc", id: "a", tags: { project: "wan-vace", stack: "x" } },
        { kind: "vpc", id: "b", tags: { project: "wan-vace", stack: "x", "expires-at": "soon" } },
      ],
      new Set(),
      NOW,
    );
    expect(d.map((x) => [x.action, x.reason])).toEqual([
      ["keep", "no expires-at tag"],
      ["keep", 'unreadable expires-at tag "soon"'],
    ]);
  });
});

describe("vace reap: expired stacks (fake pulumi on PATH)", () => {
  const fake = useFakePulumi();
  const stacks = () => ({
    names: async () => Object.keys(fake.stacks()),
    open: (name: string) => StackDriver.open(name, { workDir: fake.workDir(), write: () => {} }),
  });
  async function deploy(name: string, expiresAt: string) {
    fake.script({ outputs: { ...DEPLOYED_OUTPUTS, expiresAt }, region: "eu-central-1" });
    const s = await StackDriver.open(
      name,
      { workDir: fake.workDir(), write: () => {} },
      { create: true },
    );
    await s.up();
  }

  it("destroys and removes a stack whose expiresAt has passed, and keeps the others", async () => {
    cloud.resources = [];
    await deploy("old", PAST);
    await deploy("new", FUTURE);
    const asked: string[] = [];
    const r = await reap({
      stacks: stacks(),
      clients: [client()],
      clientFor: (region) => {
        asked.push(region);
        return client(region);
      },
      dryRun: false,
      now: NOW,
      log: () => {},
    });
    expect(r.destroyedStacks).toEqual(["old"]);
    // Checked for leftovers in the region its state names, not the sweep's.
    expect(asked).toEqual(["eu-central-1"]);
    expect(Object.keys(fake.stacks())).toEqual(["new"]);
    expect(r.kept).toContain(`stack new: unexpired (expires ${FUTURE})`);
  });

  it("--dry-run destroys no stack", async () => {
    cloud.resources = [];
    await deploy("old", PAST);
    const before = fake.commands().length;
    const log: string[] = [];
    await reap({
      stacks: stacks(),
      clients: [client()],
      clientFor: (region) => client(region),
      dryRun: true,
      now: NOW,
      log: (l) => log.push(l),
    });
    expect(fake.commands().slice(before)).not.toContain("destroy");
    expect(log).toContain(`[dry run] stack old expired at ${PAST}: destroying`);
  });
});

describe("the reaper's RAM permissions (docs/ci.md)", () => {
  it("docs/ci.md names every API action a sweep of ECS and ACS leftovers calls", async () => {
    cloud.resources = [...lost(), ...lostAcs(), ...others()];
    const r = await sweep(false, () => {});
    expect(r.failed).toEqual([]);
    // A call is recorded as `Action` or `Action id`; its service comes from the endpoint's table.
    const actions = new Set(cloud.calls.map((c) => c.split(" ")[0] ?? ""));
    expect(actions.size).toBeGreaterThan(20);
    const doc = readFileSync(join(__dirname, "..", "docs", "ci.md"), "utf8");
    const listed = new Set(
      [...doc.matchAll(/`(?:ecs|vpc|ram|oos|slb|cs):([A-Za-z0-9]+)`/g)].map((m) => m[1]),
    );
    expect([...actions].filter((a) => !listed.has(a)).sort()).toEqual([]);
  });
});
