/**
 * The GPU host's pieces, shared by a deployment (EcsDeployment) and a `vace bake` builder
 * (infra/bake): private network, security group with the given ingress rules (none for a builder),
 * EIP, boot secret, RAM role and policy, and the instance with its placement and user-data.
 *
 * Only wiring: every decision is a pure function of its own module (placement, rules, policies,
 * user-data, boot digest). Children are created under `parent` with the same logical names a
 * deployment always had, so existing stacks see no change.
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { namePrefix, standardTags } from "../common/naming";
import type { WanVaceConfig } from "../config";
import { type BootMode, encodeUserData, renderUserData } from "./boot";
import { ecsTrustPolicy, instancePolicy } from "./iam";
import { lookupOffers, lookupOsImage, lookupRunningInstance } from "./lookups";
import { VPC_CIDR, vswitchCidr } from "./network";
import { type PlacementPlan, planPlacement, type RunningPlacement } from "./placement";
import { BOOT_DIGEST_TAG, bootDigest } from "./replacement";
import type { IngressRule } from "./security";

/**
 * The newest OS image is looked up on every run; a running instance keeps the one it was created
 * with (a new image id would rebuild its system disk). Type and zone need no such guard: the
 * placement plan keeps them for a running instance and changes them only for a new one.
 */
export const STICKY_INSTANCE = ["imageId"];

const SYSTEM_DISK_CATEGORY = "cloud_essd";
/** CreatePolicyVersion then deletes the oldest non-default version when 5 exist. */
export const POLICY_ROTATE_STRATEGY = "DeleteOldestNonDefaultVersionWhenLimitExceeded";

/** The secret JSON the instance reads at boot (see infra/ecs/boot). */
export interface BootSecret {
  token: string;
  tlsCertPem?: string;
  tlsKeyPem?: string;
  registryUsername?: string;
  registryPassword?: string;
}

export interface GpuHostArgs {
  config: WanVaceConfig;
  stack: string;
  /** What the user-data does at boot (infra/ecs/boot). */
  mode: BootMode;
  /** Ingress rules of the security group; none for a builder. */
  ingress: readonly IngressRule[];
  /**
   * ISO 8601 `autoReleaseTime` (also the `expires-at` tag), given this stack's instance as the
   * cloud has it now, if any.
   */
  releaseTime: (running: RunningPlacement | undefined) => string;
  /** The boot secret's value; the EIP is there for a certificate that names its address. */
  secret: (eip: alicloud.ecs.EipAddress) => pulumi.Output<BootSecret>;
  /** The image to boot when not the looked-up OS image (checked by the caller). */
  imageId?: pulumi.Output<string>;
}

export interface GpuHost {
  instance: alicloud.ecs.Instance;
  eip: alicloud.ecs.EipAddress;
  placement: pulumi.Output<PlacementPlan>;
  /** What `releaseTime` decided. */
  expiresAt: pulumi.Output<string>;
}

export function buildGpuHost(
  name: string,
  parent: pulumi.ComponentResource,
  a: GpuHostArgs,
): GpuHost {
  const { config: c, stack } = a;
  const prefix = namePrefix(stack);
  const child: pulumi.CustomResourceOptions = { parent };

  // RAM names are global to the account and every teammate's local backend may hold a "dev"
  // stack, so account-wide names carry a suffix generated once per stack and kept in state.
  const uid = new random.RandomString(
    `${name}-uid`,
    { length: 6, special: false, upper: false },
    child,
  ).result;
  const accountName = (what: string) => pulumi.interpolate`${prefix}-${uid}-${what}`;
  const instanceName = accountName("gpu");

  const secretParameterName = accountName("boot");
  const spotStrategy = c.spot ? "SpotAsPriceGo" : "NoSpot";
  const userData = secretParameterName.apply((parameter) =>
    renderUserData({
      region: c.region,
      secretParameterName: parameter,
      comfyuiImage: c.image,
      gatewayImage: c.gatewayImage,
      ...(c.registry && { registryServer: c.registry.server }),
      tls: c.tls,
      idleStopMinutes: c.idleStopMinutes,
      driver: c.driver.mode === "preinstalled" ? { mode: "preinstalled" } : c.driver,
      ...(a.mode !== "deploy" && { mode: a.mode }),
      ...(c.bakedImageId !== undefined && { bakedImageId: c.bakedImageId }),
    }),
  );
  const digest = userData.apply((u) =>
    bootDigest({ userData: u, spotStrategy, systemDiskCategory: SYSTEM_DISK_CATEGORY }),
  );

  // A running instance with unchanged boot inputs stays where it is, even when its type has
  // since sold out. A new instance (first deploy, after release or reclaim, or a replacement)
  // needs stock; when none is left, planning fails the preview before anything is deleted.
  const running = lookupRunningInstance(instanceName, stack, child);
  const offers = lookupOffers(c, child);
  const placement: pulumi.Output<PlacementPlan> = pulumi
    .all([running, offers, digest])
    .apply(([r, o, d]) => {
      const plan = planPlacement({
        running: r,
        bootDigest: d,
        preferences: c.instanceTypes,
        allowedZones: c.zones,
        offers: o,
        region: c.region,
      });
      if (plan.note) pulumi.log.warn(plan.note, parent);
      return plan;
    });
  const imageId =
    a.imageId ??
    (c.driver.mode === "preinstalled"
      ? pulumi.output(c.driver.imageId)
      : lookupOsImage(c.osImageNameRegex, placement.instanceType, child));
  const expiresAt = running.apply(a.releaseTime);
  const tags = expiresAt.apply((at) => standardTags({ stack, owner: c.owner, expiresAt: at }));

  const vpc = new alicloud.vpc.Network(
    `${name}-vpc`,
    { vpcName: prefix, cidrBlock: VPC_CIDR, tags },
    child,
  );
  const vswitch = new alicloud.vpc.Switch(
    `${name}-vswitch`,
    {
      vswitchName: prefix,
      vpcId: vpc.id,
      cidrBlock: placement.zone.apply(vswitchCidr),
      zoneId: placement.zone,
      tags,
    },
    // It follows the instance's zone (zoneId is ForceNew): a new instance in another zone gets
    // a new vSwitch there, created before the old one is deleted (their CIDRs differ).
    child,
  );

  const sg = new alicloud.ecs.SecurityGroup(
    `${name}-sg`,
    {
      securityGroupName: prefix,
      vpcId: vpc.id,
      description: "wan-vace: gateway 443 only; ComfyUI is loopback-only",
      tags,
    },
    child,
  );
  for (const r of a.ingress) {
    new alicloud.ecs.SecurityGroupRule(
      `${name}-in-${r.name}`,
      {
        securityGroupId: sg.id,
        type: "ingress",
        ipProtocol: "tcp",
        portRange: `${r.port}/${r.port}`,
        // VPC security groups reject "internet" (alicloud-facts §3).
        nicType: "intranet",
        policy: "accept",
        priority: 1,
        cidrIp: r.cidr,
        description: r.description,
      },
      child,
    );
  }

  const eip = new alicloud.ecs.EipAddress(
    `${name}-eip`,
    {
      addressName: prefix,
      bandwidth: String(c.eipBandwidthMbps),
      internetChargeType: "PayByTraffic",
      paymentType: "PayAsYouGo",
      tags,
    },
    child,
  );

  const secret = new alicloud.oos.SecretParameter(
    `${name}-boot-secret`,
    {
      secretParameterName,
      type: "Secret",
      value: pulumi.secret(a.secret(eip).apply((s) => JSON.stringify(s))),
      description: "wan-vace: gateway token and TLS key, read by the instance's RAM role at boot",
      tags,
    },
    child,
  );

  const role = new alicloud.ram.Role(
    `${name}-role`,
    {
      roleName: accountName("instance"),
      assumeRolePolicyDocument: ecsTrustPolicy(),
      description: "wan-vace instance role: read its boot secret, stop itself when idle",
      force: true,
    },
    child,
  );

  const instance = new alicloud.ecs.Instance(
    `${name}-gpu`,
    {
      instanceName,
      hostName: prefix,
      instanceType: placement.instanceType,
      availabilityZone: placement.zone,
      vswitchId: vswitch.id,
      securityGroups: [sg.id],
      imageId,
      instanceChargeType: "PostPaid",
      spotStrategy,
      autoReleaseTime: expiresAt,
      // No stoppedMode: the provider never sends it on create and reads back "Not-applicable"
      // while the instance runs (a diff on every up). StopCharging comes from the idle
      // watchdog's own StopInstance call (infra/ecs/boot/files/aliyun_rpc.py).
      systemDiskCategory: SYSTEM_DISK_CATEGORY,
      systemDiskSize: c.systemDiskSizeGiB,
      // The EIP is the only public address; no second, ephemeral one.
      internetMaxBandwidthOut: 0,
      // Hardened metadata (IMDSv2-style): the role's credentials need a session token.
      httpTokens: "required",
      // Gzipped (cloud-init unpacks it) to stay under the 16 KB user-data floor.
      userData: userData.apply(encodeUserData),
      // Not on a builder: nothing can reach it (no ingress), and cloud-init would leave the pair's
      // key in /root/.ssh/authorized_keys, so in the image and every host booted from it.
      ...(c.keyPairName !== undefined && a.mode !== "bake" && { keyName: c.keyPairName }),
      tags: pulumi.all([tags, digest]).apply(([t, d]) => ({ ...t, [BOOT_DIGEST_TAG]: d })),
    },
    {
      ...child,
      dependsOn: [secret],
      // cloud-init runs user-data once per instance, so new user-data (a new image, say) needs
      // a new instance; delete first so two GPUs are never billed and the EIP moves cleanly.
      replaceOnChanges: ["userData"],
      deleteBeforeReplace: true,
      // Only the looked-up OS image is sticky. A baked image id is in boot.env, so changing it
      // replaces the instance, and Pulumi builds a replacement from an ignored property's value in
      // state: the old image, which a baked-mode boot would find without a driver.
      ignoreChanges: c.bakedImageId === undefined ? STICKY_INSTANCE : [],
    },
  );

  const account = alicloud.getCallerIdentityOutput(child);
  const policy = new alicloud.ram.Policy(
    `${name}-policy`,
    {
      policyName: accountName("instance"),
      policyDocument: pulumi
        .all([account.accountId, instance.id, secretParameterName])
        .apply(([accountId, instanceId, secretParameterName]) =>
          instancePolicy({ region: c.region, accountId, secretParameterName, instanceId }),
        ),
      description: "wan-vace instance: own boot secret, stop itself",
      // The document names the instance id, so every replacement writes a new version. RAM
      // keeps at most 5 and by default deletes none: the 5th replacement would fail after the
      // new instance exists, leaving StopInstance granted on the old id only.
      rotateStrategy: POLICY_ROTATE_STRATEGY,
      force: true,
    },
    child,
  );
  new alicloud.ram.RolePolicyAttachment(
    `${name}-policy-attach`,
    { policyName: policy.policyName, policyType: "Custom", roleName: role.roleName },
    child,
  );
  new alicloud.ecs.RamRoleAttachment(
    `${name}-role-attach`,
    { instanceId: instance.id, ramRoleName: role.roleName },
    child,
  );
  new alicloud.ecs.EipAssociation(
    `${name}-eip-assoc`,
    { allocationId: eip.id, instanceId: instance.id },
    child,
  );
  return { instance, eip, placement, expiresAt };
}
