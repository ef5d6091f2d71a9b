/**
 * Booting from an image made by `vace bake` (wan-vace:bakedImageId): before anything is created,
 * the image must exist in this account and region, and each configured image whose digest is not
 * the baked one is named in a warning (the boot will pull it).
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { bakedImageDrift } from "../bake/tags";
import type { WanVaceConfig } from "../config";

/** The image id, once the image is found; warnings for what its boot will pull. */
export function checkedBakedImage(
  imageId: string,
  c: Pick<WanVaceConfig, "image" | "gatewayImage" | "region">,
  opts: pulumi.InvokeOptions,
  parent?: pulumi.Resource,
): pulumi.Output<string> {
  // data_source_alicloud_images.go (81c43b67): one of name_regex/owners/image_owner_id is
  // required; image_id narrows DescribeImages to that id; status defaults to "Available" (an image
  // still being created is not found); tags come from DescribeTags for each image.
  return alicloud.ecs.getImagesOutput({ imageId, owners: "self" }, opts).apply((r) => {
    const image = bakedImageFound(r.images, imageId, c.region);
    for (const line of bakedImageDrift(image.tags, c)) pulumi.log.warn(line, parent);
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
