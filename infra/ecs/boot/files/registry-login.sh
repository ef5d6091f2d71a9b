#!/bin/bash
# Logs docker in to the private registry with the credentials boot_secrets.py put on tmpfs.
# DOCKER_CONFIG points at /run/wan-vace/docker, so the login never reaches persistent disk.
set -euo pipefail
# shellcheck source=/dev/null
. "${WAN_VACE_BOOT_ENV:-/etc/wan-vace/boot.env}"
run=${WAN_VACE_RUN_DIR:-/run/wan-vace}

if [[ ! -f $run/registry-password ]]; then
  echo "wan-vace: the secret carries no registry credentials; pulling images anonymously"
  # Credentials dropped from the secret (secret refresh): forget the old login too.
  rm -f "${DOCKER_CONFIG:-$run/docker}/config.json"
  exit 0
fi
if [[ -z ${REGISTRY_SERVER:-} ]]; then
  echo "wan-vace: the secret carries registry credentials but REGISTRY_SERVER is empty (it comes from the host in wan-vace:image, with wan-vace:registryUsername/registryPassword set)" >&2
  exit 1
fi
# The registry or the network may be briefly unreachable at boot: 5 tries, 5+10+20+40 s apart.
attempts=5 delay=${WAN_VACE_LOGIN_DELAY:-5}
for ((try = 1; ; try++)); do
  docker login --username "$(cat "$run/registry-username")" --password-stdin "$REGISTRY_SERVER" <"$run/registry-password" && exit 0
  if ((try == attempts)); then
    echo "wan-vace: docker login to $REGISTRY_SERVER failed $attempts times" >&2
    exit 1
  fi
  echo "wan-vace: docker login failed; retry $try/$((attempts - 1)) in ${delay}s" >&2
  sleep "$delay"
  delay=$((delay * 2))
done
