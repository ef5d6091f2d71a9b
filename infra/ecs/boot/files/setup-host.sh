#!/bin/bash
# Prepares the GPU host: NVIDIA driver, Docker CE, nvidia-container-toolkit, host dirs.
# Runs on every boot and is idempotent, because the driver install may reboot mid-way.
# HOST_MODE baked (an image made by `vace bake`): installs nothing, only checks what the bake put in.
set -euo pipefail
# shellcheck source=/dev/null
. "${WAN_VACE_BOOT_ENV:-/etc/wan-vace/boot.env}"

# WAN_VACE_* overrides exist for the tests only.
STATE=${WAN_VACE_STATE_DIR:-/var/lib/wan-vace}
DRIVER_DIR=${WAN_VACE_DRIVER_DIR:-/root/auto_install}
DRIVER_SCRIPT=auto_install_v4.0.sh
# How long a working driver may take to appear once the installer is no longer running.
DRIVER_WAIT_S=${WAN_VACE_DRIVER_WAIT_S:-1800}
POLL_S=${WAN_VACE_POLL_S:-20}
# How long to wait for a requested reboot to take this process down.
REBOOT_WAIT_S=${WAN_VACE_REBOOT_WAIT_S:-600}
LOG_DIR=${WAN_VACE_LOG_DIR:-/var/log/wan-vace}
OS_RELEASE=${WAN_VACE_OS_RELEASE:-/etc/os-release}
# Written by `nvidia-ctk runtime configure` (install_toolkit): Docker's nvidia runtime.
DOCKER_DAEMON_JSON=${WAN_VACE_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
MD=${WAN_VACE_METADATA_URL:-http://100.100.100.200}
# unattended-upgrades may hold the dpkg lock on first boot: wait for it, do not fail.
APT=(apt-get -y -q -o DPkg::Lock::Timeout=900 -o Acquire::Retries=5)
export DEBIAN_FRONTEND=noninteractive

log() { echo "wan-vace-setup: $*"; }
die() {
  echo "wan-vace-setup: ERROR: $*" >&2
  exit 1
}

metadata() {
  local token
  token=$(curl -fsS --retry 5 -X PUT "$MD/latest/api/token" -H 'X-aliyun-ecs-metadata-token-ttl-seconds: 300')
  curl -fsS --retry 5 -H "X-aliyun-ecs-metadata-token: $token" "$MD/latest/meta-data/$1"
}

# Alibaba's package mirror on the internal network (http://mirrors.cloud.aliyuncs.com).
mirror() {
  local addresses
  addresses=$(metadata source-address)
  echo "${addresses%%$'\n'*}"
}

# Installs an apt signing key only if its fingerprint is the pinned one.
install_key() {
  local url=$1 expected=$2 dest=$3 tmp fpr
  tmp=$(mktemp)
  curl -fsSL --retry 5 -o "$tmp" "$url"
  fpr=$(gpg --show-keys --with-colons "$tmp" | awk -F: '$1 == "fpr" { print $10; exit }')
  [[ $fpr == "$expected" ]] || die "key $url has fingerprint '$fpr', expected $expected"
  install -d -m 0755 /etc/apt/keyrings
  gpg --batch --yes --dearmor -o "$dest" "$tmp"
  rm -f "$tmp"
}

installed() {
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's field, not a shell expansion.
  [[ $(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) == "$2" ]]
}

driver_ready() { nvidia-smi -L >/dev/null 2>&1; }
installer_running() { pgrep -f "$DRIVER_SCRIPT" >/dev/null; }

# The driver installer reboots mid-way, possibly inside dpkg, and every apt-get refuses to run
# after an interrupted dpkg. dpkg has no lock timeout: try for 15 min (45 tries, 20 s apart), as
# long as apt-get waits for unattended-upgrades.
dpkg_recover() {
  local try
  for ((try = 1; try <= 45; try++)); do
    dpkg --configure -a && return
    sleep "$POLL_S"
  done
  die "dpkg --configure -a kept failing for 15 min"
}

install_driver() {
  case $DRIVER_MODE in
    preinstalled)
      driver_ready || die "driver mode is preinstalled but nvidia-smi fails; use a GPU image or driver apt"
      return
      ;;
    apt)
      install_driver_apt
      return
      ;;
  esac
  if [[ -e $STATE/driver.done ]]; then
    driver_ready || die "the NVIDIA driver was installed but nvidia-smi fails now; see dmesg"
    return
  fi
  local script=$DRIVER_DIR/$DRIVER_SCRIPT status=0
  if [[ ! -e $STATE/driver.started ]]; then
    log "installing driver $DRIVER_VERSION, CUDA $CUDA_VERSION, cuDNN $CUDNN_VERSION (reboots the instance)"
    mkdir -p "$DRIVER_DIR"
    # A failed try's log would end the wait below at once: keep it, but aside.
    if [[ -e $DRIVER_DIR/auto_install.log ]]; then mv -f "$DRIVER_DIR/auto_install.log" "$DRIVER_DIR/auto_install.log.1"; fi
    # Plain HTTP, run as root: only pinned, or unverified because the config says so.
    [[ -n ${DRIVER_SCRIPT_SHA256:-} || ${DRIVER_SCRIPT_UNVERIFIED:-} == true ]] ||
      die "refusing to run $DRIVER_SCRIPT without DRIVER_SCRIPT_SHA256 (wan-vace:driverScriptSha256) or DRIVER_SCRIPT_UNVERIFIED=true"
    curl -fsSL --retry 10 -o "$script" "$(mirror)/opsx/ecs/linux/binary/script/$DRIVER_SCRIPT"
    if [[ -n ${DRIVER_SCRIPT_SHA256:-} ]]; then
      echo "$DRIVER_SCRIPT_SHA256  $script" | sha256sum -c - || die "$DRIVER_SCRIPT does not match DRIVER_SCRIPT_SHA256"
    else
      log "WARNING: running $DRIVER_SCRIPT unverified (wan-vace:driverScriptUnverified): sha256 $(sha256sum "$script" | cut -c1-64)"
    fi
    touch "$STATE/driver.started"
    (cd "$DRIVER_DIR" && bash "$DRIVER_SCRIPT" "$DRIVER_VERSION" "$CUDA_VERSION" "$CUDNN_VERSION" FALSE FALSE) || status=$?
    log "$DRIVER_SCRIPT exited with $status"
  fi
  wait_for_driver
  touch "$STATE/driver.done"
  log "driver ready: $(nvidia-smi -L | head -n1)"
}

# The default driver: Ubuntu's signed nvidia-*-<branch>-server packages. apt checks each one
# against the Ubuntu archive key the image already trusts, so nothing unverified runs as root;
# the branch is the pin and the exact versions go to the log. Canonical's prebuilt, signed
# modules for the running kernel when the archive has them (they load under Secure Boot and need
# no compiler); DKMS otherwise. A module that does not load at once (nouveau holds the GPU) gets
# one reboot per kernel; still none after it fails the unit.
install_driver_apt() {
  local kernel=${WAN_VACE_KERNEL:-$(uname -r)} pkgs modules
  local rebooted=$STATE/driver.rebooted-$kernel
  if driver_ready; then
    log "driver ready: $(nvidia-smi -L | head -n1)"
    return
  fi
  [[ -e $rebooted ]] && die "no working NVIDIA driver after installing nvidia-*-$DRIVER_BRANCH-server and a reboot into $kernel; see dmesg and /var/log/apt/term.log"
  dpkg_recover
  "${APT[@]}" update
  pkgs=("nvidia-headless-no-dkms-$DRIVER_BRANCH-server" "nvidia-utils-$DRIVER_BRANCH-server")
  modules=linux-modules-nvidia-$DRIVER_BRANCH-server-$kernel
  if apt-cache show "$modules" >/dev/null 2>&1; then
    pkgs+=("$modules")
  else
    log "no prebuilt NVIDIA modules for kernel $kernel in the archive: building them with DKMS (unsigned: they do not load under Secure Boot)"
    pkgs+=("nvidia-dkms-$DRIVER_BRANCH-server" "linux-headers-$kernel")
  fi
  "${APT[@]}" install --no-install-recommends "${pkgs[@]}"
  # Held: an unattended upgrade of the libraries under a loaded module breaks nvidia-smi.
  apt-mark hold "${pkgs[@]}"
  # shellcheck disable=SC2016 # ${Package} and ${Version} are dpkg-query's fields.
  log "installed from the Ubuntu archive: $(dpkg-query -W -f='${Package}=${Version} ' "${pkgs[@]}")"
  modprobe nvidia || true
  if driver_ready; then
    log "driver ready: $(nvidia-smi -L | head -n1)"
    return
  fi
  touch "$rebooted"
  log "the NVIDIA module did not load; rebooting once into $kernel"
  systemctl reboot
  sleep "$REBOOT_WAIT_S"
  die "the reboot did not happen within $REBOOT_WAIT_S s"
}

# The installer reboots the instance and may go on after that reboot, so only a working driver
# proves success. Wait DRIVER_WAIT_S for it. When the installer failed or finished without one,
# clear the started marker: the next start (Restart=on-failure, or a later boot) runs it again
# instead of waiting for a driver that never comes.
wait_for_driver() {
  local deadline=$((SECONDS + DRIVER_WAIT_S)) logfile=$DRIVER_DIR/auto_install.log
  until driver_ready && ! installer_running; do
    if grep -qs 'INSTALL FAIL' "$logfile"; then
      rm -f "$STATE/driver.started"
      die "driver install failed; see $logfile (the next start runs the installer again)"
    fi
    if ((SECONDS >= deadline)); then
      installer_running && die "$DRIVER_SCRIPT still runs after $((DRIVER_WAIT_S / 60)) min; the next start waits again"
      rm -f "$STATE/driver.started"
      die "no working driver $((DRIVER_WAIT_S / 60)) min after $DRIVER_SCRIPT; see $logfile (the next start runs the installer again)"
    fi
    sleep "$POLL_S"
  done
}

install_docker() {
  installed docker-ce "$DOCKER_VERSION" && return
  local repo
  repo="$(mirror)/docker-ce/linux/ubuntu"
  install_key "$repo/gpg" "$DOCKER_KEY_FPR" /etc/apt/keyrings/docker.gpg
  echo "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.gpg] $repo jammy stable" >/etc/apt/sources.list.d/docker.list
  "${APT[@]}" update
  "${APT[@]}" install "docker-ce=$DOCKER_VERSION" "docker-ce-cli=$DOCKER_VERSION" "containerd.io=$CONTAINERD_VERSION"
  apt-mark hold docker-ce docker-ce-cli containerd.io
}

install_toolkit() {
  installed nvidia-container-toolkit "$NVIDIA_TOOLKIT_VERSION" && return
  # Prefer Alibaba's internal mirror (no public traffic); NVIDIA's own repo otherwise.
  # Either way apt checks every package against the pinned NVIDIA key.
  local base pkgs=() pkg
  base="$(mirror)/libnvidia-container"
  curl -fsI "$base/gpgkey" >/dev/null 2>&1 || base=https://nvidia.github.io/libnvidia-container
  install_key "$base/gpgkey" "$NVIDIA_KEY_FPR" /etc/apt/keyrings/nvidia-container-toolkit.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.gpg] $base/stable/deb/amd64 /" >/etc/apt/sources.list.d/nvidia-container-toolkit.list
  "${APT[@]}" update
  for pkg in nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1; do
    pkgs+=("$pkg=$NVIDIA_TOOLKIT_VERSION")
  done
  "${APT[@]}" install "${pkgs[@]}"
  apt-mark hold nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
}

# A baked image (wan-vace:bakedImageId) must already hold all that install_host puts in.
verify_baked() {
  local missing=()
  driver_ready || missing+=("a working NVIDIA driver (nvidia-smi -L fails)")
  command -v docker >/dev/null || missing+=("Docker")
  command -v nvidia-ctk >/dev/null || missing+=("nvidia-container-toolkit")
  grep -qs '"nvidia"' "$DOCKER_DAEMON_JSON" || missing+=("Docker's nvidia runtime in $DOCKER_DAEMON_JSON")
  if ((${#missing[@]} > 0)); then
    local IFS=';'
    die "the baked image (wan-vace:bakedImageId) lacks: ${missing[*]}; re-bake it (vace bake), or remove wan-vace:bakedImageId to install at boot"
  fi
  log "baked image: nothing to install; driver ready: $(nvidia-smi -L | head -n1)"
}

prepare_host() {
  if [[ ${HOST_MODE:-} == baked ]]; then
    verify_baked
    return
  fi
  install_driver
  dpkg_recover
  install_docker
  install_toolkit
}

main() {
  local os
  # shellcheck source=/dev/null
  os=$(. "$OS_RELEASE" && echo "${ID:-}-${VERSION_ID:-}")
  [[ $os == ubuntu-22.04 ]] || die "needs Ubuntu 22.04 (the pinned packages are for jammy); this image is $os"
  mkdir -p "$STATE/caddy"
  # The gateway's access log records client addresses and URLs: root only.
  install -d -m 0700 "$LOG_DIR"
  prepare_host
  # ComfyUI listens on loopback; drop 8188 from anywhere else even if that ever changes.
  iptables -C INPUT -p tcp --dport 8188 ! -i lo -j DROP 2>/dev/null ||
    iptables -I INPUT -p tcp --dport 8188 ! -i lo -j DROP
  # The metadata service hands out the instance role's credentials. Only root (our boot units and
  # Docker) needs it; ComfyUI runs as a non-root user on the host network, so custom nodes that
  # fetch URLs cannot reach it.
  iptables -C OUTPUT -d 100.100.100.200 -m owner ! --uid-owner 0 -j REJECT 2>/dev/null ||
    iptables -I OUTPUT -d 100.100.100.200 -m owner ! --uid-owner 0 -j REJECT
  log "host ready"
}

# Sourced by the tests, which call single functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
