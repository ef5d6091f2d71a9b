/**
 * What the ECS GPU instance does at boot, as cloud-init user-data.
 *
 * The user-data holds no secret: anyone with ECS read access can read it. At every boot the
 * instance fetches its secret (token, TLS key, registry password) with its RAM role from the
 * OOS secret parameter and writes it to tmpfs only. The on-instance programs live as real files
 * in ./files so they are linted and tested directly; this module only embeds them.
 */
import { gunzipSync, gzipSync, strFromU8, strToU8 } from "fflate";
import { stringify } from "yaml";
import { compactBootFile } from "./compact";
import { BOOT_FILES, type BootFile, readBootFile, startedUnits } from "./files";
import { DEFAULT_IDLE_GRACE_MINUTES, HOST_PINS } from "./pins";
import { type BootSettings, validateBootSettings } from "./settings";

export { HOST_PINS } from "./pins";
export {
  type BootMode,
  type BootSettings,
  BootSettingsError,
  bootSettingsProblems,
} from "./settings";

export const BOOT_ENV_PATH = "/etc/wan-vace/boot.env";

/** Characters a boot.env value may hold: safe inside single quotes for bash and systemd alike. */
const SAFE_VALUE = /^[A-Za-z0-9._:/@%+=,~-]*$/;

/** The non-secret settings as `KEY='value'` lines, read by the scripts and the units. */
export function bootEnv(s: BootSettings): string {
  const acme = s.tls.mode === "acme" ? s.tls : undefined;
  const driver = s.driver.mode === "auto-install" ? s.driver : undefined;
  const entries: [string, string | number | undefined][] = [
    ["REGION", s.region],
    ["SECRET_PARAMETER_NAME", s.secretParameterName],
    ["COMFYUI_IMAGE", s.comfyuiImage],
    ["GATEWAY_IMAGE", s.gatewayImage],
    ["REGISTRY_SERVER", s.registryServer],
    ["TLS_MODE", s.tls.mode],
    ["TLS_DOMAIN", acme?.domain],
    ["ACME_EMAIL", acme?.email],
    ["IDLE_STOP_MINUTES", s.idleStopMinutes],
    ["IDLE_GRACE_MINUTES", s.idleGraceMinutes ?? DEFAULT_IDLE_GRACE_MINUTES],
    ["DRIVER_MODE", s.driver.mode],
    ["DRIVER_VERSION", driver?.driverVersion],
    ["CUDA_VERSION", driver?.cudaVersion],
    ["CUDNN_VERSION", driver?.cudnnVersion],
    ["DRIVER_SCRIPT_SHA256", driver?.scriptSha256],
    ["DRIVER_SCRIPT_UNVERIFIED", driver?.scriptUnverified ? "true" : undefined],
    ["DRIVER_BRANCH", s.driver.mode === "apt" ? s.driver.branch : undefined],
    ["DOCKER_VERSION", HOST_PINS.dockerVersion],
    ["CONTAINERD_VERSION", HOST_PINS.containerdVersion],
    ["NVIDIA_TOOLKIT_VERSION", HOST_PINS.nvidiaToolkitVersion],
    ["DOCKER_KEY_FPR", HOST_PINS.dockerKeyFingerprint],
    ["NVIDIA_KEY_FPR", HOST_PINS.nvidiaKeyFingerprint],
  ];
  // Only off the default, so a deploy's user-data (and its instance) stays as it was.
  if (s.mode !== undefined && s.mode !== "deploy") entries.push(["HOST_MODE", s.mode]);
  if (s.bakedImageId !== undefined) entries.push(["BAKED_IMAGE_ID", s.bakedImageId]);
  const lines = entries.map(([key, raw]) => {
    const value = raw === undefined ? "" : String(raw);
    // Validation already restricts every field; this guards the quoting itself.
    if (!SAFE_VALUE.test(value)) throw new Error(`boot.env ${key} holds unsafe characters`);
    return `${key}='${value}'`;
  });
  return `# wan-vace boot settings. No secrets: those come from OOS at boot.\n${lines.join("\n")}\n`;
}

/**
 * Renders the `#cloud-config` user-data. Pure and deterministic: the same settings give the
 * same text, so an unchanged stack never replaces its instance.
 */
export function renderUserData(input: BootSettings): string {
  validateBootSettings(input);
  const mode = input.mode ?? "deploy";
  // A builder serves nothing: its secret carries no certificate (infra/bake), so no TLS to set up.
  const settings: BootSettings = mode === "bake" ? { ...input, tls: { mode: "internal" } } : input;
  const idle = settings.idleStopMinutes > 0;
  const units = startedUnits(idle, mode);
  // A builder needs no watchdog: the baked deploy's user-data writes the files it uses anyway.
  const wanted = (f: BootFile) =>
    mode === "bake" ? !f.idleOnly : !f.bakeOnly && (idle || !f.idleOnly);
  const cloudConfig = {
    write_files: [
      { path: BOOT_ENV_PATH, permissions: "0644", content: bootEnv(settings) },
      ...BOOT_FILES.filter(wanted).map((f) => ({
        path: f.path,
        permissions: f.permissions,
        content: compactBootFile(f.source, readBootFile(f.source)),
      })),
    ],
    // Units run on every boot (the driver install may reboot, and a stopped instance may be
    // started again); runcmd runs once, so it only enables them and starts the first boot.
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", ...units],
      ["systemctl", "start", "--no-block", ...units],
    ],
  };
  const header = [
    "#cloud-config",
    "# wan-vace GPU host. This file holds no secret: the instance reads its token, TLS key and",
    `# registry password at boot from OOS secret parameter ${settings.secretParameterName} via its RAM role.`,
  ];
  return `${header.join("\n")}\n${stringify(cloudConfig, { lineWidth: 0 })}`;
}

/**
 * Alibaba accepts 32 KB of user-data before base64; older docs say 16 KB, so we stay under that.
 * The readable text (~31 KB, most of it the embedded scripts) does not fit, so it travels gzipped:
 * cloud-init unpacks gzip user-data by itself.
 */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/**
 * What to pass as the instance's `userData`: base64 of the gzipped text (the provider sends valid
 * base64 as is). fflate, not node:zlib, so the bytes are the same on every deployer machine
 * (zlib's output varies with CPU and build, which would replace the instance).
 */
export function encodeUserData(text: string): string {
  const gz = gzipSync(strToU8(text), { level: 9, mtime: 0 });
  if (gz.length > USER_DATA_LIMIT_BYTES) {
    throw new Error(
      `user-data is ${gz.length} bytes gzipped, over the ${USER_DATA_LIMIT_BYTES}-byte limit`,
    );
  }
  return Buffer.from(gz).toString("base64");
}

/** The readable text back from `encodeUserData`'s output (for `vace render` and tests). */
export function decodeUserData(encoded: string): string {
  return strFromU8(gunzipSync(new Uint8Array(Buffer.from(encoded, "base64"))));
}
