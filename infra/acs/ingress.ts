/**
 * The way in: a CLB the stack owns (so its address is known before the self-signed certificate
 * is made, and the Service binds to it), and a white-list ACL from `allowedCidrs`. CLB ignores a
 * Service's loadBalancerSourceRanges (acs-facts §5), so the ACL is what restricts access.
 * Arguments checked against terraform-provider-alicloud@81c43b6 (resource_alicloud_slb_load_balancer.go,
 * resource_alicloud_slb_acl.go, resource_alicloud_slb_acl_entry_attachment.go).
 */
import * as alicloud from "@pulumi/alicloud";
import type * as pulumi from "@pulumi/pulumi";

/** The ACL's entries, or undefined when `allowedCidrs` admits everyone (no ACL is needed). */
export function aclEntries(allowedCidrs: string[]): string[] | undefined {
  if (allowedCidrs.includes("0.0.0.0/0")) return undefined;
  return [...new Set(allowedCidrs)];
}

/** A Pulumi-name-safe suffix for one CIDR. */
export function cidrSlug(cidr: string): string {
  return cidr.replace(/[^0-9a-fA-F]+/g, "-").replace(/-+$/, "");
}

export interface Ingress {
  loadBalancerId: pulumi.Output<string>;
  address: pulumi.Output<string>;
  aclId?: pulumi.Output<string>;
  /** The ACL's entries: the Service waits for them, so its listener never starts with an empty white list. */
  aclEntries: pulumi.Resource[];
}

export function createIngress(
  name: string,
  prefix: string,
  allowedCidrs: string[],
  tags: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): Ingress {
  const clb = new alicloud.slb.ApplicationLoadBalancer(
    `${name}-clb`,
    {
      loadBalancerName: prefix,
      addressType: "internet",
      addressIpVersion: "ipv4",
      paymentType: "PayAsYouGo",
      // Pay-as-you-go CLBs bill by capacity units; a spec would only matter for PayBySpec.
      instanceChargeType: "PayByCLCU",
      internetChargeType: "PayByTraffic",
      // A string, so "off" reaches the API; `pulumi destroy` deletes it (the CCM never does: it did not make it).
      deleteProtection: "off",
      tags,
    },
    opts,
  );
  const entries = aclEntries(allowedCidrs);
  if (!entries) return { loadBalancerId: clb.id, address: clb.address, aclEntries: [] };
  const acl = new alicloud.slb.Acl(`${name}-acl`, { name: prefix, ipVersion: "ipv4", tags }, opts);
  const attachments = entries.map(
    (entry) =>
      new alicloud.slb.AclEntryAttachment(
        `${name}-acl-${cidrSlug(entry)}`,
        { aclId: acl.id, entry, comment: "wan-vace allowedCidrs" },
        opts,
      ),
  );
  return { loadBalancerId: clb.id, address: clb.address, aclId: acl.id, aclEntries: attachments };
}
