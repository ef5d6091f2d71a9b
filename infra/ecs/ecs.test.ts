/**
 * EcsDeployment under Pulumi mocks: the resources and properties that keep the endpoint private,
 * cheap and self-destructing. One setMocks for the file; each case is its own component.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type PulumiTest,
  rawInputs,
  setupPulumi,
  TEST_CERT_PEM,
  TEST_CERT_SHA256,
  TEST_IP,
  unwrap,
  waitForRegistrations,
} from "../../test/pulumi";
import { autoReleaseTime } from "../common/ttl";
import { loadConfig, type WanVaceConfig } from "../config";
import { isSecretMarker, redactSecrets } from "../offline/mocks";
import { EcsDeployment } from ".";
import { decodeUserData } from "./boot";
import { lookupOffers } from "./lookups";
import { choosePlacement, PlacementError } from "./placement";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const CONFIGURED_TOKEN = "Cfg0token0value0that0is0long0enough0xyz123";

const STOCK = {
  // The first preference is sold out everywhere; the second is in stock in two zones.
  "ecs.gn7i-c8g1.2xlarge": { zones: [] },
  "ecs.gn7i-c16g1.4xlarge": { zones: ["ap-southeast-1c", "ap-southeast-1b"], price: "2.71" },
  "ecs.gn6i-c4g1.xlarge": { zones: ["ap-southeast-1a"] },
};

const config = (raw: Record<string, unknown>): WanVaceConfig =>
  loadConfig({ image: IMAGE, ...raw }).config;
const now = new Date();
const expiresAt = autoReleaseTime(now, 240);

/** Resource options as the component passed them, captured by a (legacy, in-process) transformation. */
const optionsSeen = new Map<string, pulumi.CustomResourceOptions>();

function deploy(name: string, c: WanVaceConfig, stack = "test") {
  return new EcsDeployment(
    name,
    { config: c, stack, expiresAt },
    {
      transformations: [
        (a) => {
          optionsSeen.set(a.name, a.opts as pulumi.CustomResourceOptions);
          return undefined;
        },
      ],
    },
  );
}

const byName = (prefix: string, type: string) =>
  t.ofType(type).filter((r) => r.name.startsWith(`${prefix}-`));
const instanceOf = (prefix: string) => {
  const [i] = byName(prefix, "alicloud:ecs/instance:Instance");
  if (!i) throw new Error(`no instance for ${prefix}`);
  return rawInputs(i);
};

let t: PulumiTest;
let defaults: EcsDeployment;
let hardened: EcsDeployment;
let privateRegistry: EcsDeployment;
let kept: EcsDeployment;
const REGISTRY_PASSWORD = "Registry-Password-9f8e7d6c5b4a";

beforeAll(async () => {
  t = await setupPulumi({
    config: {},
    stock: STOCK,
    running: {
      // Stack "keep" already runs its instance on a type that has since sold out everywhere.
      "vace-keep-k3x9q2-gpu": {
        instanceType: "ecs.gn7i-c8g1.2xlarge",
        zone: "ap-southeast-1d",
        tags: { project: "wan-vace", stack: "keep" },
      },
    },
  });
  kept = deploy("keep", config({}), "keep");
  defaults = deploy("dflt", config({}));
  hardened = deploy(
    "spot",
    config({
      spot: true,
      token: CONFIGURED_TOKEN,
      tls: "acme",
      domain: "vace.example.com",
      allowedCidrs: ["198.51.100.0/24", "203.0.113.0/25"],
      sshCidrs: ["192.0.2.7/32"],
      keyPairName: "ops",
      zones: ["ap-southeast-1a"],
      instanceTypes: ["ecs.gn7i-c16g1.4xlarge", "ecs.gn6i-c4g1.xlarge"],
    }),
  );
  privateRegistry = deploy(
    "priv",
    config({ registryUsername: "puller@5123456789012345", registryPassword: REGISTRY_PASSWORD }),
  );
  await Promise.all([
    unwrap(privateRegistry.instanceId),
    unwrap(kept.instanceId),
    unwrap(defaults.url),
    unwrap(hardened.url),
    unwrap(defaults.instanceId),
    unwrap(hardened.instanceId),
  ]);
  await waitForRegistrations(t.record);
});

describe("security group", () => {
  it("opens 443 from allowedCidrs only, as intranet rules on the VPC group", () => {
    const rules = byName("dflt", "alicloud:ecs/securityGroupRule:SecurityGroupRule").map(rawInputs);
    expect(rules).toEqual([
      expect.objectContaining({
        type: "ingress",
        ipProtocol: "tcp",
        portRange: "443/443",
        cidrIp: "0.0.0.0/0",
        nicType: "intranet",
        policy: "accept",
      }),
    ]);
  });

  it("adds 80 for ACME, 22 only for sshCidrs, IPv4 rules only, and never 8188", () => {
    const rules = byName("spot", "alicloud:ecs/securityGroupRule:SecurityGroupRule").map(rawInputs);
    expect(rules.some((r) => "ipv6CidrIp" in r)).toBe(false);
    const summary = rules.map((r) => `${r.portRange} ${r.cidrIp}`).sort();
    expect(summary).toEqual(
      [
        "22/22 192.0.2.7/32",
        "443/443 198.51.100.0/24",
        "443/443 203.0.113.0/25",
        "80/80 0.0.0.0/0",
      ].sort(),
    );
    for (const r of [
      ...rules,
      ...byName("dflt", "alicloud:ecs/securityGroupRule:SecurityGroupRule").map(rawInputs),
    ]) {
      expect(r.nicType).toBe("intranet");
      expect(r.portRange).not.toMatch(/8188/);
      expect(r.type).toBe("ingress");
    }
  });

  it("puts the instance in the group and the group in the VPC", () => {
    const [sg] = byName("dflt", "alicloud:ecs/securityGroup:SecurityGroup");
    expect(rawInputs(sg as never).vpcId).toBe("dflt-vpc-id");
    expect(instanceOf("dflt").securityGroups).toEqual(["dflt-sg-id"]);
  });
});

describe("GPU instance", () => {
  it("is pay-as-you-go, released at expiry, and sets no stoppedMode (a diff on every up)", () => {
    const i = instanceOf("dflt");
    // The provider only reads stopped_mode back ("Not-applicable" while running); StopCharging
    // is the idle watchdog's StopInstance argument (idle_watchdog.test.ts).
    expect(i).not.toHaveProperty("stoppedMode");
    expect(i).toMatchObject({
      instanceChargeType: "PostPaid",
      spotStrategy: "NoSpot",
      systemDiskCategory: "cloud_essd",
      systemDiskSize: 100,
      internetMaxBandwidthOut: 0,
      httpTokens: "required",
      autoReleaseTime: expiresAt,
    });
    expect(i.autoReleaseTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const ahead = Date.parse(String(i.autoReleaseTime)) - now.getTime();
    expect(ahead).toBeGreaterThanOrEqual(30 * 60_000);
    expect(ahead).toBeLessThan(3 * 365 * 24 * 3_600_000);
  });

  it("uses SpotAsPriceGo when spot is on", () => {
    expect(instanceOf("spot")).toMatchObject({
      instanceChargeType: "PostPaid",
      spotStrategy: "SpotAsPriceGo",
      keyName: "ops",
    });
  });

  it("falls back to the next preferred type in stock, in a zone it is in stock in", async () => {
    expect(instanceOf("dflt")).toMatchObject({
      instanceType: "ecs.gn7i-c16g1.4xlarge",
      availabilityZone: "ap-southeast-1b",
    });
    expect(await unwrap(defaults.zone)).toBe("ap-southeast-1b");
    expect(await unwrap(defaults.hourlyPrice)).toBe(2.71);
    const [vsw] = byName("dflt", "alicloud:vpc/switch:Switch");
    expect(rawInputs(vsw as never).zoneId).toBe("ap-southeast-1b");
  });

  it("walks types × allowed zones: a zone restriction moves it to the next type", () => {
    expect(instanceOf("spot")).toMatchObject({
      instanceType: "ecs.gn6i-c4g1.xlarge",
      availabilityZone: "ap-southeast-1a",
    });
  });

  it("tags every taggable resource with project, stack, owner and expiry", () => {
    const tagged = t.record.resources.filter(
      (r) => r.name.startsWith("dflt-") && "tags" in r.inputs,
    );
    expect(tagged.length).toBeGreaterThanOrEqual(6);
    for (const r of tagged) {
      const { "boot-digest": digest, ...standard } = rawInputs(r).tags as Record<string, string>;
      expect(standard).toEqual({
        project: "wan-vace",
        stack: "test",
        owner: "wan-vace",
        "expires-at": expiresAt,
      });
      // Only the instance carries its boot digest (what forces a replacement).
      if (r.type === "alicloud:ecs/instance:Instance") expect(digest).toMatch(/^[0-9a-f]{64}$/);
      else expect(digest).toBeUndefined();
    }
  });

  it("gets a RAM role that may read only its own secret and stop only itself", () => {
    const [policy] = byName("dflt", "alicloud:ram/policy:Policy");
    const doc = JSON.parse(String(rawInputs(policy as never).policyDocument));
    const actions = doc.Statement.flatMap((s: { Action: string[] }) => s.Action);
    expect(actions).toEqual(expect.arrayContaining(["oos:GetSecretParameter", "ecs:StopInstance"]));
    expect(JSON.stringify(doc)).toContain("secretparameter/vace-test-k3x9q2-boot");
    expect(JSON.stringify(doc)).toContain("instance/dflt-gpu-id");
    expect(
      byName("dflt", "alicloud:ecs/ramRoleAttachment:RamRoleAttachment").map(rawInputs),
    ).toEqual([
      expect.objectContaining({
        instanceId: "dflt-gpu-id",
        ramRoleName: "vace-test-k3x9q2-instance",
      }),
    ]);
  });

  it("associates the EIP and serves https on it", async () => {
    expect(byName("dflt", "alicloud:ecs/eipAssociation:EipAssociation").map(rawInputs)).toEqual([
      expect.objectContaining({ allocationId: "dflt-eip-id", instanceId: "dflt-gpu-id" }),
    ]);
    expect(await unwrap(defaults.url)).toBe(`https://${TEST_IP}`);
    expect(await unwrap(hardened.url)).toBe("https://vace.example.com");
  });

  it("publishes the deploy-time certificate and its pin, not for ACME", async () => {
    expect(await unwrap(defaults.caCertificate)).toBe(TEST_CERT_PEM);
    expect(await unwrap(defaults.certificateSha256)).toBe(TEST_CERT_SHA256);
    expect(await unwrap(hardened.certificateSha256)).toBeUndefined();
    const [cert] = byName("dflt", "tls:index/selfSignedCert:SelfSignedCert");
    expect(rawInputs(cert as never).ipAddresses).toEqual([TEST_IP]);
  });
});

describe("the token", () => {
  it("is generated when not configured, and is a secret output either way", async () => {
    const generated = await unwrap(defaults.token);
    expect(generated).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(await pulumi.isSecret(defaults.token)).toBe(true);
    expect(await unwrap(hardened.token)).toBe(CONFIGURED_TOKEN);
    expect(await pulumi.isSecret(hardened.token)).toBe(true);
  });

  it("never appears in user-data, in any non-secret input, or in any non-secret output", async () => {
    for (const [deployment, prefix] of [
      [defaults, "dflt"],
      [hardened, "spot"],
    ] as const) {
      const token = await unwrap(deployment.token);
      const userData = decodeUserData(String(instanceOf(prefix).userData));
      expect(userData).toMatch(/^#cloud-config\n/);
      expect(userData.length).toBeGreaterThan(100);
      expect(userData).not.toContain(token);
      // Raw inputs with secrets removed (as the engine stores them unencrypted) must not hold it.
      for (const r of t.record.resources) {
        const visible = JSON.stringify(redactSecrets(r.inputs));
        expect(visible, `${r.type} ${r.name}`).not.toContain(token);
      }
      const outputs = {
        url: deployment.url,
        zone: deployment.zone,
        instanceType: deployment.instanceType,
        instanceId: deployment.instanceId,
        certificateSha256: deployment.certificateSha256,
        caCertificate: deployment.caCertificate,
        publicIp: deployment.publicIp,
        hourlyPrice: deployment.hourlyPrice,
      };
      for (const [k, o] of Object.entries(outputs)) {
        expect(await pulumi.isSecret(o as pulumi.Output<unknown>), k).toBe(false);
        expect(JSON.stringify(await unwrap(o as pulumi.Output<unknown>)) ?? "", k).not.toContain(
          token,
        );
      }
    }
  });

  it("reaches the instance only through the secret parameter", async () => {
    const [param] = byName("spot", "alicloud:oos/secretParameter:SecretParameter");
    if (!param) throw new Error("no secret parameter");
    expect(isSecretMarker(param.inputs.value)).toBe(true);
    const value = JSON.parse(String(rawInputs(param).value));
    expect(value).toEqual({ token: CONFIGURED_TOKEN });
    expect(rawInputs(param)).toMatchObject({
      type: "Secret",
      secretParameterName: "vace-test-k3x9q2-boot",
    });
    const withCert = JSON.parse(
      String(
        rawInputs(byName("dflt", "alicloud:oos/secretParameter:SecretParameter")[0] as never).value,
      ),
    );
    expect(Object.keys(withCert).sort()).toEqual(["tlsCertPem", "tlsKeyPem", "token"]);
  });
});

describe("stock lookups", () => {
  it("asks for each preferred type with the instance's charge type and disk", () => {
    const asked = t.record.invokes
      .filter((i) => i.token === "alicloud:ecs/getInstanceTypes:getInstanceTypes")
      .map((i) => i.inputs);
    expect(asked).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          instanceType: "ecs.gn7i-c8g1.2xlarge",
          instanceChargeType: "PostPaid",
          spotStrategy: "NoSpot",
          systemDiskCategory: "cloud_essd",
        }),
        expect.objectContaining({
          instanceType: "ecs.gn6i-c4g1.xlarge",
          spotStrategy: "SpotAsPriceGo",
        }),
      ]),
    );
  });

  it("fails with everything it tried when no preferred type is in stock", async () => {
    const offers = await unwrap(
      lookupOffers(
        { instanceTypes: ["ecs.gn7i-c8g1.2xlarge"], spot: false, priceLookup: false },
        {},
      ),
    );
    expect(offers).toEqual([]);
    expect(() => choosePlacement(["ecs.gn7i-c8g1.2xlarge"], [], offers, "ap-southeast-1")).toThrow(
      PlacementError,
    );
    expect(() => choosePlacement(["ecs.gn7i-c8g1.2xlarge"], [], offers, "ap-southeast-1")).toThrow(
      /ecs.gn7i-c8g1.2xlarge: sold out/,
    );
  });
});

describe("re-deploys", () => {
  it("never re-image a running instance; its type and zone come from the placement plan", () => {
    expect(optionsSeen.get("dflt-gpu")?.ignoreChanges).toEqual(["imageId"]);
    // The vSwitch follows the instance's zone (infra/ecs/lifecycle.test.ts).
    expect(optionsSeen.get("dflt-vswitch")?.ignoreChanges).toBeUndefined();
  });

  it("replace the instance, deleting first, when its user-data changes", () => {
    const o = optionsSeen.get("dflt-gpu");
    expect(o?.replaceOnChanges).toEqual(["userData"]);
    expect(o?.deleteBeforeReplace).toBe(true);
  });

  it("keep a running instance's type and zone even after its type sold out", async () => {
    expect(instanceOf("keep")).toMatchObject({
      instanceName: "vace-keep-k3x9q2-gpu",
      instanceType: "ecs.gn7i-c8g1.2xlarge",
      availabilityZone: "ap-southeast-1d",
    });
    const [vsw] = byName("keep", "alicloud:vpc/switch:Switch");
    expect(rawInputs(vsw as never).zoneId).toBe("ap-southeast-1d");
    // A stack with no running instance still walks the stock.
    expect(instanceOf("dflt").instanceType).toBe("ecs.gn7i-c16g1.4xlarge");
  });

  it("report the instance's own type and zone, not a fresh lookup's", async () => {
    expect(await unwrap(defaults.instanceType)).toBe(instanceOf("dflt").instanceType);
    expect(await unwrap(defaults.zone)).toBe(instanceOf("dflt").availabilityZone);
  });
});

describe("host firewall in the user-data", () => {
  it("keeps 8188 loopback-only and the metadata service (role credentials) root-only", () => {
    const userData = decodeUserData(String(instanceOf("dflt").userData));
    expect(userData).toContain("iptables -I INPUT -p tcp --dport 8188 ! -i lo -j DROP");
    expect(userData).toContain(
      "iptables -I OUTPUT -d 100.100.100.200 -m owner ! --uid-owner 0 -j REJECT",
    );
  });
});

describe("registry credentials", () => {
  it("reach the instance only through the secret parameter", async () => {
    const [param] = byName("priv", "alicloud:oos/secretParameter:SecretParameter");
    if (!param) throw new Error("no secret parameter");
    expect(JSON.parse(String(rawInputs(param).value))).toMatchObject({
      registryUsername: "puller@5123456789012345",
      registryPassword: REGISTRY_PASSWORD,
    });
    const userData = decodeUserData(String(instanceOf("priv").userData));
    expect(userData).toContain("registry-vpc.ap-southeast-1.aliyuncs.com");
    expect(userData).not.toContain(REGISTRY_PASSWORD);
    for (const r of t.record.resources) {
      const visible = JSON.stringify(redactSecrets(r.inputs));
      expect(visible, `${r.type} ${r.name}`).not.toContain(REGISTRY_PASSWORD);
    }
  });
});
