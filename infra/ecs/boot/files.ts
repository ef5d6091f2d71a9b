import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BootMode } from "./settings";

/** One file the user-data writes onto the instance, kept in the repo as a real file. */
export interface BootFile {
  /** Path under infra/ecs/boot/files/. */
  source: string;
  /** Where cloud-init writes it on the instance. */
  path: string;
  permissions: "0644" | "0755";
  /** Only installed when the idle watchdog is on. */
  idleOnly?: boolean;
  /** Only on a `vace bake` builder (mode "bake"): it removes them before the image is taken. */
  bakeOnly?: boolean;
}

export const FILES_DIR = join(__dirname, "files");
const LIB = "/usr/local/lib/wan-vace";
const UNITS = "/etc/systemd/system";

export const BOOT_FILES: readonly BootFile[] = [
  { source: "aliyun_rpc.py", path: `${LIB}/aliyun_rpc.py`, permissions: "0644" },
  { source: "boot_secrets.py", path: `${LIB}/boot_secrets.py`, permissions: "0644" },
  ...["idle_decision.py", "idle_watchdog.py"].map(
    (source): BootFile => ({
      source,
      path: `${LIB}/${source}`,
      permissions: "0644",
      idleOnly: true,
    }),
  ),
  { source: "setup-host.sh", path: `${LIB}/setup-host.sh`, permissions: "0755" },
  { source: "registry-login.sh", path: `${LIB}/registry-login.sh`, permissions: "0755" },
  { source: "boot_timeline.py", path: `${LIB}/boot_timeline.py`, permissions: "0644" },
  { source: "ensure-image.sh", path: `${LIB}/ensure-image.sh`, permissions: "0755" },
  { source: "refused_closer.py", path: `${LIB}/refused_closer.py`, permissions: "0644" },
  ...[
    "wan-vace-setup.service",
    "wan-vace-secrets.service",
    "wan-vace-comfyui.service",
    "wan-vace-gateway.service",
    "wan-vace-secrets-refresh.service",
    "wan-vace-secrets-refresh.timer",
    "wan-vace-timeline.service",
    "wan-vace-closer.service",
  ].map(
    (unit): BootFile => ({
      source: `systemd/${unit}`,
      path: `${UNITS}/${unit}`,
      permissions: "0644",
    }),
  ),
  { source: "bake.sh", path: `${LIB}/bake.sh`, permissions: "0755", bakeOnly: true },
  {
    source: "systemd/wan-vace-bake.service",
    path: `${UNITS}/wan-vace-bake.service`,
    permissions: "0644",
    bakeOnly: true,
  },
  ...["wan-vace-idle.service", "wan-vace-idle.timer"].map(
    (unit): BootFile => ({
      source: `systemd/${unit}`,
      path: `${UNITS}/${unit}`,
      permissions: "0644",
      idleOnly: true,
    }),
  ),
];

/** Units enabled and started from runcmd; the rest are pulled in by their Requires=. */
export function startedUnits(idle: boolean, mode: BootMode = "deploy"): string[] {
  // A builder starts only the bake; the image keeps the others installed, not enabled.
  if (mode === "bake") return ["wan-vace-bake.service"];
  return [
    "wan-vace-comfyui.service",
    "wan-vace-gateway.service",
    "wan-vace-secrets-refresh.timer",
    "wan-vace-timeline.service",
    "wan-vace-closer.service",
    ...(idle ? ["wan-vace-idle.timer"] : []),
  ];
}

const cache = new Map<string, string>();

/** The file's text, read once (the files ship with the package, so this is deterministic). */
export function readBootFile(source: string): string {
  let text = cache.get(source);
  if (text === undefined) {
    text = readFileSync(join(FILES_DIR, source), "utf8");
    cache.set(source, text);
  }
  return text;
}
