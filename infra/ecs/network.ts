/**
 * The deployment's private network: one VPC, one vSwitch in the instance's zone. The vSwitch
 * follows the instance: when a new instance lands in another zone (sold out at a redeploy), the
 * vSwitch is replaced too. Each zone gets its own /24, so the new vSwitch can be created before
 * the old one is deleted (two vSwitches of one VPC may not overlap).
 */
import { createHash } from "node:crypto";

export const VPC_CIDR = "10.42.0.0/16";

/**
 * The zone's /24 inside VPC_CIDR: zones end in a letter (ap-southeast-1a, cn-hangzhou-k), which
 * picks 10.42.1.0/24 for "a" (the address every earlier deploy used), 10.42.2.0/24 for "b", and so
 * on. Anything else (a placeholder in an offline render) hashes into 10.42.100–199.0/24.
 */
export function vswitchCidr(zone: string): string {
  const last = zone.slice(-1);
  const third = /^[a-z]$/.test(last)
    ? last.charCodeAt(0) - "a".charCodeAt(0) + 1
    : 100 + (createHash("sha256").update(zone).digest().readUInt8(0) % 100);
  return `10.42.${third}.0/24`;
}
