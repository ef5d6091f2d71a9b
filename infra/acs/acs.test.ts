/**
 * AcsDeployment under Pulumi mocks, with the real provider SDKs: a new cluster with the network it
 * owns, and an existing cluster by id. One setMocks for the file; each case is its own component.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type PulumiTest,
  rawInputs,
  setupPulumi,
  TEST_CERT_SHA256,
  TEST_IP,
  TEST_KUBECONFIG,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig, type WanVaceConfig } from "../config";
import { INVOKES, isSecretMarker, type RecordedResource, redactSecrets } from "../offline/mocks";
import { AcsDeployment } from ".";
import { credentialMinutes, DELETE_OPTIONS, SERVICE_CIDR } from "./cluster";
import { LABELS, NAMES } from "./manifests";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const TOKEN = "Acs0token0value0that0is0long0enough0xyz987";
const REGISTRY_PASSWORD = "Registry-Password-acs-1a2b3c";
const CLUSTER = `c${"5".repeat(32)}`;
const expiresAt = autoReleaseTime(new Date(), 240);

const config = (raw: Record<string, unknown>): WanVaceConfig =>
  loadConfig({ image: IMAGE, target: "acs", ...raw }).config;

let t: PulumiTest;
let fresh: AcsDeployment;
let existing: AcsDeployment;

const byName = (prefix: string, type: string) =>
  t.ofType(type).filter((r) => r.name.startsWith(`${prefix}-`));
const one = (prefix: string, type: string): RecordedResource => {
  const found = byName(prefix, type);
  if (found.length !== 1)
    throw new Error(`expected one ${type} for ${prefix}, got ${found.length}`);
  return found[0] as RecordedResource;
};
const manifest = (prefix: string, kind: string) => one(prefix, kind);

beforeAll(async () => {
  t = await setupPulumi({ config: {}, stock: {} });
  fresh = new AcsDeployment("new", {
    config: config({
      zones: ["ap-southeast-1a", "ap-southeast-1b"],
      allowedCidrs: ["198.51.100.0/24", "203.0.113.0/28"],
      token: TOKEN,
      registryUsername: "puller@5123456789012345",
      registryPassword: REGISTRY_PASSWORD,
      replicas: 2,
    }),
    stack: "dev",
    expiresAt,
  });
  existing = new AcsDeployment("old", {
    config: config({
      clusterId: CLUSTER,
      tls: "acme",
      domain: "vace.example.com",
      allowedCidrs: ["0.0.0.0/0"],
      gpuModelSeries: "T4",
      podCpu: 4,
      podMemory: 24,
    }),
    stack: "prod",
    expiresAt,
  });
  await Promise.all([unwrap(fresh.url), unwrap(existing.url), unwrap(fresh.clusterId)]);
  await waitForRegistrations(t.record);
});

describe("a new cluster", () => {
  it("owns its network: VPC, a vSwitch per zone, NAT with its EIP and SNAT for each vSwitch", () => {
    expect(rawInputs(one("new", "alicloud:vpc/network:Network"))).toMatchObject({
      cidrBlock: "10.44.0.0/16",
    });
    expect(byName("new", "alicloud:vpc/switch:Switch").map(rawInputs)).toEqual([
      expect.objectContaining({ zoneId: "ap-southeast-1a", cidrBlock: "10.44.0.0/20" }),
      expect.objectContaining({ zoneId: "ap-southeast-1b", cidrBlock: "10.44.16.0/20" }),
    ]);
    expect(rawInputs(one("new", "alicloud:vpc/natGateway:NatGateway"))).toMatchObject({
      natType: "Enhanced",
      paymentType: "PayAsYouGo",
      internetChargeType: "PayByLcu",
      networkType: "internet",
      force: true,
    });
    expect(rawInputs(one("new", "alicloud:ecs/eipAssociation:EipAssociation"))).toMatchObject({
      instanceType: "Nat",
    });
    const snat = byName("new", "alicloud:vpc/snatEntry:SnatEntry").map(rawInputs);
    expect(snat).toHaveLength(2);
    for (const s of snat) expect(s).toMatchObject({ snatTableId: "stb-test0001" });
  });

  it("creates an ACS-profile cluster whose API server Pulumi can reach, that destroy removes whole", () => {
    const cluster = rawInputs(one("new", "alicloud:cs/managedKubernetes:ManagedKubernetes"));
    expect(cluster).toMatchObject({
      profile: "Acs",
      clusterSpec: "ack.pro.small",
      serviceCidr: SERVICE_CIDR,
      slbInternetEnabled: true,
      newNatGateway: true,
      deletionProtection: false,
      deleteOptions: DELETE_OPTIONS,
      tags: expect.objectContaining({ project: "wan-vace", stack: "dev", "expires-at": expiresAt }),
    });
    expect(cluster.vswitchIds).toEqual([
      "new-vswitch-ap-southeast-1a-id",
      "new-vswitch-ap-southeast-1b-id",
    ]);
    expect(cluster.zoneIds).toBeUndefined();
  });

  it("builds the Kubernetes provider from a secret kubeconfig, replaced only with the cluster", () => {
    const calls = t.record.invokes.filter((i) => i.token === INVOKES.clusterCredential);
    expect(calls.map((c) => c.inputs)).toEqual(
      expect.arrayContaining([
        { clusterId: "new-cluster-id", temporaryDurationMinutes: credentialMinutes(240) },
        { clusterId: CLUSTER, temporaryDurationMinutes: credentialMinutes(240) },
      ]),
    );
    const provider = one("new", "pulumi:providers:kubernetes");
    expect(isSecretMarker(provider.inputs.kubeconfig)).toBe(true);
    expect(rawInputs(provider)).toMatchObject({
      kubeconfig: TEST_KUBECONFIG,
      clusterIdentifier: "new-cluster-id",
      deleteUnreachable: "true",
    });
    // Every Kubernetes object goes through that provider.
    const objects = t.record.resources.filter(
      (r) => r.type.startsWith("kubernetes:") && r.name.startsWith("new-"),
    );
    expect(objects).toHaveLength(9);
    for (const o of objects) expect(o.provider, o.name).toContain("::new-k8s::");
  });

  it("binds the Service to its own CLB and restricts it with an ACL of allowedCidrs", () => {
    expect(
      rawInputs(one("new", "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer")),
    ).toMatchObject({
      addressType: "internet",
      paymentType: "PayAsYouGo",
      deleteProtection: "off",
    });
    expect(rawInputs(one("new", "alicloud:slb/acl:Acl"))).toMatchObject({ ipVersion: "ipv4" });
    expect(
      byName("new", "alicloud:slb/aclEntryAttachment:AclEntryAttachment").map(rawInputs),
    ).toEqual([
      expect.objectContaining({ aclId: "new-acl-id", entry: "198.51.100.0/24" }),
      expect.objectContaining({ aclId: "new-acl-id", entry: "203.0.113.0/28" }),
    ]);
    const svc = rawInputs(manifest("new", "kubernetes:core/v1:Service"));
    const p = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
    expect(svc.metadata).toMatchObject({
      annotations: {
        [`${p}id`]: "new-clb-id",
        [`${p}acl-status`]: "on",
        [`${p}acl-id`]: "new-acl-id",
        [`${p}acl-type`]: "white",
      },
    });
    expect(svc.spec).toMatchObject({
      type: "LoadBalancer",
      ports: [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }],
      sessionAffinity: "ClientIP",
    });
  });

  it("runs the GPU pod: compute class, one GPU, probes, the scaler's Role on this Deployment only", () => {
    const d = rawInputs(manifest("new", "kubernetes:apps/v1:Deployment")) as {
      metadata: { name: string; namespace: string };
      spec: {
        replicas: number;
        template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      };
    };
    expect(d.metadata).toMatchObject({ name: NAMES.deployment, namespace: "vace-dev" });
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.metadata.labels).toMatchObject({
      [LABELS.computeClass]: "gpu",
      [LABELS.gpuModelSeries]: "L20",
    });
    const containers = d.spec.template.spec.containers as {
      name: string;
      resources: { limits: Record<string, string> };
      startupProbe?: unknown;
    }[];
    expect(containers.map((c) => c.name)).toEqual(["comfyui", "gateway", "scaler"]);
    expect(containers[0]?.resources.limits["nvidia.com/gpu"]).toBe("1");
    expect(containers[0]?.startupProbe).toBeDefined();
    expect(containers[1]?.startupProbe).toMatchObject({ httpGet: { path: "/healthz" } });
    expect(d.spec.template.spec.imagePullSecrets).toEqual([{ name: NAMES.registrySecret }]);
    expect(
      rawInputs(manifest("new", "kubernetes:rbac.authorization.k8s.io/v1:Role")).rules,
    ).toEqual([
      {
        apiGroups: ["apps"],
        resources: ["deployments/scale"],
        resourceNames: ["vace"],
        verbs: ["get", "patch"],
      },
    ]);
  });

  it("makes the self-signed certificate for the CLB's address, known before the pod starts", async () => {
    const cert = rawInputs(one("new", "tls:index/selfSignedCert:SelfSignedCert"));
    expect(cert.ipAddresses).toEqual([TEST_IP]);
    expect(await unwrap(fresh.url)).toBe(`https://${TEST_IP}`);
    expect(await unwrap(fresh.publicIp)).toBe(TEST_IP);
    expect(await unwrap(fresh.certificateSha256)).toBe(TEST_CERT_SHA256);
    expect(await unwrap(fresh.clusterId)).toBe("new-cluster-id");
    expect(await unwrap(fresh.namespace)).toBe("vace-dev");
    expect(await unwrap(fresh.wakeCommand)).toBe("pulumi up");
  });

  it("keeps secrets out of every manifest and non-secret input or output", async () => {
    const secrets = [TOKEN, REGISTRY_PASSWORD, "PRIVATE KEY"];
    // What state and `vace render` show in plain text: every input with secrets redacted.
    const shown = JSON.stringify(t.record.resources.map((r) => redactSecrets(r.inputs)));
    for (const s of secrets) expect(shown).not.toContain(s);
    // The values do reach the Secrets, as secrets.
    const secretObjects = byName("new", "kubernetes:core/v1:Secret");
    expect(secretObjects).toHaveLength(2);
    for (const s of secretObjects) expect(isSecretMarker(s.inputs.stringData)).toBe(true);
    const plain = JSON.stringify(secretObjects.map(rawInputs));
    expect(plain).toContain(TOKEN);
    expect(plain).toContain("PRIVATE KEY");
    expect(plain).toContain(
      Buffer.from(`puller@5123456789012345:${REGISTRY_PASSWORD}`).toString("base64"),
    );
    expect(await pulumi.isSecret(fresh.token)).toBe(true);
    for (const o of [
      fresh.url,
      fresh.publicIp,
      fresh.namespace,
      fresh.wakeCommand,
      fresh.clusterId,
    ])
      expect(JSON.stringify(await unwrap(o as pulumi.Output<unknown>))).not.toContain(TOKEN);
  });
});

describe("an existing cluster", () => {
  it("creates no cluster or network, and reads that cluster's credential", () => {
    for (const type of [
      "alicloud:cs/managedKubernetes:ManagedKubernetes",
      "alicloud:vpc/network:Network",
      "alicloud:vpc/natGateway:NatGateway",
      "alicloud:ecs/instance:Instance",
    ])
      expect(byName("old", type), type).toEqual([]);
    expect(rawInputs(one("old", "pulumi:providers:kubernetes"))).toMatchObject({
      clusterIdentifier: CLUSTER,
    });
  });

  it("with allowedCidrs open to all, makes no ACL; with ACME, no certificate and the domain's URL", async () => {
    expect(byName("old", "alicloud:slb/acl:Acl")).toEqual([]);
    const annotations = (
      rawInputs(manifest("old", "kubernetes:core/v1:Service")).metadata as {
        annotations: Record<string, string>;
      }
    ).annotations;
    expect(Object.keys(annotations).filter((k) => k.includes("acl"))).toEqual([]);
    expect(byName("old", "tls:index/selfSignedCert:SelfSignedCert")).toEqual([]);
    expect(await unwrap(existing.url)).toBe("https://vace.example.com");
    expect(await unwrap(existing.certificateSha256)).toBeUndefined();
    const d = rawInputs(manifest("old", "kubernetes:apps/v1:Deployment")) as {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { env?: { name: string; value?: string }[] }[] };
        };
      };
    };
    expect(d.spec.template.metadata.labels[LABELS.gpuModelSeries]).toBe("T4");
    expect(d.spec.template.spec.containers[1]?.env).toContainEqual({
      name: "VACE_TLS",
      value: "vace.example.com",
    });
    // No registry credentials: no pull secret.
    expect(byName("old", "kubernetes:core/v1:Secret")).toHaveLength(1);
  });
});
