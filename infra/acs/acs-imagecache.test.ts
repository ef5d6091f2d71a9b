/**
 * `wan-vace:imageCache` under Pulumi mocks with the real provider SDKs: the same stack with the key
 * off and on (new cluster), and on with an existing cluster. One setMocks for the file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type PulumiTest,
  rawInputs,
  setupPulumi,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig, type WanVaceConfig } from "../config";
import { isSecretMarker, type RecordedResource, redactSecrets } from "../offline/mocks";
import { AcsDeployment } from ".";
import { NAMES } from "./manifests";

const DIGEST = "7a".repeat(32);
const PINNED = `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0@sha256:${DIGEST}`;
const TOKEN = "Cache0token0value0that0is0long0enough0abc123";
const REGISTRY_PASSWORD = "Registry-Password-cache-9z8y";
const CLUSTER = `c${"e".repeat(32)}`;
const CR = "kubernetes:eci.alibabacloud.com/v1:ImageCache";
const ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon";
const expiresAt = autoReleaseTime(new Date(), 240);

const config = (raw: Record<string, unknown>): WanVaceConfig =>
  loadConfig({
    image: PINNED,
    target: "acs",
    token: TOKEN,
    allowedCidrs: ["198.51.100.0/24"],
    ...raw,
  }).config;
const newCluster = {
  zones: ["ap-southeast-1a"],
  registryUsername: "puller@5123456789012345",
  registryPassword: REGISTRY_PASSWORD,
};

let t: PulumiTest;
const of = (prefix: string) => t.record.resources.filter((r) => r.name.startsWith(`${prefix}-`));
const one = (prefix: string, type: string): RecordedResource => {
  const found = of(prefix).filter((r) => r.type === type);
  if (found.length !== 1)
    throw new Error(`expected one ${type} for ${prefix}, got ${found.length}`);
  return found[0] as RecordedResource;
};

interface Pod {
  metadata: { annotations: Record<string, string> };
  spec: {
    containers: {
      name: string;
      imagePullPolicy?: string;
      startupProbe?: { periodSeconds: number; failureThreshold: number };
    }[];
  };
}
const pod = (prefix: string) =>
  (rawInputs(one(prefix, "kubernetes:apps/v1:Deployment")) as { spec: { template: Pod } }).spec
    .template;

beforeAll(async () => {
  t = await setupPulumi({ config: {}, stock: {} });
  // Same stack name for off and on: everything but the component prefix is comparable.
  const off = new AcsDeployment("off", { config: config(newCluster), stack: "dev", expiresAt });
  const on = new AcsDeployment("on", {
    config: config({ ...newCluster, imageCache: true }),
    stack: "dev",
    expiresAt,
  });
  const ext = new AcsDeployment("ext", {
    config: config({ clusterId: CLUSTER, imageCache: true, ttl: "3d" }),
    stack: "prod",
    expiresAt,
  });
  await Promise.all([unwrap(off.url), unwrap(on.url), unwrap(ext.url)]);
  await waitForRegistrations(t.record);
});

describe("imageCache on, new cluster", () => {
  it("installs image-cache-operator on the stack's cluster, with rbac.secret for the pull Secret", () => {
    expect(rawInputs(one("on", ADDON))).toEqual({
      clusterId: "on-cluster-id",
      name: "image-cache-operator",
      config: '{"rbac":{"secret":true}}',
    });
  });

  it("creates one ImageCache CR of the digest-pinned image, through the cluster's provider", () => {
    const cr = one("on", CR);
    expect(cr.provider).toContain("::on-k8s::");
    expect(rawInputs(cr)).toEqual({
      apiVersion: "eci.alibabacloud.com/v1",
      kind: "ImageCache",
      metadata: {
        name: `vace-dev-comfyui-${DIGEST.slice(0, 12)}`,
        labels: { "app.kubernetes.io/name": "wan-vace", "app.kubernetes.io/instance": "dev" },
        annotations: {
          "image.alibabacloud.com/cascade-delete-image-cache": "true",
          "wan-vace/project": "wan-vace",
          "wan-vace/stack": "dev",
          "wan-vace/owner": "wan-vace",
        },
      },
      spec: {
        images: [PINNED],
        imagePullSecrets: [`vace-dev:${NAMES.registrySecret}`],
        imageCacheSize: 40,
        retentionDays: 8,
      },
    });
  });

  it("keeps the registry credentials in the Secret only: the CR names it", () => {
    const cr = one("on", CR);
    expect(JSON.stringify(cr.inputs)).not.toContain(REGISTRY_PASSWORD);
    expect(JSON.stringify(redactSecrets(cr.inputs))).toBe(JSON.stringify(cr.inputs));
    const registry = of("on").find((r) => r.name === "on-registry-secret") as RecordedResource;
    expect(isSecretMarker(registry.inputs.stringData)).toBe(true);
  });

  it("the pod asks for the cache, pulls Always, and its startup probes get the 12-minute budget", () => {
    const p = pod("on");
    expect(p.metadata.annotations["image.alibabacloud.com/enable-image-cache"]).toBe("true");
    const byName = Object.fromEntries(p.spec.containers.map((c) => [c.name, c]));
    expect(byName.comfyui?.imagePullPolicy).toBe("Always");
    expect(byName.scaler?.imagePullPolicy).toBe("Always");
    for (const name of ["comfyui", "gateway"]) {
      const probe = byName[name]?.startupProbe;
      expect(probe, name).toMatchObject({ periodSeconds: 10, failureThreshold: 72 });
    }
  });
});

describe("imageCache off", () => {
  const normalize = (r: RecordedResource, prefix: string) =>
    JSON.parse(JSON.stringify(rawInputs(r)).replaceAll(`${prefix}-`, "X-"));
  const strip = (prefix: string) => (r: RecordedResource) => r.name.slice(prefix.length + 1);

  it("creates exactly the resources it did before: no add-on, no CR", () => {
    expect(
      of("off")
        .map((r) => r.type)
        .sort(),
    ).toEqual(
      [
        "alicloud:cs/managedKubernetes:ManagedKubernetes",
        "alicloud:ecs/eipAddress:EipAddress",
        "alicloud:ecs/eipAssociation:EipAssociation",
        "alicloud:slb/acl:Acl",
        "alicloud:slb/aclEntryAttachment:AclEntryAttachment",
        "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
        "alicloud:vpc/natGateway:NatGateway",
        "alicloud:vpc/network:Network",
        "alicloud:vpc/snatEntry:SnatEntry",
        "alicloud:vpc/switch:Switch",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "pulumi:providers:kubernetes",
        "tls:index/privateKey:PrivateKey",
        "tls:index/selfSignedCert:SelfSignedCert",
      ].sort(),
    );
  });

  it("on differs from off only by the add-on, the CR and the Deployment's cache settings", () => {
    const offByName = new Map(of("off").map((r) => [strip("off")(r), r]));
    const onByName = new Map(of("on").map((r) => [strip("on")(r), r]));
    expect([...onByName.keys()].filter((n) => !offByName.has(n)).sort()).toEqual(
      ["image-cache", "image-cache-operator"].sort(),
    );
    for (const [name, r] of offByName) {
      const twin = onByName.get(name) as RecordedResource;
      expect(twin, name).toBeDefined();
      if (r.type === "kubernetes:apps/v1:Deployment") continue;
      expect(normalize(twin, "on"), name).toEqual(normalize(r, "off"));
    }
    // The Deployment: off plus exactly the annotation, two pull policies and the budget.
    const expected = normalize(one("off", "kubernetes:apps/v1:Deployment"), "off") as {
      spec: { template: Pod };
    };
    expected.spec.template.metadata.annotations["image.alibabacloud.com/enable-image-cache"] =
      "true";
    for (const c of expected.spec.template.spec.containers) {
      if (c.name !== "gateway") c.imagePullPolicy = "Always";
      if (c.startupProbe) c.startupProbe.failureThreshold = 72;
    }
    expect(normalize(one("on", "kubernetes:apps/v1:Deployment"), "on")).toEqual(expected);
  });

  it("keeps the 30-minute startup budget and no cache annotation", () => {
    const p = pod("off");
    expect(Object.keys(p.metadata.annotations)).toEqual([
      "kubectl.kubernetes.io/default-container",
    ]);
    for (const c of p.spec.containers) {
      expect(c.imagePullPolicy, c.name).toBeUndefined();
      if (c.startupProbe) expect(c.startupProbe.failureThreshold, c.name).toBe(180);
    }
  });
});

describe("imageCache on, existing cluster", () => {
  it("leaves the cluster's add-ons alone and caches a public image without a pull Secret", () => {
    expect(of("ext").filter((r) => r.type === ADDON)).toEqual([]);
    const cr = rawInputs(one("ext", CR)) as { metadata: { name: string }; spec: object };
    expect(cr.metadata.name).toBe(`vace-prod-comfyui-${DIGEST.slice(0, 12)}`);
    // ttl 3d: 3 days plus the week.
    expect(cr.spec).toEqual({ images: [PINNED], imageCacheSize: 40, retentionDays: 10 });
    expect(one("ext", CR).provider).toContain("::ext-k8s::");
  });
});
