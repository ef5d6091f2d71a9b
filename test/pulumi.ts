/**
 * The one Pulumi mocks helper for tests. Call `setupPulumi` once per test file (a second
 * setMocks in one file breaks in-flight components: pulumi-testing-facts §1.8), then change
 * behaviour through the returned mutable `stock` rather than by re-mocking.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../infra/config";
import {
  createMocks,
  INVOKES,
  type InvokeTable,
  imageRecord,
  type MockRecord,
  type RecordedResource,
  unwrapSecrets,
} from "../infra/offline/mocks";

/** Documentation address (RFC 5737 TEST-NET-3), never a real host. */
export const TEST_IP = "203.0.113.10";
export const TEST_ACCOUNT = "5123456789012345";
/** A real self-signed P-256 certificate for TEST_IP (its key was discarded). */
export const TEST_CERT_PEM = readFileSync(
  join(__dirname, "fixtures", "selfsigned-cert.pem"),
  "utf8",
);
export const TEST_CERT_SHA256 =
  "28:D3:1F:E7:ED:1E:51:F0:F8:E8:DE:85:98:8F:EE:0A:22:95:BE:A6:37:60:85:87:9A:75:2F:53:A3:D1:09:2F";

/** instance type → zones where it is in stock, with an optional hourly price. */
export type Stock = Record<string, { zones: string[]; price?: string }>;
/** Instances the cloud already has, by name (a re-deploy of a stack finds its own). */
export type Running = Record<
  string,
  { instanceType: string; zone: string; tags: Record<string, string> }
>;

/** This account's own images (`vace bake`'s), by id, with their tags. */
export type OwnImages = Record<string, { name: string; tags: Record<string, string> }>;

/** Answers shaped like the real data sources (alicloud 3.108 `GetInstanceTypesResult` etc.). */
export function realisticInvokes(
  stock: Stock,
  running: Running = {},
  ownImages: OwnImages = {},
): InvokeTable {
  return {
    [INVOKES.instances]: (inputs) => {
      const pattern = new RegExp(String(inputs.nameRegex ?? ".*"));
      const wanted = (inputs.tags ?? {}) as Record<string, string>;
      const instances = Object.entries(running)
        .filter(
          ([name, i]) =>
            pattern.test(name) && Object.entries(wanted).every(([k, v]) => i.tags[k] === v),
        )
        .map(([name, i]) => ({
          id: `i-${name}`,
          name,
          instanceType: i.instanceType,
          availabilityZone: i.zone,
          status: "Running",
          tags: i.tags,
        }));
      return {
        id: "instances",
        ids: instances.map((i) => i.id),
        names: instances.map((i) => i.name),
        instances,
      };
    },
    [INVOKES.instanceTypes]: (inputs) => {
      const type = String(inputs.instanceType);
      const offer = stock[type];
      // The real data source drops sold-out types entirely.
      const instanceTypes = offer?.zones.length
        ? [
            {
              id: type,
              family: type.split("-")[0]?.split(".").slice(0, 2).join("."),
              availabilityZones: offer.zones,
              cpuCoreCount: 8,
              memorySize: 30,
              price: offer.price ?? "",
              gpu: { amount: "1", category: "NVIDIA A10" },
              localStorage: { amount: "0", capacity: "0", category: "" },
            },
          ]
        : [];
      return { id: `types-${type}`, ids: instanceTypes.map((t) => t.id), instanceTypes, ...inputs };
    },
    [INVOKES.images]: (inputs) => {
      // By id among this account's images (DescribeImages with ImageId and ImageOwnerAlias=self);
      // otherwise the newest public Ubuntu.
      const images =
        inputs.imageId !== undefined
          ? Object.entries(ownImages)
              .filter(([id]) => id === inputs.imageId && inputs.owners === "self")
              .map(([id, i]) => imageRecord({ id, name: i.name, ownerAlias: "self", tags: i.tags }))
          : [
              imageRecord({
                id: "ubuntu_22_04_x64_20G_alibase_20261101.vhd",
                name: "ubuntu_22_04_x64_20G_alibase_20261101.vhd",
                ownerAlias: "system",
              }),
            ];
      return { id: "images", ids: images.map((i) => i.id), images, ...inputs };
    },
    // Shaped like alicloud 3.108 `GetClusterCredentialResult`: a kubeconfig with client certificates.
    [INVOKES.clusterCredential]: (inputs) => ({
      id: String(inputs.clusterId),
      clusterId: inputs.clusterId,
      clusterName: "vace-test",
      temporaryDurationMinutes: inputs.temporaryDurationMinutes,
      kubeConfig: TEST_KUBECONFIG,
      expiration: "2026-12-03T10:00:00Z",
      certificateAuthority: { clusterCert: "", clientCert: "", clientKey: "" },
    }),
    [INVOKES.callerIdentity]: () => ({
      id: TEST_ACCOUNT,
      accountId: TEST_ACCOUNT,
      arn: `acs:ram::${TEST_ACCOUNT}:root`,
      identityType: "Account",
      principalId: TEST_ACCOUNT,
    }),
  };
}

/** A kubeconfig as the credential API returns it (public endpoint, client certificate); fake keys. */
export const TEST_KUBECONFIG = [
  "apiVersion: v1",
  "kind: Config",
  "clusters:",
  "- cluster: {server: 'https://203.0.113.20:6443', certificate-authority-data: TEST-CA}",
  "  name: kubernetes",
  "contexts:",
  "- context: {cluster: kubernetes, user: test-user}",
  "  name: test-context",
  "current-context: test-context",
  "users:",
  "- name: test-user",
  "  user: {client-certificate-data: TEST-CERT, client-key-data: TEST-KEY-0123456789}",
  "",
].join("\n");

const testKeyPem = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();

/** Provider-computed outputs with realistic values. */
export function realisticComputed(r: RecordedResource): Record<string, unknown> {
  switch (r.type) {
    case "alicloud:ecs/eipAddress:EipAddress":
      return { ipAddress: TEST_IP, status: "Available" };
    case "random:index/randomPassword:RandomPassword":
      return { result: randomBytes(36).toString("base64url").replace(/[-_]/g, "x").slice(0, 48) };
    case "random:index/randomString:RandomString":
      return { result: "k3x9q2" };
    case "tls:index/privateKey:PrivateKey":
      return { privateKeyPem: testKeyPem };
    case "tls:index/selfSignedCert:SelfSignedCert":
      return { certPem: TEST_CERT_PEM };
    case "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer":
      return { address: TEST_IP };
    case "alicloud:vpc/natGateway:NatGateway":
      return { snatTableIds: "stb-test0001" };
    case "alicloud:ecs/instance:Instance":
      return { status: "Running", privateIp: "10.42.1.7" };
    default:
      return {};
  }
}

export interface PulumiTest {
  record: MockRecord;
  /** Mutable: tests may change stock between programs, never the mocks themselves. */
  stock: Stock;
  ofType(type: string): RecordedResource[];
  one(type: string): RecordedResource;
}

export async function setupPulumi(opts: {
  config: Record<string, unknown>;
  stock: Stock;
  running?: Running;
  /** This account's images, for look-ups by id (wan-vace:bakedImageId). */
  ownImages?: OwnImages;
  /** Run as `pulumi preview`: outputs the mocks leave out are unknown, as for unborn resources. */
  preview?: boolean;
  /** Replaces the realistic computed outputs (e.g. to leave some unknown in a preview). */
  computed?: (r: RecordedResource) => Record<string, unknown>;
  stack?: string;
  secretKeys?: string[];
}): Promise<PulumiTest> {
  const stock = opts.stock;
  const { mocks, record } = createMocks(
    realisticInvokes(stock, opts.running, opts.ownImages),
    opts.computed ?? realisticComputed,
  );
  await pulumi.runtime.setMocks(mocks, PROJECT, opts.stack ?? "test", opts.preview ?? false);
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(opts.config).map(([k, v]) => [
        `${PROJECT}:${k}`,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    ),
    (opts.secretKeys ?? []).map((k) => `${PROJECT}:${k}`),
  );
  const ofType = (type: string) => record.resources.filter((r) => r.type === type);
  return {
    record,
    stock,
    ofType,
    one(type) {
      const found = ofType(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0] as RecordedResource;
    },
  };
}

/**
 * Component options that record each child's resource options by name, through a (legacy,
 * in-process) transformation: how tests see retainOnDelete, customTimeouts and the like.
 */
export function recordingOptions(
  seen: Map<string, pulumi.CustomResourceOptions>,
): pulumi.ComponentResourceOptions {
  return {
    transformations: [
      (a) => {
        seen.set(a.name, a.opts as pulumi.CustomResourceOptions);
        return undefined;
      },
    ],
  };
}

/** The value of an Output (test timeouts guard against unknowns, which never resolve). */
export function unwrap<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

/** Raw inputs with Pulumi's secret markers removed, for asserting on values. */
export function rawInputs(r: RecordedResource): Record<string, unknown> {
  return unwrapSecrets(r.inputs) as Record<string, unknown>;
}

export { waitForRegistrations } from "../infra/offline/mocks";
