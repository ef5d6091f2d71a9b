/**
 * Which instance inputs force a new instance, and a digest of them carried as a tag, so the next
 * `pulumi up` knows before anything is deleted whether the instance will be replaced (and so
 * whether it needs stock: infra/ecs/placement.ts `planPlacement`).
 *
 * Replacement triggers, from terraform-provider-alicloud resource_alicloud_instance.go (81c43b67):
 * `spot_strategy` and `system_disk_category` are ForceNew; `user_data` is replaceOnChanges in this
 * program (cloud-init runs it once per instance). `availability_zone` is ForceNew too, but it is
 * the planner's output, not an input it compares.
 */
import { createHash } from "node:crypto";

/** The instance tag holding the digest. */
export const BOOT_DIGEST_TAG = "boot-digest";

export interface BootInputs {
  /** The rendered (decoded) user-data. */
  userData: string;
  spotStrategy: string;
  systemDiskCategory: string;
}

export function bootDigest(b: BootInputs): string {
  return createHash("sha256")
    .update(JSON.stringify([b.userData, b.spotStrategy, b.systemDiskCategory]))
    .digest("hex");
}
