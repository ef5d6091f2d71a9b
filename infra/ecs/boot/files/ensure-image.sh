#!/bin/sh
# Makes an image present for its unit: pulls it unless a digest-pinned reference is already here
# (a baked host image, a restart). A digest names exact bytes, so there is nothing newer to fetch
# and no registry call to make. A changed digest is pulled, and docker fetches only the layers the
# host lacks. A tag is always pulled: it may have moved.
set -eu
case $1 in
*@sha256:*)
  if docker image inspect "$1" >/dev/null 2>&1; then
    echo "wan-vace: $1 is present; not pulled"
    exit 0
  fi
  ;;
esac
exec docker pull "$1"
