import { X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { DEPLOY_ALLOWANCE_MINUTES, MAX_TTL_MINUTES } from "./ttl";

/** Outlives any instance: the longest ttl plus the deploy allowance, rounded up to hours. */
export const CERTIFICATE_VALIDITY_HOURS = Math.ceil(
  (MAX_TTL_MINUTES + DEPLOY_ALLOWANCE_MINUTES) / 60,
);

/**
 * SHA-256 fingerprint of a PEM certificate, `AB:CD:…` as browsers and `openssl x509 -fingerprint
 * -sha256` print it. Undefined when the text is not a certificate (e.g. unknown during preview).
 */
export function certificateSha256(pem: string | undefined): string | undefined {
  if (!pem?.includes("BEGIN CERTIFICATE")) return undefined;
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

export interface DeployCertificate {
  certPem: pulumi.Output<string>;
  /** Secret. */
  keyPem: pulumi.Output<string>;
  sha256: pulumi.Output<string>;
}

/**
 * A certificate made at deploy time for the endpoint's public IP, for deployments without a
 * domain. Clients pin it (the smoke's `--ca`), so no public CA is involved. Its validity is the
 * longest TTL there can be, not this stack's TTL: a TTL change (or each `pulumi up` extending the
 * release time) must never re-issue the certificate the running gateway already serves.
 */
export function deployCertificate(
  name: string,
  ipAddress: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): DeployCertificate {
  const key = new tls.PrivateKey(
    `${name}-tls-key`,
    { algorithm: "ECDSA", ecdsaCurve: "P256" },
    opts,
  );
  const cert = new tls.SelfSignedCert(
    `${name}-tls-cert`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: ipAddress, organization: "wan-vace" },
      ipAddresses: [ipAddress],
      validityPeriodHours: CERTIFICATE_VALIDITY_HOURS,
      // Self-signed and pinned: it is its own trust anchor, so it carries CA:TRUE like `openssl req -x509`.
      isCaCertificate: true,
      allowedUses: ["digital_signature", "key_encipherment", "server_auth", "cert_signing"],
    },
    opts,
  );
  return {
    certPem: cert.certPem,
    keyPem: pulumi.secret(key.privateKeyPem),
    sha256: cert.certPem.apply((pem) => certificateSha256(pem) ?? "<computed at deploy>"),
  };
}
