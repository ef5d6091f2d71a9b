/**
 * EcsDeployment: one GPU ECS instance running ComfyUI behind the token gateway.
 *
 * The constructor only wires resources (the host's pieces: ./host.ts); every decision (placement,
 * rules, policies, user-data, release time) is an exported pure function tested on its own.
 */
import * as pulumi from "@pulumi/pulumi";
import { type DeployCertificate, deployCertificate } from "../common/certificate";
import type { Endpoint } from "../common/endpoint";
import { endpointToken } from "../common/token";
import type { WanVaceConfig } from "../config";
import { checkedBakedImage } from "./baked-image";
import { type BootSecret, buildGpuHost } from "./host";
import { planIngressRules } from "./security";

export { type BootSecret, POLICY_ROTATE_STRATEGY, STICKY_INSTANCE } from "./host";

export interface EcsDeploymentArgs {
  config: WanVaceConfig;
  stack: string;
  /** ISO 8601 `autoReleaseTime`, computed once by the caller from the TTL. */
  expiresAt: string;
}

export class EcsDeployment extends pulumi.ComponentResource implements Endpoint {
  readonly url: pulumi.Output<string>;
  readonly token: pulumi.Output<string>;
  readonly certificateSha256: pulumi.Output<string | undefined>;
  readonly caCertificate: pulumi.Output<string | undefined>;
  readonly instanceId: pulumi.Output<string>;
  readonly zone: pulumi.Output<string>;
  readonly instanceType: pulumi.Output<string>;
  readonly hourlyPrice: pulumi.Output<number | undefined>;
  readonly publicIp: pulumi.Output<string>;

  constructor(name: string, args: EcsDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Component inputs are recorded in state, so pass none (the config carries secrets).
    super("wan-vace:ecs:EcsDeployment", name, {}, opts);
    const { config: c, stack, expiresAt } = args;
    const child: pulumi.CustomResourceOptions = { parent: this };
    this.token = endpointToken(name, c.token, child);
    // Made with the EIP (a self-signed certificate names its address), inside the host's wiring.
    const made: { cert?: DeployCertificate } = {};
    const host = buildGpuHost(name, this, {
      config: c,
      stack,
      mode: c.bakedImageId !== undefined ? "baked" : "deploy",
      ingress: planIngressRules(c),
      // Every deploy extends the release to now + ttl.
      releaseTime: () => expiresAt,
      ...(c.bakedImageId !== undefined && {
        imageId: checkedBakedImage(c.bakedImageId, c, child, this),
      }),
      secret: (eip) => {
        const cert =
          c.tls.mode === "selfsigned" ? deployCertificate(name, eip.ipAddress, child) : undefined;
        made.cert = cert;
        return pulumi.all([this.token, cert?.certPem, cert?.keyPem]).apply(
          ([token, tlsCertPem, tlsKeyPem]): BootSecret => ({
            token,
            ...(tlsCertPem !== undefined && { tlsCertPem }),
            ...(tlsKeyPem !== undefined && { tlsKeyPem }),
            ...(c.registry && {
              registryUsername: c.registry.username,
              registryPassword: c.registry.password,
            }),
          }),
        );
      },
    });
    const { eip, instance, placement } = host;
    const { cert } = made;

    this.publicIp = eip.ipAddress;
    this.url =
      c.tls.mode === "acme"
        ? pulumi.output(`https://${c.tls.domain}`)
        : pulumi.interpolate`https://${eip.ipAddress}`;
    this.certificateSha256 = cert ? cert.sha256 : pulumi.output(undefined);
    this.caCertificate = cert ? cert.certPem : pulumi.output(undefined);
    this.instanceId = instance.id;
    // From the instance, not the lookup: after the first deploy the two can differ (sticky inputs).
    this.zone = instance.availabilityZone;
    this.instanceType = instance.instanceType;
    this.hourlyPrice = placement.apply((p) => p.hourlyPrice);
    this.registerOutputs({});
  }
}
