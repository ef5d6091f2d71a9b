/**
 * The ACS cluster a stack creates when no `clusterId` is given, with the network it owns: VPC,
 * one vSwitch per zone, and a NAT gateway with its EIP (pods pull public images and reach ACME
 * through it). Arguments were checked against aliyun/terraform-provider-alicloud@81c43b6
 * (resource_alicloud_cs_managed_kubernetes.go, resource_alicloud_nat_gateway.go).
 */
import * as alicloud from "@pulumi/alicloud";
import type * as pulumi from "@pulumi/pulumi";

export const ACS_VPC_CIDR = "10.44.0.0/16";
/** ForceNew; the value of Terraform's own ACS acceptance test. */
export const SERVICE_CIDR = "172.23.0.0/16";
/** Per-second GPU pods each take an address from these: a /20 per zone leaves room. */
export function vswitchCidr(index: number): string {
  return `10.44.${index * 16}.0/20`;
}

/**
 * What the cloud removes with the cluster. Everything it would otherwise keep (ALB, both SLS
 * projects, PrivateZone) is deleted too: a stack leaves nothing behind that it made.
 */
export const DELETE_OPTIONS = ["SLB", "ALB", "SLS_Data", "SLS_ControlPlane", "PrivateZone"].map(
  (resourceType) => ({ resourceType, deleteMode: "delete" }),
);

/** The credential API takes 15-4320 minutes (3 days). */
export const CREDENTIAL_MINUTES = { min: 15, max: 4320 } as const;

/**
 * How long the kubeconfig Pulumi stores in state stays valid: the ttl plus a day, so a `pulumi
 * destroy` the day after the ttl still works without `--run-program` (docs/acs.md), capped at 3 days.
 */
export function credentialMinutes(ttlMinutes: number): number {
  return Math.min(CREDENTIAL_MINUTES.max, Math.max(CREDENTIAL_MINUTES.min, ttlMinutes + 24 * 60));
}

export interface ClusterArgs {
  name: string;
  prefix: string;
  zones: string[];
  tags: Record<string, string>;
}

/** The new cluster's arguments, given its vSwitches. Pure, so tests read them without the engine. */
export function managedKubernetesArgs(
  prefix: string,
  vswitchIds: pulumi.Input<string>[],
  tags: Record<string, string>,
): alicloud.cs.ManagedKubernetesArgs {
  return {
    name: prefix,
    profile: "Acs",
    clusterSpec: "ack.pro.small",
    vswitchIds,
    podVswitchIds: vswitchIds,
    serviceCidr: SERVICE_CIDR,
    ipStack: "ipv4",
    // Pulumi runs outside the VPC and the credential API returns the public kubeconfig, so the API
    // server needs an internet SLB (client-certificate auth; docs/acs.md "API server exposure").
    slbInternetEnabled: true,
    // The provider never sends false (GetOk), and true is its default: SNAT is configured, using
    // the NAT gateway this stack already made in the VPC (docs/acs.md).
    newNatGateway: true,
    // GetOkExists: this false does reach the API, so `pulumi destroy` is never blocked.
    deletionProtection: false,
    // As in Terraform's ACS acceptance test: the CA is not read back into state.
    skipSetCertificateAuthority: true,
    deleteOptions: DELETE_OPTIONS,
    tags,
  };
}

/** Creates the network and the cluster; returns the cluster id. */
export function createCluster(
  a: ClusterArgs,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const { name, prefix, tags } = a;
  const vpc = new alicloud.vpc.Network(
    `${name}-vpc`,
    { vpcName: prefix, cidrBlock: ACS_VPC_CIDR, tags },
    opts,
  );
  const vswitches = a.zones.map(
    (zoneId, i) =>
      new alicloud.vpc.Switch(
        `${name}-vswitch-${zoneId}`,
        {
          vswitchName: `${prefix}-${zoneId}`,
          vpcId: vpc.id,
          cidrBlock: vswitchCidr(i),
          zoneId,
          tags,
        },
        opts,
      ),
  );
  const first = vswitches[0];
  if (!first) throw new Error("a new ACS cluster needs at least one zone (wan-vace:zones)");
  const nat = new alicloud.vpc.NatGateway(
    `${name}-nat`,
    {
      vpcId: vpc.id,
      natGatewayName: prefix,
      natType: "Enhanced",
      vswitchId: first.id,
      networkType: "internet",
      paymentType: "PayAsYouGo",
      internetChargeType: "PayByLcu",
      // Deletes SNAT entries the cluster may have added, so `pulumi destroy` cannot stall on them.
      force: true,
      description: "wan-vace: outbound for ACS pods (image pulls, ACME)",
      tags,
    },
    opts,
  );
  const natEip = new alicloud.ecs.EipAddress(
    `${name}-nat-eip`,
    {
      addressName: `${prefix}-nat`,
      bandwidth: "100",
      internetChargeType: "PayByTraffic",
      paymentType: "PayAsYouGo",
      tags,
    },
    opts,
  );
  const natEipAssociation = new alicloud.ecs.EipAssociation(
    `${name}-nat-eip-assoc`,
    { allocationId: natEip.id, instanceId: nat.id, instanceType: "Nat" },
    opts,
  );
  const snat = vswitches.map(
    (vswitch, i) =>
      new alicloud.vpc.SnatEntry(
        `${name}-snat-${a.zones[i]}`,
        {
          snatTableId: nat.snatTableIds,
          sourceVswitchId: vswitch.id,
          snatIp: natEip.ipAddress,
          snatEntryName: `${prefix}-${a.zones[i]}`,
        },
        { ...opts, dependsOn: [natEipAssociation] },
      ),
  );
  const cluster = new alicloud.cs.ManagedKubernetes(
    `${name}-cluster`,
    managedKubernetesArgs(
      prefix,
      vswitches.map((v) => v.id),
      tags,
    ),
    {
      ...opts,
      // The cluster finds SNAT already in place, so it adds no NAT gateway of its own.
      dependsOn: snat,
      customTimeouts: { create: "90m", delete: "60m" },
    },
  );
  return cluster.id;
}
