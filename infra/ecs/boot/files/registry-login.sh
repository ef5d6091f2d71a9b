#!/bin/bash
# Logs docker in to the private registry with the credentials boot_secrets.py put on tmpfs.
# DOCKER_CONFIG points at /run/wan-vace/docker, so the login never reaches persistent disk.
set -euo pipefail
# shellcheck source=/dev/null
. "${WAN_VACE_BOOT_ENV:-/etc/wan-vace/boot.env}"
run=${WAN_VACE_RUN_DIR:-/run/wan-vace}

if [[ ! -f $run/registry-password ]]; then
  echo "wan-vace: the secret carries no registry credentials; pulling images anonymously"
  exit 0
fi
if [[ -z ${REGISTRY_SERVER:-} ]]; then
  echo "wan-vace: the secret carries registry credentials but REGISTRY_SERVER is empty; set registryServer" >&2
  exit 1
fi
docker login --username "$(cat "$run/registry-username")" --password-stdin "$REGISTRY_SERVER" <"$run/registry-password"
