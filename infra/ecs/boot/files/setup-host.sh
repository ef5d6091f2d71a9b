#!/bin/bash
# Prepares the GPU host: NVIDIA driver, Docker CE, nvidia-container-toolkit, host dirs.
# Runs on every boot and is idempotent, because the driver installer reboots mid-way.
set -euo pipefail
# shellcheck source=/dev/null
. "${WAN_VACE_BOOT_ENV:-/etc/wan-vace/boot.env}"

STATE=/var/lib/wan-vace
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

install_driver() {
  if [[ $DRIVER_MODE == preinstalled ]]; then
    driver_ready || die "driver mode is preinstalled but nvidia-smi fails; use a GPU image or auto-install"
    return
  fi
  if [[ -e $STATE/driver.done ]]; then
    driver_ready || die "the NVIDIA driver was installed but nvidia-smi fails now; see dmesg"
    return
  fi
  local dir=/root/auto_install script=auto_install_v4.0.sh
  if [[ ! -e $STATE/driver.started ]]; then
    log "installing driver $DRIVER_VERSION, CUDA $CUDA_VERSION, cuDNN $CUDNN_VERSION (reboots the instance)"
    mkdir -p "$dir"
    curl -fsSL --retry 10 -o "$dir/$script" "$(mirror)/opsx/ecs/linux/binary/script/$script"
    if [[ -n ${DRIVER_SCRIPT_SHA256:-} ]]; then
      echo "$DRIVER_SCRIPT_SHA256  $dir/$script" | sha256sum -c - || die "$script does not match DRIVER_SCRIPT_SHA256"
    else
      log "$script is not pinned (set driver.scriptSha256): running sha256 $(sha256sum "$dir/$script" | cut -c1-64)"
    fi
    touch "$STATE/driver.started"
    (cd "$dir" && bash "$script" "$DRIVER_VERSION" "$CUDA_VERSION" "$CUDNN_VERSION" FALSE FALSE) ||
      log "$script exited with $?"
  fi
  # The installer may still be running, or about to reboot: wait for a working driver.
  local deadline=$((SECONDS + 5400))
  until driver_ready && ! pgrep -f "$script" >/dev/null; do
    grep -qs 'INSTALL FAIL' "$dir/auto_install.log" && die "driver install failed; see $dir/auto_install.log"
    ((SECONDS < deadline)) || die "no working driver after 90 min; see $dir/auto_install.log"
    sleep 20
  done
  touch "$STATE/driver.done"
  log "driver ready: $(nvidia-smi -L | head -n1)"
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

main() {
  local os
  # shellcheck source=/dev/null
  os=$(. /etc/os-release && echo "${ID:-}-${VERSION_ID:-}")
  [[ $os == ubuntu-22.04 ]] || die "needs Ubuntu 22.04 (the pinned packages are for jammy); this image is $os"
  mkdir -p "$STATE" /var/lib/wan-vace/caddy /var/log/wan-vace
  install_driver
  install_docker
  install_toolkit
  # ComfyUI listens on loopback; drop 8188 from anywhere else even if that ever changes.
  iptables -C INPUT -p tcp --dport 8188 ! -i lo -j DROP 2>/dev/null ||
    iptables -I INPUT -p tcp --dport 8188 ! -i lo -j DROP
  log "host ready"
}

main "$@"
