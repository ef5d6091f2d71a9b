/**
 * `vace bake`'s Pulumi side (BAKE-CONTRACT.md), run by index.ts in the `<stack>-bake` stack.
 *
 * Stage `builder`: the deployment's host pieces (network, EIP, role, boot secret, placement, same
 * instance type: the driver check needs the GPU) with no ingress rule at all, released by ECS
 * within BAKE_TTL_MINUTES, and user-data in bake mode (infra/ecs/boot/files/bake.sh).
 * Stage `image`: the same resources with the same inputs, plus one ecs.Image of the stopped
 * builder, kept when the bake stack is destroyed.
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { namePrefix } from "../common/naming";
import { endpointToken } from "../common/token";
import type { EcsDeploymentArgs } from "../ecs";
import { buildGpuHost } from "../ecs/host";
import { bakedImageName, builderReleaseTime } from "./plan";
import { bakedImageTags } from "./tags";

export { BAKE_TTL_MINUTES, bakedImageName, builderReleaseTime } from "./plan";
export { BAKED_TAG, bakedImageDrift, bakedImageTags } from "./tags";

/** ecs.Image's own create timeout is 10 min (resource_alicloud_image.go); a 100 GB disk's snapshot takes longer. */
export const IMAGE_CREATE_TIMEOUT = "60m";

/** A deployment's arguments, but the release time is the bake's (config must carry `bake`). */
export type BakeArgs = Omit<EcsDeploymentArgs, "expiresAt"> & {
  /** When this `pulumi up` started. */
  now: Date;
};

export class BakeBuilder extends pulumi.ComponentResource {
  readonly builderInstanceId: pulumi.Output<string>;
  readonly expiresAt: pulumi.Output<string>;
  /** Stage `image` only. */
  readonly imageId: pulumi.Output<string> | undefined;

  constructor(name: string, args: BakeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wan-vace:bake:BakeBuilder", name, {}, opts);
    const { config: c, stack, now } = args;
    if (!c.bake) throw new Error("BakeBuilder needs wan-vace:bakeStage");
    const child: pulumi.CustomResourceOptions = { parent: this };
    // The builder serves nothing: its secret holds a throwaway token (boot_secrets.py wants one)
    // and the registry login, never the deployment's token. bake.sh removes both before the image.
    const token = endpointToken(name, undefined, child);
    const host = buildGpuHost(name, this, {
      config: c,
      stack,
      mode: "bake",
      ingress: [],
      releaseTime: (running) => builderReleaseTime(now, running?.expiresAt),
      secret: () =>
        token.apply((t) => ({
          token: t,
          ...(c.registry && {
            registryUsername: c.registry.username,
            registryPassword: c.registry.password,
          }),
        })),
    });
    this.builderInstanceId = host.instance.id;
    this.expiresAt = host.expiresAt;
    const bake = c.bake;
    this.imageId =
      bake.stage === "image"
        ? new alicloud.ecs.Image(
            `${name}-image`,
            {
              // resource_alicloud_image.go (81c43b67): CreateImage from instance_id, retried on
              // IncorrectInstanceStatus; Create waits for Usable=true and fails fast on
              // CreateFailed. architecture is ForceNew with default x86_64 (set to what the GPU
              // types are); image_name and tags are updatable in place.
              instanceId: host.instance.id,
              imageName: bakedImageName(namePrefix(stack), now),
              architecture: "x86_64",
              description: `wan-vace baked host: driver ${bake.contents.driver}, docker ${bake.contents.docker}, toolkit ${bake.contents.toolkit}, commit ${bake.contents.commit}`,
              tags: bakedImageTags(bake.contents, { stack, owner: c.owner }),
            },
            {
              ...child,
              // The image outlives the bake stack: `vace bake` destroys the stack on every path.
              retainOnDelete: true,
              customTimeouts: { create: IMAGE_CREATE_TIMEOUT },
            },
          ).id
        : undefined;
    this.registerOutputs({});
  }
}
