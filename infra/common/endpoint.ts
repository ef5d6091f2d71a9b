import type * as pulumi from "@pulumi/pulumi";

/** What every target's component gives the program's outputs (and `vace smoke`): the same endpoint. */
export interface Endpoint {
  url: pulumi.Output<string>;
  /** Secret. */
  token: pulumi.Output<string>;
  /** Set for tls selfsigned: clients pin this certificate. */
  certificateSha256: pulumi.Output<string | undefined>;
  caCertificate: pulumi.Output<string | undefined>;
  publicIp: pulumi.Output<string>;
}
