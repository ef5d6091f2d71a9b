#!/bin/bash
# `vace bake`'s builder (docs/cold-start.md): runs the deploy's own boot steps (setup-host.sh,
# boot_secrets.py, registry-login.sh, ensure-image.sh), leaves the units installed but not
# enabled, removes what must not be in an image, prints ONE verdict line to the serial console
# and the journal, and stops the instance, on failure too: StopInstance with StopCharging (an
# in-OS poweroff would keep the GPU billed), or a poweroff when the API refuses.
# ops/bake.ts reads the last WAN_VACE_BAKE_RESULT line with GetInstanceConsoleOutput.
set -uo pipefail
BOOT_ENV=${WAN_VACE_BOOT_ENV:-/etc/wan-vace/boot.env}
set -a
# shellcheck source=/dev/null
. "$BOOT_ENV"
set +a

# WAN_VACE_* overrides exist for the tests only.
LIB=${WAN_VACE_LIB:-/usr/local/lib/wan-vace}
RUN=${WAN_VACE_RUN_DIR:-/run/wan-vace}
STATE=${WAN_VACE_STATE_DIR:-/var/lib/wan-vace}
CONSOLE=${WAN_VACE_CONSOLE:-/dev/ttyS0}
MACHINE_ID=${WAN_VACE_MACHINE_ID:-/etc/machine-id}
UNIT=${WAN_VACE_BAKE_UNIT:-/etc/systemd/system/wan-vace-bake.service}
export DOCKER_CONFIG=$RUN/docker
ERROR=""

log() { echo "wan-vace-bake: $*"; }

# Runs one step, its output to the journal; on failure sets ERROR to the step's name and its last
# output line (our scripts print no secret) and returns non-zero.
step() {
  local name=$1 out status
  shift
  log "$name"
  out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  ((status == 0)) || ERROR="$name failed (exit $status): $(tail -n 1 "$out" | cut -c1-300)"
  rm -f "$out"
  return "$status"
}

# docker's repo@sha256 record of a pulled reference: the digest even when it was pinned by tag.
repo_digest() {
  local repo=${1%%@*}
  [[ ${repo##*/} == *:* ]] && repo=${repo%:*}
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" | grep -m1 -F "$repo@sha256:"
}

# The verdict's fields, all read from the host itself (not from the config).
versions() {
  COMFYUI_DIGEST=$(repo_digest "$COMFYUI_IMAGE") || return
  GATEWAY_DIGEST=$(repo_digest "$GATEWAY_IMAGE") || return
  DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1) || return
  DOCKER=$(docker version --format '{{.Server.Version}}') || return
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's field, not a shell expansion.
  TOOLKIT=$(dpkg-query -W -f='${Version}' nvidia-container-toolkit) || return
  KERNEL=$(uname -r)
  [[ -n $DRIVER && -n $DOCKER && -n $TOOLKIT && -n $KERNEL ]]
}

bake() {
  step "host setup (setup-host.sh)" "$LIB/setup-host.sh" &&
    step "secret fetch (boot_secrets.py)" python3 "$LIB/boot_secrets.py" &&
    step "registry login (registry-login.sh)" "$LIB/registry-login.sh" &&
    step "pull $COMFYUI_IMAGE" "$LIB/ensure-image.sh" "$COMFYUI_IMAGE" &&
    step "pull $GATEWAY_IMAGE" "$LIB/ensure-image.sh" "$GATEWAY_IMAGE" || return
  versions || ERROR="version check failed: nvidia-smi, docker, dpkg-query or an image's RepoDigests gave no answer"
}

# Nothing of this host's identity or secrets may stay in the image: the secrets and the docker
# login (tmpfs), boot.env, the state, cloud-init's record of this instance, the machine id. The
# units stay installed but disabled: a baked deploy's user-data writes its boot.env, enables them.
clean() {
  local failed=()
  rm -rf "$RUN" || failed+=("$RUN")
  rm -f "$BOOT_ENV" || failed+=("$BOOT_ENV")
  rm -rf "$STATE" || failed+=("$STATE")
  systemctl disable wan-vace-bake.service || failed+=("systemctl disable wan-vace-bake.service")
  rm -f "$UNIT" "$LIB/bake.sh" || failed+=("$UNIT")
  cloud-init clean --logs || failed+=("cloud-init clean --logs")
  : >"$MACHINE_ID" || failed+=("$MACHINE_ID")
  ((${#failed[@]} == 0)) || ERROR=${ERROR:-"cleanup failed: ${failed[*]}"}
}

verdict() {
  python3 -c 'import json, sys; a = sys.argv[1:]; k = ("comfyuiImage", "gatewayImage", "driver", "docker", "toolkit", "kernel"); d = {"ok": True, **dict(zip(k, a[1:]))} if a[0] == "" else {"ok": False, "error": a[0]}; print("WAN_VACE_BAKE_RESULT " + json.dumps(d, separators=(",", ":")))' \
    "$ERROR" "${COMFYUI_DIGEST:-}" "${GATEWAY_DIGEST:-}" "${DRIVER:-}" "${DOCKER:-}" "${TOOLKIT:-}" "${KERNEL:-}"
}

# The instance's role may stop this instance (infra/ecs/iam.ts); aliyun_rpc.py says what the cloud
# reports. Without it (API down, role gone) the OS powers off: stopped, but billed until released.
stop() {
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import aliyun_rpc as r; r.stop_instance_charging(r.Metadata(), sys.argv[2])' "$LIB" "$REGION" && return
  log "StopInstance failed: powering off from the OS (billed until vace bake destroys the builder or ECS releases it)"
  systemctl poweroff
}

bake
clean
line=$(verdict)
echo "$line"
echo "$line" >"$CONSOLE" || log "could not write the verdict to $CONSOLE"
stop
