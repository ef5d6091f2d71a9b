/**
 * Security-group rules. The gateway on 443 is the only way in; ComfyUI's 8188 is never opened
 * (it listens on 127.0.0.1 anyway). Port 80 opens only for ACME, and SSH only when asked for.
 */
import type { WanVaceConfig } from "../config";

export interface IngressRule {
  /** Stable, unique logical name suffix (Pulumi resource name). */
  name: string;
  port: number;
  /** IPv4 only: config rejects IPv6 (the VPC, instance and EIP have no IPv6 address). */
  cidr: string;
  description: string;
}

/** Anyone on the internet: ACME validation servers have no published address range. */
const EVERYONE = "0.0.0.0/0";

export function planIngressRules(
  c: Pick<WanVaceConfig, "allowedCidrs" | "sshCidrs" | "tls">,
): IngressRule[] {
  const rule = (port: number, cidr: string, description: string): IngressRule => ({
    name: `${port}-${cidr.replace(/[^0-9a-fA-F]+/g, "-").replace(/-+$/, "")}`,
    port,
    cidr,
    description,
  });
  const rules = c.allowedCidrs.map((cidr) => rule(443, cidr, "wan-vace gateway (token + TLS)"));
  if (c.tls.mode === "acme") {
    // HTTP-01 challenges come from the CA's unlisted addresses, so allowedCidrs cannot narrow 80.
    // On 80 the gateway answers only ACME challenges (its HTTP redirects are off); nothing is proxied.
    rules.push(rule(80, EVERYONE, "ACME HTTP-01 challenges only"));
  }
  for (const cidr of c.sshCidrs) rules.push(rule(22, cidr, "SSH (key only)"));
  return rules;
}
