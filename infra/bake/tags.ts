/**
 * What a baked image says it holds, as ECS image tags (BAKE-CONTRACT.md): written by the bake
 * (infra/bake), read back when a deployment boots from the image (infra/ecs/baked-image.ts).
 * Pure: no Pulumi here.
 */

import type { BakeContents } from "../config";
import { PROJECT } from "../config";

export const BAKED_TAG = {
  comfyuiDigest: "vace-comfyui-digest",
  gatewayDigest: "vace-gateway-digest",
  driver: "vace-driver",
  docker: "vace-docker",
  toolkit: "vace-toolkit",
  kernel: "vace-kernel",
  commit: "vace-commit",
} as const;

/** The `sha256:…` part of a reference, or undefined when it is pinned by tag only. */
export function digestOf(ref: string): string | undefined {
  return /@(sha256:[a-f0-9]{64})$/.exec(ref)?.[1];
}

/**
 * The image's tags: the standard project/stack/owner tags but no `expires-at` (the image is kept
 * and the reaper must never delete it), and what it holds. Digests only, not whole references:
 * an ECS tag value holds at most 128 characters.
 */
export function bakedImageTags(
  contents: BakeContents,
  t: { stack: string; owner: string },
): Record<string, string> {
  return {
    project: PROJECT,
    stack: t.stack,
    owner: t.owner,
    [BAKED_TAG.comfyuiDigest]: digestOf(contents.comfyuiImage) as string,
    [BAKED_TAG.gatewayDigest]: digestOf(contents.gatewayImage) as string,
    [BAKED_TAG.driver]: contents.driver,
    [BAKED_TAG.docker]: contents.docker,
    [BAKED_TAG.toolkit]: contents.toolkit,
    [BAKED_TAG.kernel]: contents.kernel,
    [BAKED_TAG.commit]: contents.commit,
  };
}

/**
 * What a boot from a baked image will pull, from the image's tags and the configured images: one
 * line per image whose digest differs from (or is not recorded as) the baked one. Empty when the
 * boot pulls nothing.
 */
export function bakedImageDrift(
  tags: Record<string, string> | undefined,
  images: { image: string; gatewayImage: string },
): string[] {
  const lines: string[] = [];
  for (const [key, what, ref] of [
    ["image", BAKED_TAG.comfyuiDigest, images.image],
    ["gatewayImage", BAKED_TAG.gatewayDigest, images.gatewayImage],
  ] as const) {
    const baked = tags?.[what];
    const wanted = digestOf(ref);
    if (wanted === undefined)
      lines.push(
        `${PROJECT}:${key} ${ref} is pinned by tag only: the boot always pulls it (pin the digest to use the baked copy)`,
      );
    else if (baked !== wanted)
      lines.push(
        `${PROJECT}:${key} ${ref} differs from the baked image's ${baked ?? "(no record)"}: the boot pulls ${ref} (only its missing layers)`,
      );
  }
  return lines;
}
