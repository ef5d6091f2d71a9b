/**
 * `vace render` for ACS (design.md contracts 2 and 8), through the real CLI in a child process (each
 * render loads the program once): cloud resources under `resources`, every Kubernetes object under
 * `manifests` as a plain, schema-valid object, secrets as "[secret]"; bad ACS input exits 2.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";

const ROOT = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "vace-acs-render-"));
const CLUSTER = `c${"9".repeat(32)}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function render(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "cli/index.ts", "render", ...args],
      { cwd: ROOT, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function stackFile(config: Record<string, unknown>): string {
  const file = join(dir, `stack-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ config }));
  return file;
}

interface Doc {
  target: string;
  resources: { type: string; name: string; inputs: Record<string, unknown> }[];
  manifests: Record<string, unknown>[];
  userData?: string;
  gateway: { env: Record<string, string> };
  outputs: Record<string, unknown>;
}

const example = parseYaml(readFileSync(join(ROOT, "Pulumi.acs.yaml"), "utf8")) as {
  config: Record<string, unknown>;
};
let fresh: Doc;
let existing: Doc;
let bad: Run;
let cachedTable: Run;

beforeAll(async () => {
  const { "wan-vace:zones": _zones, ...withoutZones } = example.config;
  const [a, b, c, d] = await Promise.all([
    render(["--config", "Pulumi.acs.yaml", "--format", "json"]),
    render([
      "--config",
      stackFile({
        ...withoutZones,
        "wan-vace:clusterId": CLUSTER,
        "wan-vace:registryUsername": "puller",
        "wan-vace:registryPassword": { secure: "v1:AAAA:encrypted" },
        "wan-vace:allowedCidrs": ["198.51.100.0/24"],
      }),
      "--format",
      "json",
    ]),
    render([
      "--config",
      stackFile({
        "wan-vace:target": "acs",
        "wan-vace:image": example.config["wan-vace:image"],
        "wan-vace:gpuModelSeries": "H100",
        "wan-vace:podMemory": 4,
        "wan-vace:replicas": 12,
        "wan-vace:clusterId": "cls-123",
        "wan-vace:instanceTypes": ["ecs.gn7i-c8g1.2xlarge"],
        "wan-vace:spot": true,
        "wan-vace:tls": "acme",
        "wan-vace:imageCache": true,
      }),
    ]),
    render([
      "--config",
      stackFile({
        ...example.config,
        "wan-vace:image": `${String(example.config["wan-vace:image"])}@sha256:${"5d".repeat(32)}`,
        "wan-vace:imageCache": true,
      }),
    ]),
  ]);
  expect(a.code, a.stderr).toBe(0);
  expect(b.code, b.stderr).toBe(0);
  fresh = JSON.parse(a.stdout) as Doc;
  existing = JSON.parse(b.stdout) as Doc;
  bad = c;
  cachedTable = d;
}, 240_000);

async function validate(o: Record<string, unknown>): Promise<void> {
  const [core, apps, rbac] = await Promise.all([
    import("kubernetes-models/v1"),
    import("kubernetes-models/apps/v1"),
    import("kubernetes-models/rbac.authorization.k8s.io/v1"),
  ]);
  const models: Record<string, new (o: never) => { validate(): void }> = {
    ...(core as unknown as object),
    ...(apps as unknown as object),
    ...(rbac as unknown as object),
  };
  const Model = models[String(o.kind)];
  if (!Model) throw new Error(`no schema for kind ${String(o.kind)}`);
  new Model(o as never).validate();
}

describe("vace render, target acs", () => {
  it("a new cluster: cloud resources under resources, objects under manifests", () => {
    expect(fresh.target).toBe("acs");
    expect(fresh.userData).toBeUndefined();
    const types = fresh.resources.map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "alicloud:cs/managedKubernetes:ManagedKubernetes",
        "alicloud:vpc/natGateway:NatGateway",
        "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
        "pulumi:providers:kubernetes",
      ]),
    );
    expect(types.filter((t) => t.startsWith("kubernetes:"))).toEqual([]);
    expect(fresh.manifests.map((m) => m.kind).sort()).toEqual(
      [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
      ].sort(),
    );
    for (const m of fresh.manifests)
      expect(Object.keys(m).slice(0, 2)).toEqual(["apiVersion", "kind"]);
    expect(fresh.gateway.env).toMatchObject({ VACE_LISTEN: ":8443", VACE_TOKEN: "[secret]" });
    expect(fresh.outputs).toMatchObject({
      target: "acs",
      token: "[secret]",
      namespace: "vace-acs",
      wakeCommand: "pulumi up",
    });
  });

  it("every rendered manifest is schema-valid, with secret values as [secret]", async () => {
    for (const doc of [fresh, existing]) for (const m of doc.manifests) await validate(m);
    const secrets = existing.manifests.filter((m) => m.kind === "Secret");
    expect(secrets.map((s) => s.stringData)).toEqual(
      expect.arrayContaining([
        { token: "[secret]", "tls.crt": "[secret]", "tls.key": "[secret]" },
        { ".dockerconfigjson": "[secret]" },
      ]),
    );
    expect(fresh.manifests.find((m) => m.kind === "Secret")?.stringData).toEqual({
      token: "[secret]",
      "tls.crt": "[secret]",
      "tls.key": "[secret]",
    });
    const provider = fresh.resources.find((r) => r.type === "pulumi:providers:kubernetes");
    expect(provider?.inputs.kubeconfig).toBe("[secret]");
  });

  it("an existing cluster: no cluster or network, its id on the provider, the ACL on the Service", () => {
    const types = existing.resources.map((r) => r.type);
    expect(types).not.toContain("alicloud:cs/managedKubernetes:ManagedKubernetes");
    expect(types).not.toContain("alicloud:vpc/network:Network");
    expect(types).toContain("alicloud:slb/acl:Acl");
    expect(
      existing.resources.find((r) => r.type === "pulumi:providers:kubernetes")?.inputs,
    ).toMatchObject({
      clusterIdentifier: CLUSTER,
    });
    const svc = existing.manifests.find((m) => m.kind === "Service") as {
      metadata: { annotations: Record<string, string> };
    };
    expect(
      svc.metadata.annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-type"],
    ).toBe("white");
    expect(existing.outputs.clusterId).toBe(CLUSTER);
  });

  it("bad ACS input exits 2, naming every key", () => {
    expect(bad.code).toBe(2);
    for (const key of [
      "gpuModelSeries",
      "podMemory",
      "replicas",
      "clusterId",
      "instanceTypes",
      "spot",
      "domain",
      "imageCache",
    ])
      expect(bad.stderr).toContain(`wan-vace:${key}:`);
    expect(bad.stdout).toBe("");
  });

  it("with imageCache: the add-on, the ImageCache CR and its price in the summary", () => {
    expect(cachedTable.code, cachedTable.stderr).toBe(0);
    const out = cachedTable.stdout;
    expect(out).toContain("alicloud:cs/kubernetesAddon:KubernetesAddon");
    expect(out).toContain(`  ImageCache vace-dev-comfyui-${"5d".repeat(6)}`);
    expect(out).toContain("image.alibabacloud.com/enable-image-cache");
    expect(out).toMatch(/image cache vace-dev-comfyui-(5d){6} .*0\.18 CNY\/GiB\/month/);
    expect(out).toMatch(/image cache acceleration: 0\.00231 CNY\/GiB\/hour/);
  });
});
