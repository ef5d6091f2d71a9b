/**
 * The scaler sidecar's files, shipped in its ConfigMap: acs_scaler.py, the ECS watchdog's pure
 * decision (idle_decision.py) and its evidence readers (idle_watchdog.py), reused as they are,
 * never copied into this folder. idle_watchdog imports aliyun_rpc only when it stops an instance.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ECS_FILES = join(__dirname, "..", "..", "ecs", "boot", "files");

/** File name -> where it lives in the repository. */
export const SCALER_SOURCES: Readonly<Record<string, string>> = {
  "acs_scaler.py": join(__dirname, "acs_scaler.py"),
  "idle_watchdog.py": join(ECS_FILES, "idle_watchdog.py"),
  "idle_decision.py": join(ECS_FILES, "idle_decision.py"),
};

export function scalerFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(SCALER_SOURCES).map(([name, path]) => [name, readFileSync(path, "utf8")]),
  );
}
