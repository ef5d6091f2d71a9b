/**
 * Booting from an image made by `vace bake` (wan-vace:bakedImageId): before anything is created,
 * the image must exist in this account and region, and each configured image whose digest is not
 * the baked one is named in a warning (the boot will pull it).
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { BAKED_TAG, bakedImageDrift } from "../bake/tags";
import type { WanVaceConfig } from "../config";
import { HOST_PINS } from "./boot";

/** The image id, once the image is found; warnings for what its boot will pull. */
export function checkedBakedImage(
  imageId: string,
  c: Pick<WanVaceConfig, "image" | "gatewayImage" | "region" | "driver">,
  opts: pulumi.InvokeOptions,
  parent?: pulumi.Resource,
): pulumi.Output<string> {
  // data_source_alicloud_images.go (81c43b67): one of name_regex/owners/image_owner_id is
  // required; image_id narrows DescribeImages to that id; status defaults to "Available" (an image
  // still being created is not found); tags come from DescribeTags for each image.
  return alicloud.ecs.getImagesOutput({ imageId, owners: "self" }, opts).apply((r) => {
    const image = bakedImageFound(r.images, imageId, c.region);
    for (const line of [...bakedImageDrift(image.tags, c), ...bakedHostDrift(image.tags, c)])
      pulumi.log.warn(line, parent);
    return image.id;
  });
}

/** The listed image with that id; an error naming the key when there is none. */
export function bakedImageFound<T extends { id: string }>(
  images: T[],
  imageId: string,
  region: string,
): T {
  const image = images.find((i) => i.id === imageId);
  if (!image) {
    throw new Error(
      `wan-vace:bakedImageId: no available image ${imageId} of this account in ${region}; run vace bake (it prints the id), or remove wan-vace:bakedImageId`,
    );
  }
  return image;
}

/**
 * What the baked host has that this code would not install: a baked boot installs nothing, so a
 * newer pin (Docker, the toolkit) or another driver takes a re-bake. One line per difference.
 */
export function bakedHostDrift(
  tags: Record<string, string> | undefined,
  c: Pick<WanVaceConfig, "driver">,
): string[] {
  const lines: string[] = [];
  const differs = (what: string, baked: string | undefined, wanted: string) =>
    lines.push(
      `wan-vace:bakedImageId: the image has ${what} ${baked ?? "(no record)"}, this configuration installs ${wanted}; a baked boot installs nothing: re-bake (vace bake) to change it`,
    );
  const docker = tags?.[BAKED_TAG.docker];
  // docker reports 27.5.1 for the package version 5:27.5.1-1~ubuntu.22.04~jammy.
  if (docker === undefined || !HOST_PINS.dockerVersion.includes(`:${docker}-`))
    differs("Docker", docker, HOST_PINS.dockerVersion);
  const toolkit = tags?.[BAKED_TAG.toolkit];
  if (toolkit !== HOST_PINS.nvidiaToolkitVersion)
    differs("nvidia-container-toolkit", toolkit, HOST_PINS.nvidiaToolkitVersion);
  const driver = tags?.[BAKED_TAG.driver];
  if (c.driver.mode === "apt" && !driver?.startsWith(`${c.driver.branch}.`))
    differs("NVIDIA driver", driver, `branch ${c.driver.branch}`);
  if (c.driver.mode === "auto-install" && driver !== c.driver.driverVersion)
    differs("NVIDIA driver", driver, c.driver.driverVersion);
  return lines;
}
