/** Boot settings shared by the user-data tests (index.test.ts, modes.test.ts). */
import { createHash } from "node:crypto";
import type { BootSettings } from "./settings";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** The longest values the validation admits anywhere near real use, to measure the size. */
export const LARGEST_SETTINGS: BootSettings = {
  region: "ap-southeast-1",
  secretParameterName: "wan-vace/a-rather-long-stack-name-for-a-team-environment-boot",
  comfyuiImage: `crpi-abcdefghijklmnop-vpc.ap-southeast-1.personal.cr.aliyuncs.com/wan-vace-team/comfyui-wan21-vace:2026.01.15-rc1@sha256:${sha("comfyui")}`,
  gatewayImage: `crpi-abcdefghijklmnop-vpc.ap-southeast-1.personal.cr.aliyuncs.com/wan-vace-team/gateway:2026.01.15-rc1@sha256:${sha("gateway")}`,
  registryServer: "crpi-abcdefghijklmnop-vpc.ap-southeast-1.personal.cr.aliyuncs.com",
  tls: {
    mode: "acme",
    domain: "video-generation.staging.team.example.com",
    email: "platform-team+vace@example.com",
  },
  idleStopMinutes: 10_080,
  idleGraceMinutes: 720,
  driver: {
    mode: "auto-install",
    driverVersion: "550.127.08",
    cudaVersion: "12.4.1",
    cudnnVersion: "9.2.0.82",
    scriptSha256: sha("auto_install_v4.0.sh"),
  },
};
