/**
 * AcsDeployment: the same endpoint as EcsDeployment, as one GPU pod (ComfyUI on loopback plus the
 * token gateway and the scale-to-zero sidecar) in an ACS cluster, new or existing.
 *
 * The constructor only wires resources; the decisions live in settings.ts (config rules),
 * cluster.ts, ingress.ts and manifests.ts (pure builders), each tested on its own.
 */
import * as alicloud from "@pulumi/alicloud";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { deployCertificate } from "../common/certificate";
import type { Endpoint } from "../common/endpoint";
import { namePrefix, standardTags } from "../common/naming";
import { endpointToken } from "../common/token";
import type { WanVaceConfig } from "../config";
import { createCluster, credentialMinutes } from "./cluster";
import { imageCacheAddonArgs } from "./imagecache";
import { createIngress } from "./ingress";
import { buildManifests, dockerConfigJson, namespaceName, wakeCommand } from "./manifests";
import { scalerFiles } from "./scaler";

export interface AcsDeploymentArgs {
  config: WanVaceConfig;
  stack: string;
  /** ISO 8601: the scaler scales the Deployment to 0 from then on. */
  expiresAt: string;
}

/** A rollout waits for a cold start: a ~15 GB pull plus model load (pulumi-kubernetes' default is 10 min). */
export const DEPLOYMENT_TIMEOUT = "45m";

export class AcsDeployment extends pulumi.ComponentResource implements Endpoint {
  readonly url: pulumi.Output<string>;
  readonly token: pulumi.Output<string>;
  readonly certificateSha256: pulumi.Output<string | undefined>;
  readonly caCertificate: pulumi.Output<string | undefined>;
  /** The stack-owned CLB's address: what clients dial and the certificate names. */
  readonly publicIp: pulumi.Output<string>;
  readonly clusterId: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;
  readonly replicas: pulumi.Output<number>;
  /** The one command that wakes a parked or idle-stopped pod. */
  readonly wakeCommand: pulumi.Output<string>;

  constructor(name: string, args: AcsDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Component inputs are recorded in state, so pass none (the config carries secrets).
    super("wan-vace:acs:AcsDeployment", name, {}, opts);
    const { config: c, stack, expiresAt } = args;
    const acs = c.acs;
    if (!acs) throw new Error('AcsDeployment needs target "acs" (config.acs is missing)');
    const prefix = namePrefix(stack);
    const tags = standardTags({ stack, owner: c.owner, expiresAt });
    const child: pulumi.CustomResourceOptions = { parent: this };

    const clusterId =
      acs.clusterId !== undefined
        ? pulumi.output(acs.clusterId)
        : createCluster({ name, prefix, zones: c.zones, tags }, child);

    const credential = alicloud.cs.getClusterCredentialOutput(
      { clusterId, temporaryDurationMinutes: credentialMinutes(c.ttlMinutes) },
      child,
    );
    const provider = new k8s.Provider(
      `${name}-k8s`,
      {
        kubeconfig: pulumi.secret(credential.kubeConfig),
        // Only a new cluster replaces the provider: a refreshed client certificate is an update,
        // so it never replaces every object in the cluster.
        clusterIdentifier: clusterId,
        // A cluster deleted out of band must not block `pulumi destroy` of its objects.
        deleteUnreachable: true,
      },
      child,
    );

    const ingress = createIngress(name, prefix, c.allowedCidrs, tags, child);
    this.token = endpointToken(name, c.token, child);
    const cert =
      c.tls.mode === "selfsigned" ? deployCertificate(name, ingress.address, child) : undefined;

    const objects = buildManifests({
      stack,
      config: c,
      acs,
      expiresAt,
      loadBalancerId: ingress.loadBalancerId,
      ...(ingress.aclId !== undefined && { aclId: ingress.aclId }),
      token: this.token,
      ...(cert && { tls: { certPem: cert.certPem, keyPem: cert.keyPem } }),
      ...(c.registry && {
        dockerConfigJson: pulumi.secret(
          dockerConfigJson(c.registry.server, c.registry.username, c.registry.password),
        ),
      }),
      scalerFiles: scalerFiles(),
    });

    // Fixed names inside the stack's namespace (the Role names the Deployment), so a replacement
    // must delete the old object first.
    const k8sOpts: pulumi.CustomResourceOptions = {
      parent: this,
      provider,
      deleteBeforeReplace: true,
    };
    const namespace = new k8s.core.v1.Namespace(`${name}-ns`, objects.namespace, k8sOpts);
    const inNamespace = { ...k8sOpts, dependsOn: [namespace] };
    const gatewaySecret = new k8s.core.v1.Secret(
      `${name}-gateway-secret`,
      objects.gatewaySecret,
      inNamespace,
    );
    const registrySecret = objects.registrySecret
      ? new k8s.core.v1.Secret(`${name}-registry-secret`, objects.registrySecret, inNamespace)
      : undefined;
    const scalerConfig = new k8s.core.v1.ConfigMap(
      `${name}-scaler`,
      objects.scalerConfig,
      inNamespace,
    );
    const account = new k8s.core.v1.ServiceAccount(
      `${name}-scaler-sa`,
      objects.serviceAccount,
      inNamespace,
    );
    const role = new k8s.rbac.v1.Role(`${name}-scaler-role`, objects.role, inNamespace);
    const binding = new k8s.rbac.v1.RoleBinding(`${name}-scaler-binding`, objects.roleBinding, {
      ...k8sOpts,
      dependsOn: [namespace, role, account],
    });
    const deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, objects.deployment, {
      ...k8sOpts,
      dependsOn: [
        namespace,
        gatewaySecret,
        scalerConfig,
        binding,
        ...(registrySecret ? [registrySecret] : []),
      ],
      customTimeouts: { create: DEPLOYMENT_TIMEOUT, update: DEPLOYMENT_TIMEOUT },
    });
    new k8s.core.v1.Service(`${name}-service`, objects.service, {
      ...k8sOpts,
      dependsOn: [namespace, deployment, ...ingress.aclEntries],
    });

    if (objects.imageCache) {
      // The operator that serves ImageCache CRs, on a cluster this stack owns (imagecache.ts).
      const operator =
        acs.clusterId === undefined
          ? new alicloud.cs.KubernetesAddon(
              `${name}-image-cache-operator`,
              imageCacheAddonArgs(clusterId),
              child,
            )
          : undefined;
      // Not awaited and not a dependency of the Deployment: the first pod pulls as before while
      // the cache is made; later starts use it. Destroy deletes the CR (and with it, cascade, the
      // cloud cache) before the pull Secret it names and the operator that deletes the cache.
      // A new digest is a new name: the new cache is created before the old one goes.
      new k8s.apiextensions.CustomResource(`${name}-image-cache`, objects.imageCache, {
        parent: this,
        provider,
        dependsOn: [
          namespace,
          ...(operator ? [operator] : []),
          ...(registrySecret ? [registrySecret] : []),
        ],
      });
    }

    const ns = namespaceName(stack);
    this.publicIp = ingress.address;
    this.url =
      c.tls.mode === "acme"
        ? pulumi.output(`https://${c.tls.domain}`)
        : pulumi.interpolate`https://${ingress.address}`;
    this.certificateSha256 = cert ? cert.sha256 : pulumi.output(undefined);
    this.caCertificate = cert ? cert.certPem : pulumi.output(undefined);
    this.clusterId = clusterId;
    this.namespace = pulumi.output(ns);
    this.replicas = pulumi.output(acs.replicas);
    this.wakeCommand = pulumi.output(wakeCommand(acs.replicas));
    this.registerOutputs({});
  }
}
