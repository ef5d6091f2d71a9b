/**
 * The only cloud reads of the ECS target: which preferred types are in stock where, and the
 * newest OS image. Both are invokes, so `vace render` shows them as marked placeholders.
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import type { WanVaceConfig } from "../config";
import { PROJECT } from "../config";
import type { InstanceTypeOffer, RunningPlacement } from "./placement";
import { BOOT_DIGEST_TAG } from "./replacement";

/** One lookup per preferred type: exact-type queries keep each answer small and unambiguous. */
export function lookupOffers(
  c: Pick<WanVaceConfig, "instanceTypes" | "spot" | "priceLookup">,
  opts: pulumi.InvokeOptions,
): pulumi.Output<InstanceTypeOffer[]> {
  const perType = c.instanceTypes.map((instanceType) =>
    alicloud.ecs
      .getInstanceTypesOutput(
        {
          instanceType,
          instanceChargeType: "PostPaid",
          spotStrategy: c.spot ? "SpotAsPriceGo" : "NoSpot",
          systemDiskCategory: "cloud_essd",
          networkType: "Vpc",
          // Filling `price` calls the BSS pricing API, which needs bss:DescribePrice: opt-in.
          ...(c.priceLookup && { sortedBy: "Price" }),
        },
        opts,
      )
      .apply((r) =>
        r.instanceTypes
          .filter((t) => t.id === instanceType)
          .map(
            (t): InstanceTypeOffer => ({
              instanceType: t.id,
              zones: t.availabilityZones,
              price: t.price,
            }),
          ),
      ),
  );
  return pulumi.all(perType).apply((lists) => lists.flat());
}

/** The newest public OS image matching the regex that the chosen type can boot. */
export function lookupOsImage(
  nameRegex: string,
  instanceType: pulumi.Input<string>,
  opts: pulumi.InvokeOptions,
): pulumi.Output<string> {
  return alicloud.ecs
    .getImagesOutput(
      { owners: "system", nameRegex, mostRecent: true, instanceType, architecture: "x86_64" },
      opts,
    )
    .apply((r) => {
      const image = r.images[0];
      if (!image) {
        throw new Error(
          `no public image matches wan-vace:osImageNameRegex ${JSON.stringify(nameRegex)} for this instance type; set wan-vace:osImageNameRegex or use driver: preinstalled with wan-vace:imageId`,
        );
      }
      return image.id;
    });
}

/**
 * Whether an Output's value is known. Unknown only while previewing a resource not created yet.
 * `isKnown` is on every Output the Node SDK makes but not in its typings; without it we assume
 * known, which only costs the early, preview-time "no capacity" failure below.
 */
function isKnown(o: pulumi.Output<unknown>): Promise<boolean> {
  const known = (o as unknown as { isKnown?: Promise<boolean> }).isKnown;
  return known ?? Promise.resolve(true);
}

/**
 * This stack's instance, if the cloud still has it (any status: a stopped instance keeps its
 * place too). Matched by its exact name, which carries the stack's random suffix, and by tags.
 * While a new stack is previewed the suffix is unknown, and such a stack has no instance: the
 * answer is then "none", so the stock check (and its "no capacity" error) happens in preview.
 */
export function lookupRunningInstance(
  instanceName: pulumi.Output<string>,
  stack: string,
  opts: pulumi.InvokeOptions,
): pulumi.Output<RunningPlacement | undefined> {
  return pulumi.output(isKnown(instanceName)).apply(
    (known): pulumi.Output<RunningPlacement | undefined> =>
      !known
        ? pulumi.output<RunningPlacement | undefined>(undefined)
        : instanceName.apply((n) =>
            alicloud.ecs
              .getInstancesOutput(
                {
                  nameRegex: `^${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
                  tags: { project: PROJECT, stack },
                },
                opts,
              )
              .apply((r) => {
                const found = r.instances.find((i) => i.name === n);
                if (!found) return undefined;
                const digest = found.tags?.[BOOT_DIGEST_TAG];
                const expiresAt = found.tags?.["expires-at"];
                return {
                  instanceType: found.instanceType,
                  zone: found.availabilityZone,
                  ...(digest !== undefined && { bootDigest: digest }),
                  ...(expiresAt !== undefined && { expiresAt }),
                };
              }),
          ),
  );
}
