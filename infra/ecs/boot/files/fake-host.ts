/**
 * Test double for the GPU host the boot scripts run on: the programs this machine lacks (or must
 * not really run) are stand-in scripts on PATH that record how they were called, and each scenario
 * gets its own scratch dir with a boot.env. The scripts themselves run for real, with bash, against
 * FakeCloud's metadata service and mirror.
 *
 * Files a scenario may write to steer the stand-ins (all under its dir):
 * driver-works (nvidia-smi answers), module-loads, archive (apt-cache's packages), dpkg-busy,
 * docker-fails, installed-<package> (dpkg-query's version), images (docker's present references).
 * Records: apt-calls (apt-get, apt-mark, systemctl), host-calls (iptables, cloud-init),
 * dpkg-calls, docker-calls (`args|stdin`), installer-args.
 */
import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeCloud, FILES } from "./fake-cloud";

/** The driver version the stand-in nvidia-smi reports. */
export const FAKE_DRIVER_VERSION = "580.95.05";
/** The Docker server version the stand-in docker reports. */
export const FAKE_DOCKER_VERSION = "27.5.1";

const STUBS: Record<string, string[]> = {
  // Other test runs on this machine start fake installers of the same name, which the real
  // pgrep would report as this scenario's; answer only for this scenario's processes.
  pgrep: [
    'tmp=$(mktemp); /usr/bin/pgrep "$@" >"$tmp"; found=1',
    "while read -r pid; do",
    '  [[ $pid == "$$" ]] && continue',
    '  tr "\\0" "\\n" <"/proc/$pid/environ" 2>/dev/null | grep -qxF "WAN_VACE_TEST=$WAN_VACE_TEST" && { echo "$pid"; found=0; }',
    'done <"$tmp"; rm -f "$tmp"; exit $found',
  ],
  "nvidia-smi": [
    "[[ -e $WAN_VACE_TEST/driver-works ]] || exit 9",
    `[[ $1 == --query-gpu=driver_version ]] && { echo ${FAKE_DRIVER_VERSION}; exit 0; }`,
    'echo "GPU 0: NVIDIA A10 (UUID: GPU-0)"',
  ],
  "nvidia-ctk": ['echo "nvidia-ctk $*" >>"$WAN_VACE_TEST/host-calls"'],
  // dpkg: busy (another apt holds the lock) as many times as the file says, then fine.
  dpkg: [
    'echo "$*" >>"$WAN_VACE_TEST/dpkg-calls"',
    'n=$(cat "$WAN_VACE_TEST/dpkg-busy" 2>/dev/null || echo 0)',
    '((n == 0)) || { echo $((n - 1)) >"$WAN_VACE_TEST/dpkg-busy"; echo "dpkg: error: dpkg frontend lock was locked by another process" >&2; exit 2; }',
  ],
  // The apt side of the default driver install: calls are recorded; apt-cache knows the
  // packages listed in the archive file; modprobe loads the driver when the file says so.
  "apt-get": ['echo "$*" >>"$WAN_VACE_TEST/apt-calls"'],
  "apt-mark": ['echo "apt-mark $*" >>"$WAN_VACE_TEST/apt-calls"'],
  "apt-cache": ['grep -qx "$2" "$WAN_VACE_TEST/archive" 2>/dev/null'],
  // `-W -f='${Version}' pkg`: the installed-<pkg> file's version; the driver's log line otherwise.
  "dpkg-query": [
    'shift 2; [[ $# == 1 && -e $WAN_VACE_TEST/installed-$1 ]] && { cat "$WAN_VACE_TEST/installed-$1"; exit 0; }',
    'for p; do printf "%s=580.95.05-0ubuntu0.22.04.1 " "$p"; done',
  ],
  modprobe: ['[[ -e $WAN_VACE_TEST/module-loads ]] && touch "$WAN_VACE_TEST/driver-works"; true'],
  systemctl: ['echo "systemctl $*" >>"$WAN_VACE_TEST/apt-calls"'],
  iptables: ['echo "iptables $*" >>"$WAN_VACE_TEST/host-calls"; [[ $1 != -C ]]'],
  "cloud-init": ['echo "cloud-init $*" >>"$WAN_VACE_TEST/host-calls"'],
  // docker: login reads the password from stdin and fails as many times as the file says; the
  // images file lists what is present (a pull adds to it).
  docker: [
    'in=""; [[ $1 == login ]] && in=$(cat)',
    'printf "%s|%s\\n" "$*" "$in" >>"$WAN_VACE_TEST/docker-calls"',
    "images=$WAN_VACE_TEST/images",
    "case $1 in",
    "login)",
    '  n=$(cat "$WAN_VACE_TEST/docker-fails" 2>/dev/null || echo 0)',
    '  ((n == 0)) || { echo $((n - 1)) >"$WAN_VACE_TEST/docker-fails"; echo "Error response from daemon: Get https://r/v2/: net/http: TLS handshake timeout" >&2; exit 1; } ;;',
    'pull) echo "$2" >>"$images" ;;',
    `version) echo ${FAKE_DOCKER_VERSION} ;;`,
    "image)",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${*: -1}, the last argument.
    '  ref=${*: -1}; grep -qxF "$ref" "$images" 2>/dev/null || { echo "Error: No such image: $ref" >&2; exit 1; }',
    // RepoDigests: the reference without its tag.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions.
    '  if [[ $3 == --format ]]; then r=${ref%%@*}; [[ ${r##*/} == *:* ]] && r=${r%:*}; echo "$r@${ref##*@}"; fi ;;',
    "esac",
  ],
};

export interface HostScenario {
  test: string;
  read(file: string): string;
  /** Runs `script` with `bash -c` in the boot files' folder, pointed at this scenario. */
  run(script: string, env?: Record<string, string>): Promise<{ code: number; out: string }>;
}

export interface FakeHost {
  dir: string;
  bin: string;
  scenario(name: string, extraEnv?: string): HostScenario;
  remove(): void;
}

/** The stand-ins in a fresh temp dir; the scenarios talk to `cloud` (already started). */
export function createFakeHost(cloud: FakeCloud): FakeHost {
  const dir = mkdtempSync(join(tmpdir(), "wan-vace-host-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body.join("\n")}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const scenario = (name: string, extraEnv = ""): HostScenario => {
    const test = join(dir, name);
    mkdirSync(join(test, "state"), { recursive: true });
    writeFileSync(
      join(test, "boot.env"),
      [
        "DRIVER_MODE='auto-install'",
        "DRIVER_VERSION='570.133.20'",
        "CUDA_VERSION='12.8.1'",
        "CUDNN_VERSION='9.8.0.87'",
        "DRIVER_SCRIPT_SHA256=''",
        "DRIVER_SCRIPT_UNVERIFIED='true'",
        "REGISTRY_SERVER='registry-vpc.cn-hongkong.aliyuncs.com'",
        extraEnv,
      ].join("\n"),
    );
    const read = (file: string) =>
      existsSync(join(test, file)) ? readFileSync(join(test, file), "utf8") : "";
    const run = (script: string, env: Record<string, string> = {}) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          // --norc: stdin is a socket here, which bash takes for rshd and would read ~/.bashrc.
          "bash",
          ["--norc", "-c", script],
          {
            cwd: FILES,
            timeout: 15_000,
            env: {
              PATH: `${bin}:${process.env.PATH ?? ""}`,
              WAN_VACE_TEST: test,
              WAN_VACE_BOOT_ENV: join(test, "boot.env"),
              WAN_VACE_METADATA_URL: cloud.url,
              WAN_VACE_STATE_DIR: join(test, "state"),
              WAN_VACE_DRIVER_DIR: join(test, "auto_install"),
              WAN_VACE_POLL_S: "0.01",
              ...env,
            },
          },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code) : 0, out: stdout + stderr }),
        );
      });
    return { test, read, run };
  };
  return { dir, bin, scenario, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
