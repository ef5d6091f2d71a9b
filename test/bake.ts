/** One bake's contents and the image tags they must give, shared by the bake and baked-image tests. */
import type { BakeContents } from "../infra/config";

export const DIGEST_A = `sha256:${"a".repeat(64)}`;
export const DIGEST_B = `sha256:${"b".repeat(64)}`;
export const REPO = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace";

/** What a builder reports (its verdict line, less `ok`) plus the commit ops adds. */
export const BAKE_CONTENTS: BakeContents = {
  comfyuiImage: `${REPO}/comfyui@${DIGEST_A}`,
  gatewayImage: `${REPO}/gateway@${DIGEST_B}`,
  driver: "580.95.05",
  docker: "27.5.1",
  toolkit: "1.17.8-1",
  kernel: "5.15.0-130-generic",
  commit: "7eb012c",
};

/** The image's tags for BAKE_CONTENTS, written out (BAKE-CONTRACT.md): no `expires-at`. */
export function expectedBakedTags(stack: string, owner: string): Record<string, string> {
  return {
    project: "wan-vace",
    stack,
    owner,
    "vace-comfyui-digest": DIGEST_A,
    "vace-gateway-digest": DIGEST_B,
    "vace-driver": "580.95.05",
    "vace-docker": "27.5.1",
    "vace-toolkit": "1.17.8-1",
    "vace-kernel": "5.15.0-130-generic",
    "vace-commit": "7eb012c",
  };
}
