#!/bin/sh
# Makes an image present for its unit: pulls it unless a digest-pinned reference is already here
# (a baked host image, a restart). A digest names exact bytes, so there is nothing newer to fetch
# and no registry call to make. A changed digest is pulled, and docker fetches only the layers the
# host lacks. A tag is always pulled: it may have moved.
# Each decision goes to images.log before any pull, for the boot timeline's `images` phase.
set -eu
STATUS=${WAN_VACE_STATUS_DIR:-/var/lib/wan-vace/status}
record() { mkdir -p "$STATUS" && echo "$1 $2" >>"$STATUS/images.log"; }
case $1 in
*@sha256:*)
  if docker image inspect "$1" >/dev/null 2>&1; then
    record present "$1"
    echo "wan-vace: $1 is present; not pulled"
    exit 0
  fi
  ;;
esac
record pulled "$1"
exec docker pull "$1"
