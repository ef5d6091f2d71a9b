import { spawnSync } from "node:child_process";

/** Debian package that provides each binary the tests drive for real. */
const PACKAGE: Record<string, string> = {
  caddy: "caddy",
  ffmpeg: "ffmpeg",
  ffprobe: "ffmpeg",
  "cloud-init": "cloud-init",
  shellcheck: "shellcheck",
  "systemd-analyze": "systemd",
  python3: "python3",
  openssl: "openssl",
  git: "git",
  curl: "curl",
  pyflakes3: "pyflakes3",
  ss: "iproute2",
};

/**
 * Returns the binary's name when it is on PATH; otherwise throws with an install hint.
 * Tests call this instead of skipping: a missing tool must fail loudly, never pass silently.
 */
export function requireBinary(name: string): string {
  const probe = spawnSync("sh", ["-c", `command -v "$1"`, "sh", name], { encoding: "utf8" });
  if (probe.status !== 0) {
    const pkg = PACKAGE[name] ?? name;
    throw new Error(
      `'${name}' is not on PATH, and this test needs the real binary. ` +
        `Install it with: sudo apt-get install -y ${pkg}   (or run 'bash .ci/run', which installs it)`,
    );
  }
  return name;
}
